package dev.baton.core.queue;

import dev.baton.core.session.ItemKey;
import dev.baton.core.command.ClaimedItem;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueDone;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Command.QueueRetry;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.QueueStatus;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import dev.baton.core.session.Participant;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.SessionTable;
import dev.baton.core.event.Events;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import org.organicdesign.fp.collections.PersistentTreeSet;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Gated work queues (ManifoldCF's job queue with prerequisite events, docs/design.md): items
 * are claimed oldest first, each by one session, and never while any of their prerequisite events
 * is pending. Retry puts an item at the back; a dead claimer's items go back to their places.
 *
 * <p>Gating is incremental: each item counts its pending prerequisites, and an index from event
 * name to the items naming it updates those counts when an event begins or completes. So a claim
 * reads only claimable items, however many are gated.
 *
 * <p>One instance per state machine; while a batch is applied it owns the queues and the index from event name to the items it gates (see
 * docs/core.md, "Inside the core").
 */
public final class Queues implements Participant, Events.Gate {
    private final SessionTable sessions;
    private MutHashMap<String, QueueState> queues;
    /** Event name → the items that name it as a prerequisite. */
    private MutHashMap<String, PersistentTreeSet<ItemKey>> eventRefs;

    public Queues(SessionTable sessions) {
        this.sessions = sessions;
    }

    /** Starts a batch from the published state's queues and the event index. */
    public void load(QueueData d) {
        queues = d.queues().mutable();
        eventRefs = d.eventRefs().mutable();
    }

    /** The queues as they are now, for the next published state (O(1)). */
    public QueueData freeze() {
        return new QueueData(queues.immutable(), eventRefs.immutable());
    }

    @Override
    public String name() {
        return "queues";
    }

    /** Adds or replaces an item; its prerequisites that are pending in {@code events} hold it back. */
    public Result enqueue(Tx tx, QueueEnqueue c, Events events) {
        Result.Rejected bad = tx.checkName("queue name", c.queue());
        if (bad == null) {
            bad = tx.checkName("item id", c.item());
        }
        if (bad != null) {
            return bad;
        }
        if (c.payload() == null || c.payload().size() > tx.limits().maxPayloadBytes()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT,
                    "payload must be present and at most " + tx.limits().maxPayloadBytes() + " bytes");
        }
        List<String> reqs = c.prerequisites() == null ? List.of() : c.prerequisites();
        TreeSet<String> prereqs = new TreeSet<>();
        for (String p : reqs) {
            bad = tx.checkName("prerequisite event name", p);
            if (bad != null) {
                return bad;
            }
            prereqs.add(p);
        }
        if (prereqs.size() > tx.limits().maxPrerequisites()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT,
                    "at most " + tx.limits().maxPrerequisites() + " prerequisites per item");
        }
        QueueState q = queues.get(c.queue());
        if (q == null) {
            if (queues.size() >= tx.limits().maxQueues()) {
                return Tx.limit("queues", tx.limits().maxQueues());
            }
            q = QueueState.empty(c.queue());
        }
        ItemState old = q.items().get(c.item());
        if (old == null && q.items().size() >= tx.limits().maxItemsPerQueue()) {
            return Tx.limit("items per queue", tx.limits().maxItemsPerQueue());
        }
        String[] names = prereqs.toArray(new String[0]);
        // a replaced item gives back what the old one cost; a new queue costs its name too
        long needs = Footprint.item(c.item(), c.payload().size(), names)
                - (old == null ? 0 : Footprint.item(old))
                + (queues.containsKey(c.queue()) ? 0 : Footprint.queue(c.queue()));
        Result.Rejected full = tx.checkBudget("item " + c.item() + " of queue " + c.queue(), needs);
        if (full != null) {
            return full;
        }
        tx.charge(needs);
        ItemKey key = new ItemKey(c.queue(), c.item());
        if (old != null) {
            unindex(tx, key, old.prerequisites());
        }
        int pending = 0;
        for (String p : names) {
            if (events.isPending(p)) {
                pending++;
            }
            PersistentTreeSet<ItemKey> refs = eventRefs.get(p);
            eventRefs = eventRefs.assoc(p, (refs == null ? PersistentTreeSet.<ItemKey>empty() : refs).put(key));
        }
        ItemState item = old == null
                ? new ItemState(c.item(), c.payload(), names, tx.nextSeq(), pending, 0, 0, 0, tx.now())
                : new ItemState(c.item(), c.payload(), names, old.seq(), pending, old.claimedBy(), old.fence(),
                        old.attempts(), old.enqueuedAt());
        store(tx, c.queue(), q, old, item);
        return new QueueReply(old == null ? QueueStatus.ENQUEUED : QueueStatus.REPLACED, List.of());
    }

    public Result claim(Tx tx, SessionState session, QueueClaim c) {
        Result.Rejected bad = tx.checkName("queue name", c.queue());
        if (bad != null) {
            return bad;
        }
        if (c.max() <= 0 || c.max() > tx.limits().maxClaimBatch()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT,
                    "max must be between 1 and " + tx.limits().maxClaimBatch());
        }
        QueueState q = queues.get(c.queue());
        if (q == null || q.ready().size() == 0) {
            return new QueueReply(QueueStatus.CLAIMED, List.of());
        }
        List<ClaimedItem> out = new ArrayList<>(Math.min(c.max(), q.ready().size()));
        PersistentTreeSet<ItemKey> claimed = session.claimed();
        var ready = q.ready();
        var items = q.items();
        for (var e : q.ready()) {
            if (out.size() == c.max()) {
                break;
            }
            ItemState it = items.get(e.getValue());
            ItemState cl = it.withClaim(session.id(), tx.nextFence(), it.attempts() + 1);
            tx.observe(new Observation.QueueItemClaimed(c.queue(), tx.now() - it.enqueuedAt()));
            items = items.assoc(cl.id(), cl);
            ready = ready.without(e.getKey());
            claimed = claimed.put(new ItemKey(c.queue(), cl.id()));
            out.add(new ClaimedItem(c.queue(), cl.id(), cl.payload(), cl.fence(), cl.attempts()));
        }
        queues = queues.assoc(c.queue(), new QueueState(c.queue(), items, ready));
        sessions.put(tx, session.withClaimed(claimed));
        return new QueueReply(QueueStatus.CLAIMED, List.copyOf(out));
    }

    public Result done(Tx tx, SessionState session, QueueDone c) {
        return finish(tx, session, c.queue(), c.item(), c.fence(), false);
    }

    public Result retry(Tx tx, SessionState session, QueueRetry c) {
        return finish(tx, session, c.queue(), c.item(), c.fence(), true);
    }

    /** Done (the item is removed) or retry (it goes to the back of the queue, unclaimed). */
    private Result finish(Tx tx, SessionState session, String queue, String item, long fence, boolean retry) {
        Object found = findClaimed(tx, session, queue, item, fence);
        if (found instanceof Result r) {
            return r;
        }
        ItemState it = (ItemState) found;
        QueueState q = queues.get(queue);
        ItemKey key = new ItemKey(queue, item);
        sessions.put(tx, session.withClaimed(session.claimed().without(key)));
        if (retry) {
            store(tx, queue, q, it, it.unclaimed(tx.nextSeq()));
            return new QueueReply(QueueStatus.REQUEUED, List.of());
        }
        unindex(tx, key, it.prerequisites());
        QueueState nq = new QueueState(q.name(), q.items().without(it.id()), q.ready());
        tx.charge(-Footprint.item(it) - (nq.items().size() == 0 ? Footprint.queue(q.name()) : 0));
        queues = nq.items().size() == 0 ? queues.without(q.name()) : queues.assoc(q.name(), nq);
        return new QueueReply(QueueStatus.DONE, List.of());
    }

    /** The claimed item, or the rejection explaining why the session cannot finish it. */
    private Object findClaimed(Tx tx, SessionState session, String queue, String item, long fence) {
        Result.Rejected bad = tx.checkName("queue name", queue);
        if (bad == null) {
            bad = tx.checkName("item id", item);
        }
        if (bad != null) {
            return bad;
        }
        QueueState q = queues.get(queue);
        ItemState it = q == null ? null : q.items().get(item);
        if (it == null) {
            return new Result.Rejected(ErrorCode.NOT_FOUND, "no item " + item + " in queue " + queue);
        }
        if (it.claimedBy() != session.id() || (fence != 0 && fence != it.fence())) {
            return new Result.Rejected(ErrorCode.STALE_FENCE,
                    "item " + item + " of queue " + queue + " is not claimed by this session with fence " + Long.toUnsignedString(fence));
        }
        return it;
    }

    /** The claimer died: its items go back, unclaimed, to the places they had. */
    @Override
    public void onSessionEnd(Tx tx, SessionState session) {
        for (ItemKey k : session.claimed()) {
            QueueState q = queues.get(k.queue());
            ItemState it = q.items().get(k.item());
            store(tx, k.queue(), q, it, it.unclaimed(it.seq()));
        }
    }

    /** An event became pending: the items naming it are held back. */
    @Override
    public void onEventPending(Tx tx, String event) {
        regate(tx, event, +1);
    }

    /** An event completed: items whose last pending prerequisite it was become claimable. */
    @Override
    public void onEventCompleted(Tx tx, String event) {
        regate(tx, event, -1);
    }

    private void regate(Tx tx, String event, int delta) {
        PersistentTreeSet<ItemKey> refs = eventRefs.get(event);
        if (refs == null) {
            return;
        }
        for (ItemKey k : refs) {
            QueueState q = queues.get(k.queue());
            ItemState it = q.items().get(k.item());
            store(tx, k.queue(), q, it, it.withPending(it.pending() + delta));
        }
    }

    /**
     * Writes an item back and keeps the ready index in step: an item enters it when it becomes
     * claimable (and the queue is announced as claimable) and leaves it when it stops being.
     */
    private void store(Tx tx, String queue, QueueState q, ItemState old, ItemState now) {
        var ready = q.ready();
        boolean wasReady = old != null && old.ready();
        if (wasReady && (!now.ready() || now.seq() != old.seq())) {
            ready = ready.without(old.seq());
        }
        if (now.ready() && (!wasReady || now.seq() != old.seq())) {
            ready = ready.assoc(now.seq(), now.id());
            tx.announceClaimable(queue);
        }
        queues = queues.assoc(queue, new QueueState(queue, q.items().assoc(now.id(), now), ready));
    }

    private void unindex(Tx tx, ItemKey key, String[] prerequisites) {
        for (String p : prerequisites) {
            PersistentTreeSet<ItemKey> refs = eventRefs.get(p).without(key);
            eventRefs = refs.isEmpty() ? eventRefs.without(p) : eventRefs.assoc(p, refs);
        }
    }
}
