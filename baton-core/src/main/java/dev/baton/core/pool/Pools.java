package dev.baton.core.pool;

import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Observation.PoolAcquireEnded;
import dev.baton.core.command.Observation.PoolHoldEnded;
import dev.baton.core.command.Observation.PoolOutcome;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.machine.Counter;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import dev.baton.core.session.Participant;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.SessionTable;
import dev.baton.core.session.Slot;
import dev.baton.core.session.WaitRef;
import dev.baton.core.session.Waiter;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * PoolCounter semantics (docs/design.md, "poolcounterd"): per-key counting semaphores with bounded
 * wait queues. Mirrors poolcounterd's {@code locks.c}, minus its quirks (docs/differences.md).
 *
 * <p>One instance per state machine; while a batch is applied it owns its pool keys and the holder and waiter gauges (see
 * docs/core.md, "Inside the core").
 */
public final class Pools implements Participant {
    /** This participant's name, which the deadline index records for each pool wait. */
    public static final String NAME = "pools";

    private final SessionTable sessions;
    private MutHashMap<String, PoolState> keys;
    /** Gauges over all pool keys, moved by every write of a key. */
    private long holders;
    private long waiters;

    public Pools(SessionTable sessions) {
        this.sessions = sessions;
    }

    /** Starts a batch from the published state's pool keys and gauges. */
    public void load(PoolData d) {
        keys = d.keys().mutable();
        holders = d.holders();
        waiters = d.waiters();
    }

    /** The pools as they are now, for the next published state (O(1)). */
    public PoolData freeze() {
        return new PoolData(keys.immutable(), holders, waiters);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void onTimeOut(Tx tx, long session, String key, long waitId) {
        timeOut(tx, session, key, waitId);
    }

    /** ACQ4ME / ACQ4ANY, with poolcounterd's order of checks. */
    public Result acquire(Tx tx, SessionState session, PoolAcquire c) {
        Slot[] slots = session.slots();
        if (slots.length >= tx.limits().maxSlotsPerSession()) {
            tx.count(Counter.LOCK_HELD, 1);
            tx.observe(new PoolAcquireEnded(c.key(), PoolOutcome.LOCK_HELD, 0));
            return new PoolReply(PoolStatus.LOCK_HELD, c.key(), 0);
        }
        if (slots.length > 0 && slots[slots.length - 1].waiting()) {
            tx.count(Counter.WAIT_FOR_RESPONSE, 1);
            tx.observe(new PoolAcquireEnded(c.key(), PoolOutcome.WAIT_FOR_RESPONSE, 0));
            return new Result.Rejected(ErrorCode.WAIT_FOR_RESPONSE, "the session's last pool slot is still waiting");
        }
        Result.Rejected bad = tx.checkName("pool key", c.key());
        if (bad == null && (c.workers() <= 0 || c.maxQueue() <= 0)) {
            bad = new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "workers and maxqueue must be positive");
        }
        if (bad == null) {
            bad = tx.checkWait(c.timeoutMs());
        }
        if (bad != null) {
            return bad;
        }
        PoolState pool = keys.get(c.key());
        if (pool == null) {
            if (keys.size() >= tx.limits().maxPoolKeys()) {
                return Tx.limit("pool keys", tx.limits().maxPoolKeys());
            }
            pool = PoolState.empty(c.key());
        }
        if (pool.count() >= c.maxQueue()) {
            tx.count(Counter.QUEUE_FULL, 1);
            tx.observe(new PoolAcquireEnded(c.key(), PoolOutcome.QUEUE_FULL, 0));
            return new PoolReply(PoolStatus.QUEUE_FULL, c.key(), 0);
        }
        // a new holder or waiter, and the key itself if it is new (a refusal above stores nothing)
        boolean newKey = pool.isEmpty();
        long needs = Footprint.SLOT + (newKey ? Footprint.POOL_KEY + Footprint.chars(c.key()) : 0);
        if (pool.processing() < c.workers()) {
            Result.Rejected full = tx.checkBudget("pool key " + c.key(), needs);
            if (full != null) {
                return full;
            }
            long fence = tx.nextFence();
            store(tx, pool, pool.withHolders(pool.holders().assoc(fence, new Holder(session.id(), fence, tx.now(), c.requestId()))));
            sessions.put(tx, session.pushSlot(new Slot(c.key(), Slot.State.HELD, fence, c.requestId(), tx.now())));
            tx.count(Counter.ACQUIRED, 1);
            tx.observe(new PoolAcquireEnded(c.key(), PoolOutcome.LOCKED, 0));
            return new PoolReply(PoolStatus.LOCKED, c.key(), fence);
        }
        if (c.timeoutMs() == 0) {
            tx.count(Counter.TIMEOUTS, 1);
            tx.observe(new PoolAcquireEnded(c.key(), PoolOutcome.TIMEOUT, 0));
            return new PoolReply(PoolStatus.TIMEOUT, c.key(), 0);
        }
        if (pool.waiting() >= tx.limits().maxWaitersPerKey()) {
            return Tx.limit("waiters per key", tx.limits().maxWaitersPerKey());
        }
        Result.Rejected full = tx.checkBudget("a wait on pool key " + c.key(), needs);
        if (full != null) {
            return full;
        }
        long waitId = tx.nextSeq();
        long deadline = tx.deadlineAfter(c.timeoutMs());
        Waiter w = new Waiter(session.id(), c.requestId(), waitId, tx.now(), deadline);
        store(tx, pool, c.forAnyone()
                ? pool.withWaiters(pool.waitMe(), pool.waitAny().assoc(waitId, w))
                : pool.withWaiters(pool.waitMe().assoc(waitId, w), pool.waitAny()));
        sessions.put(tx, session.pushSlot(new Slot(c.key(), c.forAnyone() ? Slot.State.WAIT_ANY : Slot.State.WAIT_ME,
                waitId, c.requestId(), tx.now())));
        sessions.addDeadline(deadline, waitId, new WaitRef(NAME, session.id(), c.key()));
        return new PoolReply(PoolStatus.QUEUED, c.key(), 0);
    }

    /** RELEASE: the newest slot (optionally on one key), or the one granted with a given fence. */
    public Result release(Tx tx, SessionState session, PoolRelease c) {
        if (c.key() != null) {
            Result.Rejected bad = tx.checkName("pool key", c.key());
            if (bad != null) {
                return bad;
            }
        }
        Slot[] slots = session.slots();
        int at = -1;
        boolean keySeen = false; // only a fence can make a slot on the key not match
        for (int i = slots.length - 1; i >= 0 && at < 0; i--) {
            Slot s = slots[i];
            if (c.key() == null || s.key().equals(c.key())) {
                keySeen = true;
                if (c.fence() == 0 || (!s.waiting() && s.id() == c.fence())) {
                    at = i;
                }
            }
        }
        if (at < 0) {
            if (c.fence() != 0 || keySeen) {
                return new Result.Rejected(ErrorCode.STALE_FENCE, "fence " + Long.toUnsignedString(c.fence()) + " is not a current grant"
                        + (c.key() == null ? " of this session" : " of key " + c.key()));
            }
            tx.count(Counter.RELEASE_MISMATCH, 1);
            return new PoolReply(PoolStatus.NOT_LOCKED, c.key(), 0);
        }
        Slot slot = slots[at];
        sessions.put(tx, session.removeSlot(at));
        tx.count(Counter.RELEASED, 1);
        if (slot.waiting()) {
            // poolcounterd broadcasts DONE here although nobody finished (quirk 3); we only cancel.
            removeWaiter(tx, slot.key(), slot.id(), slot.state() == Slot.State.WAIT_ANY);
            tx.observe(new PoolAcquireEnded(slot.key(), PoolOutcome.CANCELLED, tx.now() - slot.since()));
            // The acquire is no longer QUEUED: its remembered answer, and whoever waits for its outcome
            // (a held call, the keep-alive stream of a return_queued acquire), hear RELEASED now.
            tx.emit(new Effect.PoolWaitEnded(session.id(), slot.requestId(), slot.key(), PoolStatus.RELEASED, 0));
            PoolReply cancelled = new PoolReply(PoolStatus.RELEASED, slot.key(), 0);
            sessions.rememberOutcome(tx, session.id(), slot.requestId(), cancelled);
            return cancelled;
        }
        releaseHeld(tx, slot, true);
        return new PoolReply(PoolStatus.RELEASED, slot.key(), slot.id());
    }

    /**
     * Frees a held slot (its session's slot list is already updated). An explicit release tells
     * every ACQ4ANY waiter DONE, then hands the slot to the oldest ACQ4ME waiter. A release because
     * the session ended sends no DONE and hands the slot to the oldest ACQ4ME waiter, else to the
     * oldest ACQ4ANY waiter, which then holds it (poolcounterd's disconnect behaviour).
     */
    private void releaseHeld(Tx tx, Slot slot, boolean explicit) {
        PoolState before = keys.get(slot.key());
        PoolState pool = before;
        Holder h = pool.holders().get(slot.id());
        long held = tx.now() - h.since();
        tx.count(Counter.HOLD_MS, held);
        tx.observe(new PoolHoldEnded(slot.key(), held));
        pool = pool.withHolders(pool.holders().without(slot.id()));
        if (explicit && pool.waitAny().size() > 0) {
            for (Waiter w : pool.waitAny().values()) {
                endWait(tx, w, slot.key(), PoolStatus.DONE, 0);
                long waited = tx.now() - w.since();
                tx.count(Counter.DONE, 1);
                tx.count(Counter.WAIT_ANY_MS, waited);
                tx.count(Counter.DONE_WAIT_MS, waited);
                tx.observe(new PoolAcquireEnded(slot.key(), PoolOutcome.DONE, waited));
                // each DONE waiter is spared the releaser's work so far (poolcounterd's "gained time")
                tx.count(Counter.GAINED_MS, held);
            }
            pool = pool.withWaiters(pool.waitMe(), PersistentTreeMap.empty());
        }
        Waiter next = null;
        boolean nextIsAny = false;
        if (pool.waitMe().size() > 0) {
            next = pool.waitMe().head().get().getValue();
        } else if (pool.waitAny().size() > 0) {
            next = pool.waitAny().head().get().getValue();
            nextIsAny = true;
        }
        if (next != null) {
            pool = nextIsAny
                    ? pool.withWaiters(pool.waitMe(), pool.waitAny().without(next.waitId()))
                    : pool.withWaiters(pool.waitMe().without(next.waitId()), pool.waitAny());
            long fence = tx.nextFence();
            pool = pool.withHolders(pool.holders().assoc(fence, new Holder(next.session(), fence, tx.now(), next.requestId())));
            tx.count(Counter.ACQUIRED, 1);
            tx.count(nextIsAny ? Counter.WAIT_ANY_MS : Counter.WAIT_ME_MS, tx.now() - next.since());
            tx.observe(new PoolAcquireEnded(slot.key(), PoolOutcome.LOCKED_AFTER_WAIT, tx.now() - next.since()));
            SessionState ws = sessions.get(next.session());
            int i = ws.slotIndexOfWait(next.waitId());
            sessions.put(tx, ws.replaceSlot(i, new Slot(slot.key(), Slot.State.HELD, fence, next.requestId(), tx.now())));
            sessions.removeDeadline(next.deadline(), next.waitId());
            tellOutcome(tx, next, slot.key(), PoolStatus.LOCKED, fence);
        }
        store(tx, before, pool);
    }

    /** A wait reached its deadline: TIMEOUT to the waiter, its slot freed. */
    private void timeOut(Tx tx, long sessionId, String key, long waitId) {
        PoolState pool = keys.get(key);
        Waiter w = pool.waitMe().get(waitId);
        boolean any = w == null;
        if (any) {
            w = pool.waitAny().get(waitId);
        }
        tx.count(Counter.TIMEOUTS, 1);
        tx.count(Counter.TIMEOUT_WAIT_MS, tx.now() - w.since());
        tx.observe(new PoolAcquireEnded(key, PoolOutcome.TIMEOUT, tx.now() - w.since()));
        store(tx, pool, any ? pool.withWaiters(pool.waitMe(), pool.waitAny().without(waitId))
                : pool.withWaiters(pool.waitMe().without(waitId), pool.waitAny()));
        endWait(tx, w, key, PoolStatus.TIMEOUT, 0);
    }

    /** The session ended: its slots go newest first, held ones handed on without DONE, waits dropped. */
    @Override
    public void onSessionEnd(Tx tx, SessionState session) {
        Slot[] slots = session.slots();
        for (int i = slots.length - 1; i >= 0; i--) {
            Slot s = slots[i];
            if (s.waiting()) {
                removeWaiter(tx, s.key(), s.id(), s.state() == Slot.State.WAIT_ANY);
                tx.observe(new PoolAcquireEnded(s.key(), PoolOutcome.CANCELLED, tx.now() - s.since()));
            } else {
                releaseHeld(tx, s, false);
            }
        }
    }

    /** Removes a waiter that gave up (cancel or session end); the caller says whether it is told. */
    private void removeWaiter(Tx tx, String key, long waitId, boolean any) {
        PoolState pool = keys.get(key);
        Waiter w = any ? pool.waitAny().get(waitId) : pool.waitMe().get(waitId);
        sessions.removeDeadline(w.deadline(), waitId);
        store(tx, pool, any ? pool.withWaiters(pool.waitMe(), pool.waitAny().without(waitId))
                : pool.withWaiters(pool.waitMe().without(waitId), pool.waitAny()));
    }

    /** Ends a wait that did not become a hold (DONE or TIMEOUT): frees the waiter's slot and tells it. */
    private void endWait(Tx tx, Waiter w, String key, PoolStatus status, long fence) {
        SessionState ws = sessions.get(w.session());
        sessions.put(tx, ws.removeSlot(ws.slotIndexOfWait(w.waitId())));
        sessions.removeDeadline(w.deadline(), w.waitId());
        tellOutcome(tx, w, key, status, fence);
    }

    private void tellOutcome(Tx tx, Waiter w, String key, PoolStatus status, long fence) {
        tx.emit(new Effect.PoolWaitEnded(w.session(), w.requestId(), key, status, fence));
        sessions.rememberOutcome(tx, w.session(), w.requestId(), new PoolReply(status, key, fence));
    }

    /** Writes a pool key back (dropping it when empty) and moves the holder and waiter gauges. */
    private void store(Tx tx, PoolState before, PoolState after) {
        holders += after.processing() - before.processing();
        waiters += after.waiting() - before.waiting();
        PoolState now = after.isEmpty() ? null : after;
        tx.charge(Footprint.pool(now) - Footprint.pool(keys.get(after.key())));
        keys = now == null ? keys.without(after.key()) : keys.assoc(after.key(), now);
    }
}
