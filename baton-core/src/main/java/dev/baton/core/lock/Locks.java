package dev.baton.core.lock;

import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import dev.baton.core.session.Participant;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.SessionTable;
import dev.baton.core.session.WaitRef;
import dev.baton.core.session.Waiter;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * Fenced locks: named mutexes whose every grant carries a fence strictly greater than any fence
 * issued before (Chubby's sequencer). A release quoting an older fence is refused, so a holder that
 * paused past the loss of its session cannot undo newer work. Waiters are served FIFO.
 *
 * <p>One instance per state machine; while a batch is applied it owns the locks (see
 * docs/core.md, "Inside the core").
 */
public final class Locks implements Participant {
    /** This participant's name, which the deadline index records for each lock wait. */
    public static final String NAME = "locks";

    private final SessionTable sessions;
    private MutHashMap<String, LockState> locks;

    public Locks(SessionTable sessions) {
        this.sessions = sessions;
    }

    /** Starts a batch from the published state's locks. */
    public void load(LockData d) {
        locks = d.locks().mutable();
    }

    /** The locks as they are now, for the next published state (O(1)). */
    public LockData freeze() {
        return new LockData(locks.immutable());
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void onTimeOut(Tx tx, long session, String key, long waitId) {
        timeOut(tx, session, key, waitId);
    }

    /** Writes a lock, or drops it ({@code now == null}), keeping the state's byte count. */
    private void put(Tx tx, String name, LockState now) {
        tx.charge(Footprint.lock(now) - Footprint.lock(locks.get(name)));
        locks = now == null ? locks.without(name) : locks.assoc(name, now);
    }

    public Result acquire(Tx tx, SessionState session, LockAcquire c) {
        Result.Rejected bad = tx.checkName("lock name", c.name());
        if (bad == null) {
            bad = tx.checkWait(c.timeoutMs());
        }
        if (bad != null) {
            return bad;
        }
        LockState lock = locks.get(c.name());
        if (lock == null) {
            if (locks.size() >= tx.limits().maxLocks()) {
                return Tx.limit("locks", tx.limits().maxLocks());
            }
            Result.Rejected full = tx.checkBudget("lock " + c.name(), Footprint.lock(c.name()));
            if (full != null) {
                return full;
            }
            long fence = tx.nextFence();
            put(tx, c.name(),
                    new LockState(c.name(), session.id(), fence, tx.now(), c.requestId(), PersistentTreeMap.empty()));
            sessions.put(tx, session.withLocks(session.locksHeld().assoc(c.name(), fence), session.lockWaits()));
            tx.observe(new Observation.LockAcquired(c.name(), 0));
            return new LockReply(LockStatus.LOCKED, c.name(), fence);
        }
        if (lock.holder() == session.id()) {
            return new LockReply(LockStatus.ALREADY_HELD, c.name(), lock.fence());
        }
        if (session.lockWaits().containsKey(c.name())) {
            return new Result.Rejected(ErrorCode.WAIT_FOR_RESPONSE, "the session is already waiting for lock " + c.name());
        }
        if (c.timeoutMs() == 0) {
            return new LockReply(LockStatus.BUSY, c.name(), 0);
        }
        if (lock.waiters().size() >= tx.limits().maxWaitersPerKey()) {
            return Tx.limit("waiters per lock", tx.limits().maxWaitersPerKey());
        }
        Result.Rejected full = tx.checkBudget("a wait for lock " + c.name(), Footprint.SLOT);
        if (full != null) {
            return full;
        }
        long waitId = tx.nextSeq();
        long deadline = tx.deadlineAfter(c.timeoutMs());
        put(tx, c.name(),
                lock.withWaiters(lock.waiters().assoc(waitId, new Waiter(session.id(), c.requestId(), waitId, tx.now(), deadline))));
        sessions.put(tx, session.withLocks(session.locksHeld(), session.lockWaits().assoc(c.name(), waitId)));
        sessions.addDeadline(deadline, waitId, new WaitRef(NAME, session.id(), c.name()));
        return new LockReply(LockStatus.QUEUED, c.name(), 0);
    }

    public Result release(Tx tx, SessionState session, LockRelease c) {
        Result.Rejected bad = tx.checkName("lock name", c.name());
        if (bad != null) {
            return bad;
        }
        LockState lock = locks.get(c.name());
        if (lock != null && lock.holder() == session.id()) {
            if (c.fence() != 0 && c.fence() != lock.fence()) {
                return stale(c);
            }
            sessions.put(tx, session.withLocks(session.locksHeld().without(c.name()), session.lockWaits()));
            handOff(tx, lock);
            return new LockReply(LockStatus.UNLOCKED, c.name(), lock.fence());
        }
        Long waitId = session.lockWaits().get(c.name());
        if (waitId != null) {
            Waiter w = lock.waiters().get(waitId);
            sessions.removeDeadline(w.deadline(), waitId);
            put(tx, c.name(), lock.withWaiters(lock.waiters().without(waitId)));
            sessions.put(tx, session.withLocks(session.locksHeld(), session.lockWaits().without(c.name())));
            // The acquire is no longer QUEUED: its remembered answer, and whoever waits for its outcome
            // (a held call, the keep-alive stream of a return_queued acquire), hear CANCELLED now.
            tell(tx, w, c.name(), LockStatus.CANCELLED, 0);
            return new LockReply(LockStatus.CANCELLED, c.name(), 0);
        }
        if (c.fence() != 0) {
            return stale(c);
        }
        return new LockReply(LockStatus.NOT_HELD, c.name(), 0);
    }

    private Result stale(LockRelease c) {
        return new Result.Rejected(ErrorCode.STALE_FENCE,
                "fence " + Long.toUnsignedString(c.fence()) + " is not the current grant of lock " + c.name());
    }

    /** The holder let go: the oldest waiter gets the lock with a new fence, or the lock disappears. */
    private void handOff(Tx tx, LockState lock) {
        tx.observe(new Observation.LockHoldEnded(lock.name(), tx.now() - lock.since()));
        if (lock.waiters().size() == 0) {
            put(tx, lock.name(), null);
            return;
        }
        Waiter next = lock.waiters().head().get().getValue();
        long fence = tx.nextFence();
        sessions.removeDeadline(next.deadline(), next.waitId());
        put(tx, lock.name(), new LockState(lock.name(), next.session(), fence, tx.now(),
                next.requestId(), lock.waiters().without(next.waitId())));
        SessionState ws = sessions.get(next.session());
        sessions.put(tx, ws.withLocks(ws.locksHeld().assoc(lock.name(), fence), ws.lockWaits().without(lock.name())));
        tx.observe(new Observation.LockAcquired(lock.name(), tx.now() - next.since()));
        tell(tx, next, lock.name(), LockStatus.LOCKED, fence);
    }

    private void timeOut(Tx tx, long sessionId, String name, long waitId) {
        LockState lock = locks.get(name);
        Waiter w = lock.waiters().get(waitId);
        put(tx, name, lock.withWaiters(lock.waiters().without(waitId)));
        SessionState ws = sessions.get(sessionId);
        sessions.put(tx, ws.withLocks(ws.locksHeld(), ws.lockWaits().without(name)));
        tell(tx, w, name, LockStatus.TIMEOUT, 0);
    }

    /** The session ended: its waits are dropped, then the locks it held are handed on. */
    @Override
    public void onSessionEnd(Tx tx, SessionState session) {
        for (var e : session.lockWaits()) {
            LockState lock = locks.get(e.getKey());
            Waiter w = lock.waiters().get(e.getValue());
            sessions.removeDeadline(w.deadline(), w.waitId());
            put(tx, lock.name(), lock.withWaiters(lock.waiters().without(w.waitId())));
        }
        for (var e : session.locksHeld()) {
            handOff(tx, locks.get(e.getKey()));
        }
    }

    private void tell(Tx tx, Waiter w, String name, LockStatus status, long fence) {
        tx.emit(new Effect.LockWaitEnded(w.session(), w.requestId(), name, status, fence));
        sessions.rememberOutcome(tx, w.session(), w.requestId(), new LockReply(status, name, fence));
    }
}
