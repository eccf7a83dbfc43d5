package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.ClaimedItem;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.command.TargetView;
import dev.baton.core.dispatch.GroupState;
import dev.baton.core.session.TargetKey;
import dev.baton.core.dispatch.TargetState;
import dev.baton.core.event.EventState;
import dev.baton.core.lock.LockState;
import dev.baton.core.node.NodeState;
import dev.baton.core.pool.Holder;
import dev.baton.core.pool.PoolState;
import dev.baton.core.session.ItemKey;
import dev.baton.core.queue.ItemState;
import dev.baton.core.queue.QueueState;
import dev.baton.core.session.RecentResults;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.Slot;
import dev.baton.core.session.Waiter;
import dev.baton.core.util.JsonWriter;
import org.organicdesign.fp.collections.PersistentTreeMap;
import org.organicdesign.fp.collections.UnmodMap;

import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

/**
 * {@link dev.baton.core.command.Query.DumpJson}: the whole state of one published {@link State} as
 * JSON, for the admin API and for comparing replicas or restarts as text.
 *
 * <p>Deterministic: the hash maps of the state are iterated in hash order, which is deterministic
 * too but meaningless to a reader and would change if the map implementation did, so every hash
 * map is sorted here (sessions by id, everything else by name; queue items in FIFO order). The
 * tree maps inside the records are already sorted, and a session's pool slots keep their stack
 * order, which matters. Only primary data is written, as in snapshots; the derived indexes (wait
 * deadlines, client tokens, lag and ready indexes, event references) are left out, except the
 * counts a reader wants (waits, ready items). Payloads are base64.
 */
final class JsonDump {
    private JsonDump() {}

    static String of(State s) {
        JsonWriter w = new JsonWriter();
        w.beginObject();
        summary(w, s);
        w.name("limits");
        limits(w, s.limits());
        poolTotals(w, s);
        sessions(w, s);
        pools(w, s);
        locks(w, s);
        groups(w, s);
        events(w, s);
        queues(w, s);
        nodes(w, s);
        w.endObject();
        return w.toString();
    }

    private static <T> List<T> sorted(Iterable<T> values, Comparator<T> order) {
        List<T> out = new ArrayList<>();
        values.forEach(out::add);
        out.sort(order);
        return out;
    }

    private static <T> List<T> byName(Iterable<T> values, Function<T, String> name) {
        return sorted(values, Comparator.comparing(name));
    }

    private static void summary(JsonWriter w, State s) {
        w.name("summary").beginObject()
                .field("lastIndex", s.lastIndex())
                .field("lastTime", s.lastTime())
                .field("lastFence", s.lastFence())
                .field("nextSessionId", s.nextSessionId())
                .field("lastSeq", s.lastSeq())
                .field("sessions", s.sessions().size())
                .field("poolKeys", s.pools().size())
                .field("locks", s.locks().size())
                .field("groups", s.groups().size())
                .field("events", s.events().size())
                .field("queues", s.queues().size())
                .field("waits", s.deadlines().size())
                .field("nodes", s.nodes().size())
                .endObject();
    }

    private static void limits(JsonWriter w, Limits l) {
        w.beginObject()
                .field("maxSessions", l.maxSessions())
                .field("minSessionTtlMs", l.minSessionTtlMs())
                .field("maxSessionTtlMs", l.maxSessionTtlMs())
                .field("maxNameBytes", l.maxNameBytes())
                .field("maxPoolKeys", l.maxPoolKeys())
                .field("maxWaitersPerKey", l.maxWaitersPerKey())
                .field("maxSlotsPerSession", l.maxSlotsPerSession())
                .field("maxLocks", l.maxLocks())
                .field("maxWaitMs", l.maxWaitMs())
                .field("maxDispatchGroups", l.maxDispatchGroups())
                .field("maxTargetsPerGroup", l.maxTargetsPerGroup())
                .field("maxEvents", l.maxEvents())
                .field("maxQueues", l.maxQueues())
                .field("maxItemsPerQueue", l.maxItemsPerQueue())
                .field("maxPayloadBytes", l.maxPayloadBytes())
                .field("maxPrerequisites", l.maxPrerequisites())
                .field("maxClaimBatch", l.maxClaimBatch())
                .field("maxRememberedRequests", l.maxRememberedRequests())
                .field("maxStateBytes", l.maxStateBytes())
                .endObject();
    }

    private static void poolTotals(JsonWriter w, State s) {
        PoolCounters c = s.poolCounters();
        w.name("poolTotals").beginObject()
                .field("keys", s.pools().size())
                .field("processing", s.poolHolders())
                .field("waiting", s.poolWaiters())
                .field("acquired", c.acquired())
                .field("released", c.released())
                .field("done", c.done())
                .field("timeouts", c.timeouts())
                .field("queueFull", c.queueFull())
                .field("lockHeld", c.lockHeld())
                .field("waitForResponse", c.waitForResponse())
                .field("releaseMismatch", c.releaseMismatch())
                .field("holdMs", c.holdMs())
                .field("waitMeMs", c.waitMeMs())
                .field("waitAnyMs", c.waitAnyMs())
                .field("timeoutWaitMs", c.timeoutWaitMs())
                .field("doneWaitMs", c.doneWaitMs())
                .field("gainedMs", c.gainedMs())
                .endObject();
    }

    // ---- sessions ------------------------------------------------------------------------------

    private static void sessions(JsonWriter w, State s) {
        w.name("sessions").beginArray();
        for (SessionState x : sorted(s.sessions().values(), Comparator.comparingLong(SessionState::id))) {
            session(w, x);
        }
        w.endArray();
    }

    private static void session(JsonWriter w, SessionState x) {
        w.beginObject()
                .field("id", x.id())
                .field("token", x.token())
                .field("ttlMs", x.ttlMs())
                .field("openedAt", x.openedAt());
        w.name("slots").beginArray(); // oldest first: the order is the stack poolcounterd's RELEASE pops
        for (Slot sl : x.slots()) {
            w.beginObject()
                    .field("key", sl.key())
                    .field("state", sl.state().name())
                    .field("id", sl.id())
                    .field("requestId", sl.requestId())
                    .field("since", sl.since())
                    .endObject();
        }
        w.endArray();
        w.name("locksHeld").beginArray();
        for (UnmodMap.UnEntry<String, Long> e : x.locksHeld()) {
            w.beginObject().field("name", e.getKey()).field("fence", e.getValue()).endObject();
        }
        w.endArray();
        w.name("lockWaits").beginArray();
        for (UnmodMap.UnEntry<String, Long> e : x.lockWaits()) {
            w.beginObject().field("name", e.getKey()).field("waitId", e.getValue()).endObject();
        }
        w.endArray();
        w.name("dispatchTargets").beginArray();
        for (TargetKey k : x.dispatch()) {
            w.beginObject().field("group", k.group()).field("target", k.target()).endObject();
        }
        w.endArray();
        w.name("events").beginArray();
        for (String e : x.events()) {
            w.value(e);
        }
        w.endArray();
        w.name("claimedItems").beginArray();
        for (ItemKey k : x.claimed()) {
            w.beginObject().field("queue", k.queue()).field("item", k.item()).endObject();
        }
        w.endArray();
        recent(w, x.recent());
        w.endObject();
    }

    /** The idempotency window, by request id (the chunk layout is an implementation detail). */
    private static void recent(JsonWriter w, RecentResults r) {
        List<long[]> at = new ArrayList<>(r.size()); // {request id, chunk, position}
        for (int k = 0; k < r.chunkCount(); k++) {
            long[] ids = r.chunk(k).ids();
            for (int i = 0; i < ids.length; i++) {
                at.add(new long[] {ids[i], k, i});
            }
        }
        at.sort(Comparator.comparingLong(a -> a[0]));
        w.name("recentRequests").beginObject()
                .field("floor", r.floor())
                .field("count", r.size());
        w.name("results").beginArray();
        for (long[] a : at) {
            w.beginObject().field("requestId", a[0]);
            w.name("result");
            result(w, r.chunk((int) a[1]).results()[(int) a[2]]);
            w.endObject();
        }
        w.endArray();
        w.endObject();
    }

    private static void result(JsonWriter w, Result res) {
        w.beginObject().field("type", res.getClass().getSimpleName());
        // a switch expression without default: a result kind with no case here does not compile
        JsonWriter unused = switch (res.kind()) {
            case REJECTED -> {
                Result.Rejected r = (Result.Rejected) res;
                yield w.field("code", r.code().name()).field("message", r.message());
            }
            case SESSION_OPENED -> {
                Result.SessionOpened r = (Result.SessionOpened) res;
                yield w.field("session", r.session()).field("ttlMs", r.ttlMs()).field("existing", r.existing())
                        .field("nextRequestId", r.nextRequestId());
            }
            case SESSION_OPENED_THEN -> {
                Result.SessionOpenedThen r = (Result.SessionOpenedThen) res;
                w.name("opened");
                result(w, r.opened());
                w.name("first");
                result(w, r.first());
                yield w;
            }
            case SESSION_CLOSED -> w.field("session", ((Result.SessionClosed) res).session());
            case SESSIONS_EXPIRED -> {
                w.name("sessions").beginArray();
                for (long id : ((Result.SessionsExpired) res).sessions()) {
                    w.value(id);
                }
                yield w.endArray();
            }
            case WAITS_EXPIRED -> w.field("count", ((Result.WaitsExpired) res).count());
            case LIMITS_SET -> {
                w.name("limits");
                limits(w, ((Result.LimitsSet) res).limits());
                yield w;
            }
            case POOL_REPLY -> {
                Result.PoolReply r = (Result.PoolReply) res;
                yield w.field("status", r.status().name()).field("key", r.key()).field("fence", r.fence());
            }
            case LOCK_REPLY -> {
                Result.LockReply r = (Result.LockReply) res;
                yield w.field("status", r.status().name()).field("name", r.name()).field("fence", r.fence());
            }
            case DISPATCH_REPLY -> {
                Result.DispatchReply r = (Result.DispatchReply) res;
                w.field("status", r.status().name()).field("value", r.value());
                w.name("target");
                if (r.target() == null) {
                    w.nullValue();
                } else {
                    TargetView t = r.target();
                    w.beginObject()
                            .field("group", t.group())
                            .field("id", t.id())
                            .field("name", t.name())
                            .field("seen", t.seen())
                            .field("touched", t.touched())
                            .field("disabled", t.disabled())
                            .field("holder", t.holder())
                            .field("fence", t.fence())
                            .endObject();
                }
                yield w;
            }
            case EVENT_REPLY -> {
                Result.EventReply r = (Result.EventReply) res;
                yield w.field("status", r.status().name()).field("name", r.name());
            }
            case QUEUE_REPLY -> {
                Result.QueueReply r = (Result.QueueReply) res;
                w.field("status", r.status().name());
                w.name("items").beginArray();
                for (ClaimedItem i : r.items()) {
                    w.beginObject()
                            .field("queue", i.queue())
                            .field("item", i.item())
                            .field("payload", base64(i.payload()))
                            .field("fence", i.fence())
                            .field("attempts", i.attempts())
                            .endObject();
                }
                yield w.endArray();
            }
            case NODE_ANNOUNCED -> {
                Result.NodeAnnounced r = (Result.NodeAnnounced) res;
                yield w.field("raftEndpoint", r.raftEndpoint()).field("removed", r.removed());
            }
        };
        w.endObject();
    }

    // ---- the primitives ------------------------------------------------------------------------

    private static void pools(JsonWriter w, State s) {
        w.name("pools").beginArray();
        for (PoolState p : byName(s.pools().values(), PoolState::key)) {
            w.beginObject()
                    .field("key", p.key())
                    .field("processing", p.processing())
                    .field("waiting", p.waiting());
            w.name("holders").beginArray(); // in grant (fence) order
            for (Holder h : p.holders().values()) {
                w.beginObject()
                        .field("session", h.session())
                        .field("fence", h.fence())
                        .field("since", h.since())
                        .field("requestId", h.requestId())
                        .endObject();
            }
            w.endArray();
            w.name("waitMe");
            waiters(w, p.waitMe());
            w.name("waitAny");
            waiters(w, p.waitAny());
            w.endObject();
        }
        w.endArray();
    }

    /** A FIFO of waiters, oldest first. */
    private static void waiters(JsonWriter w, PersistentTreeMap<Long, Waiter> ws) {
        w.beginArray();
        for (Waiter x : ws.values()) {
            w.beginObject()
                    .field("session", x.session())
                    .field("requestId", x.requestId())
                    .field("waitId", x.waitId())
                    .field("since", x.since())
                    .field("deadline", x.deadline())
                    .endObject();
        }
        w.endArray();
    }

    private static void locks(JsonWriter w, State s) {
        w.name("locks").beginArray();
        for (LockState l : byName(s.locks().values(), LockState::name)) {
            w.beginObject()
                    .field("name", l.name())
                    .field("holder", l.holder())
                    .field("fence", l.fence())
                    .field("since", l.since())
                    .field("requestId", l.requestId());
            w.name("waiters");
            waiters(w, l.waiters());
            w.endObject();
        }
        w.endArray();
    }

    private static void groups(JsonWriter w, State s) {
        w.name("groups").beginArray();
        for (GroupState g : byName(s.groups().values(), GroupState::name)) {
            DispatchSettings st = g.settings();
            w.beginObject()
                    .field("name", g.name())
                    .field("head", g.head());
            w.name("settings").beginObject()
                    .field("intervalMs", st.intervalMs())
                    .field("batchSize", st.batchSize())
                    .field("randomness", st.randomness())
                    .endObject();
            w.name("targets").beginArray(); // a tree map: by target id
            for (TargetState t : g.targets().values()) {
                w.beginObject()
                        .field("id", t.id())
                        .field("name", t.name())
                        .field("seen", t.seen())
                        .field("touched", t.touched())
                        .field("disabled", t.disabled())
                        .field("holder", t.holder())
                        .field("fence", t.fence())
                        .endObject();
            }
            w.endArray();
            w.endObject();
        }
        w.endArray();
    }

    private static void events(JsonWriter w, State s) {
        w.name("events").beginArray();
        for (EventState e : byName(s.events().values(), EventState::name)) {
            w.beginObject()
                    .field("name", e.name())
                    .field("owner", e.owner())
                    .field("since", e.since())
                    .endObject();
        }
        w.endArray();
    }

    private static void queues(JsonWriter w, State s) {
        w.name("queues").beginArray();
        for (QueueState q : byName(s.queues().values(), QueueState::name)) {
            w.beginObject()
                    .field("name", q.name())
                    .field("ready", q.ready().size());
            w.name("items").beginArray();
            // FIFO order (seq is unique within a queue; the id only breaks a tie that cannot happen)
            for (ItemState it : sorted(q.items().values(),
                    Comparator.comparingLong(ItemState::seq).thenComparing(ItemState::id))) {
                w.beginObject()
                        .field("id", it.id())
                        .field("seq", it.seq())
                        .field("payload", base64(it.payload()));
                w.name("prerequisites").beginArray();
                for (String p : it.prerequisites()) {
                    w.value(p);
                }
                w.endArray();
                w.field("pendingPrerequisites", it.pending())
                        .field("claimedBy", it.claimedBy())
                        .field("fence", it.fence())
                        .field("attempts", it.attempts())
                        .field("enqueuedAt", it.enqueuedAt())
                        .endObject();
            }
            w.endArray();
            w.endObject();
        }
        w.endArray();
    }

    private static void nodes(JsonWriter w, State s) {
        w.name("nodes").beginArray();
        for (NodeState n : byName(s.nodes().values(), NodeState::raftEndpoint)) {
            w.beginObject()
                    .field("raftEndpoint", n.raftEndpoint())
                    .field("nodeId", n.nodeId())
                    .field("apiEndpoint", n.apiEndpoint())
                    .field("since", n.since())
                    .endObject();
        }
        w.endArray();
    }

    private static String base64(Bytes b) {
        return Base64.getEncoder().encodeToString(b.unsafeArray());
    }
}
