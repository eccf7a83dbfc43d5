package dev.baton.core.machine;

import dev.baton.core.command.Query;
import dev.baton.core.command.View;
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
import dev.baton.core.session.SessionState;
import dev.baton.core.session.Slot;
import dev.baton.core.session.Waiter;
import org.organicdesign.fp.collections.UnmodMap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Answers lookups from one immutable State. */
final class Queries {
    private Queries() {}

    @SuppressWarnings("unchecked")
    static <R> R answer(State s, Query<R> q) {
        return (R) answerRaw(s, q);
    }

    private static Object answerRaw(State s, Query<?> q) {
        // a switch expression without default: a query kind with no answer does not compile
        return switch (q.kind()) {
            case GET_POOL -> {
                PoolState pool = s.pools().get(((Query.GetPool) q).key());
                yield pool == null ? null : pool(pool);
            }
            case GET_SESSION -> {
                SessionState x = s.sessions().get(((Query.GetSession) q).session());
                yield x == null ? null : session(x);
            }
            case GET_SESSION_TOKEN -> {
                SessionState x = s.sessions().get(((Query.GetSessionToken) q).session());
                yield x == null ? null : x.token() == null ? "" : x.token();
            }
            case GET_LOCK -> {
                LockState l = s.locks().get(((Query.GetLock) q).name());
                yield l == null ? null : lock(l);
            }
            case LIST_LOCKS -> listLocks(s, (Query.ListLocks) q);
            case GET_GROUP -> {
                GroupState grp = s.groups().get(((Query.GetGroup) q).group());
                yield grp == null ? null : group(grp);
            }
            case GET_EVENT -> {
                EventState e = s.events().get(((Query.GetEvent) q).name());
                yield e == null ? null : new View.Event(e.name(), e.owner(), e.since());
            }
            case LIST_EVENTS -> {
                List<View.Event> out = new ArrayList<>();
                for (EventState e : s.events().values()) {
                    out.add(new View.Event(e.name(), e.owner(), e.since()));
                }
                out.sort(Comparator.comparing(View.Event::name));
                yield out;
            }
            case GET_QUEUE -> {
                QueueState qs = s.queues().get(((Query.GetQueue) q).queue());
                yield qs == null ? null : queue(qs);
            }
            case LIST_SESSION_LEASES -> {
                List<View.SessionLease> out = new ArrayList<>(s.sessions().size());
                for (SessionState x : s.sessions().values()) {
                    out.add(new View.SessionLease(x.id(), x.ttlMs()));
                }
                out.sort(Comparator.comparingLong(View.SessionLease::id));
                yield out;
            }
            case LIST_POOLS -> listPools(s, (Query.ListPools) q);
            case LIST_SESSIONS -> listSessions(s, (Query.ListSessions) q);
            case LIST_GROUPS -> {
                List<View.Group> out = new ArrayList<>(s.groups().size());
                for (GroupState g : s.groups().values()) {
                    out.add(group(g));
                }
                out.sort(Comparator.comparing(View.Group::name));
                yield out;
            }
            case LIST_QUEUES -> listQueues(s);
            case GET_POOL_TOTALS -> poolTotals(s);
            case NEXT_DEADLINE -> s.deadlines().size() == 0 ? Long.MAX_VALUE : s.deadlines().firstKey().at();
            case GET_SUMMARY -> new View.Summary(s.lastIndex(), s.lastTime(), s.lastFence(), s.sessions().size(),
                    s.pools().size(), s.locks().size(), s.groups().size(), s.events().size(), s.queues().size(),
                    s.deadlines().size());
            case GET_STATE_BYTES -> new View.StateBytes(s.stateBytes(), s.limits().maxStateBytes());
            case GET_LIMITS -> s.limits();
            case LIST_NODES -> {
                List<View.Node> out = new ArrayList<>(s.nodes().size());
                for (NodeState n : s.nodes().values()) {
                    out.add(new View.Node(n.raftEndpoint(), n.nodeId(), n.apiEndpoint(), n.since()));
                }
                out.sort(Comparator.comparing(View.Node::raftEndpoint));
                yield out;
            }
            case DUMP_JSON -> JsonDump.of(s);
        };
    }

    private static View.SessionList listSessions(State s, Query.ListSessions l) {
        List<SessionState> all = new ArrayList<>(s.sessions().size());
        for (SessionState x : s.sessions().values()) {
            all.add(x);
        }
        all.sort(Comparator.comparingLong(SessionState::id));
        List<View.Session> out = new ArrayList<>(Math.min(l.limit(), all.size()));
        for (int i = 0; i < all.size() && i < l.limit(); i++) {
            out.add(session(all.get(i)));
        }
        return new View.SessionList(all.size(), out);
    }

    private static List<View.QueueBrief> listQueues(State s) {
        List<View.QueueBrief> out = new ArrayList<>(s.queues().size());
        for (QueueState qs : s.queues().values()) {
            int claimed = 0;
            int gated = 0;
            for (ItemState it : qs.items().values()) {
                if (it.claimedBy() != 0) {
                    claimed++;
                } else if (it.pending() > 0) {
                    gated++;
                }
            }
            out.add(new View.QueueBrief(qs.name(), qs.items().size(), qs.ready().size(), claimed, gated));
        }
        out.sort(Comparator.comparing(View.QueueBrief::name));
        return out;
    }

    private static View.PoolList listPools(State s, Query.ListPools l) {
        Comparator<View.PoolBrief> byKey = Comparator.comparing(View.PoolBrief::key);
        Comparator<View.PoolBrief> order = switch (l.order()) {
            case WAITERS -> Comparator.comparingInt(View.PoolBrief::waiters).reversed()
                    .thenComparing(Comparator.comparingInt(View.PoolBrief::holders).reversed()).thenComparing(byKey);
            case HOLDERS -> Comparator.comparingInt(View.PoolBrief::holders).reversed()
                    .thenComparing(Comparator.comparingInt(View.PoolBrief::waiters).reversed()).thenComparing(byKey);
            case KEY -> byKey;
        };
        // Keep only the best `limit` while scanning: a bounded heap whose head is the worst kept.
        java.util.PriorityQueue<View.PoolBrief> best = new java.util.PriorityQueue<>(order.reversed());
        for (PoolState p : s.pools().values()) {
            if (l.limit() == 0) {
                break;
            }
            View.PoolBrief b = new View.PoolBrief(p.key(), p.processing(), p.waiting());
            if (best.size() < l.limit()) {
                best.add(b);
            } else if (order.compare(b, best.peek()) < 0) {
                best.poll();
                best.add(b);
            }
        }
        List<View.PoolBrief> out = new ArrayList<>(best);
        out.sort(order);
        return new View.PoolList(s.pools().size(), out);
    }

    private static View.Pool pool(PoolState p) {
        List<View.PoolHolder> holders = new ArrayList<>(p.processing());
        for (Holder h : p.holders().values()) {
            holders.add(new View.PoolHolder(h.session(), h.fence(), h.since()));
        }
        List<View.PoolWaiter> waiters = new ArrayList<>(p.waiting());
        for (Waiter w : p.waitMe().values()) {
            waiters.add(new View.PoolWaiter(w.session(), w.requestId(), w.since(), w.deadline(), false));
        }
        for (Waiter w : p.waitAny().values()) {
            waiters.add(new View.PoolWaiter(w.session(), w.requestId(), w.since(), w.deadline(), true));
        }
        return new View.Pool(p.key(), p.processing(), p.waiting(), holders, waiters);
    }

    private static View.Session session(SessionState x) {
        List<View.PoolSlot> slots = new ArrayList<>(x.slots().length);
        for (Slot sl : x.slots()) {
            slots.add(new View.PoolSlot(sl.key(), sl.state().name(), sl.id(), sl.requestId(), sl.since()));
        }
        Map<String, Long> held = new LinkedHashMap<>();
        for (UnmodMap.UnEntry<String, Long> e : x.locksHeld()) {
            held.put(e.getKey(), e.getValue());
        }
        List<String> waits = new ArrayList<>();
        x.lockWaits().keySet().forEach(waits::add);
        List<String> targets = new ArrayList<>();
        for (TargetKey k : x.dispatch()) {
            targets.add(k.group() + "/" + k.target());
        }
        List<String> events = new ArrayList<>();
        x.events().forEach(events::add);
        List<String> claimed = new ArrayList<>();
        for (ItemKey k : x.claimed()) {
            claimed.add(k.queue() + "/" + k.item());
        }
        return new View.Session(x.id(), x.token(), x.ttlMs(), x.openedAt(), slots, held, waits, targets, events, claimed);
    }

    private static View.LockList listLocks(State s, Query.ListLocks l) {
        List<LockState> all = new ArrayList<>(s.locks().size());
        for (LockState x : s.locks().values()) {
            all.add(x);
        }
        all.sort(Comparator.comparingInt((LockState x) -> x.waiters().size()).reversed()
                .thenComparing(LockState::name));
        List<View.Lock> out = new ArrayList<>(Math.min(l.limit(), all.size()));
        for (int i = 0; i < all.size() && i < l.limit(); i++) {
            out.add(lock(all.get(i)));
        }
        return new View.LockList(all.size(), out);
    }

    private static View.Lock lock(LockState l) {
        List<View.LockWaiter> ws = new ArrayList<>(l.waiters().size());
        for (Waiter w : l.waiters().values()) {
            ws.add(new View.LockWaiter(w.session(), w.requestId(), w.since(), w.deadline()));
        }
        return new View.Lock(l.name(), l.holder(), l.fence(), l.since(), ws);
    }

    private static View.Group group(GroupState g) {
        List<dev.baton.core.command.TargetView> ts = new ArrayList<>(g.targets().size());
        for (TargetState t : g.targets().values()) {
            ts.add(t.view(g.name()));
        }
        return new View.Group(g.name(), g.head(), g.settings(), ts);
    }

    private static View.Queue queue(QueueState q) {
        List<View.Item> items = new ArrayList<>(q.items().size());
        for (ItemState it : q.items().values()) {
            items.add(new View.Item(it.id(), it.seq(), it.payload(), Arrays.asList(it.prerequisites()), it.pending(),
                    it.claimedBy(), it.fence(), it.attempts(), it.enqueuedAt()));
        }
        items.sort(Comparator.comparingLong(View.Item::seq));
        return new View.Queue(q.name(), q.ready().size(), items);
    }

    private static View.PoolTotals poolTotals(State s) {
        PoolCounters c = s.poolCounters();
        return new View.PoolTotals(s.pools().size(), s.poolHolders(), s.poolWaiters(), c.acquired(), c.released(), c.done(),
                c.timeouts(), c.queueFull(), c.lockHeld(), c.waitForResponse(), c.releaseMismatch(), c.holdMs(),
                c.waitMeMs(), c.waitAnyMs(), c.timeoutWaitMs(), c.doneWaitMs(), c.gainedMs());
    }
}
