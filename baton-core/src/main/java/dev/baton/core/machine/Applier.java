package dev.baton.core.machine;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.*;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.core.dispatch.Dispatch;
import dev.baton.core.event.Events;
import dev.baton.core.lock.Locks;
import dev.baton.core.node.Nodes;
import dev.baton.core.pool.Pools;
import dev.baton.core.queue.Queues;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.SessionTable;
import dev.baton.core.session.Sessions;

/**
 * Routes one command to its primitive. Session checks and idempotency live here, once, for every
 * session request: the session must be live; a request id already answered gets its remembered
 * answer without being executed again; every answer, rejections included, is remembered. (A
 * request id names one attempt: a client re-sends it only when it lost the answer, and makes a
 * new attempt with a new id.)
 */
final class Applier {
    private final SessionTable table;
    private final Sessions sessions;
    private final Pools pools;
    private final Locks locks;
    private final Dispatch dispatch;
    private final Events events;
    private final Queues queues;
    private final Nodes nodes;

    Applier(SessionTable table, Sessions sessions, Pools pools, Locks locks, Dispatch dispatch, Events events,
            Queues queues, Nodes nodes) {
        this.table = table;
        this.sessions = sessions;
        this.pools = pools;
        this.locks = locks;
        this.dispatch = dispatch;
        this.events = events;
        this.queues = queues;
        this.nodes = nodes;
    }

    Result apply(Tx tx, Command c, int expiredAtEntryStart) {
        return switch (c.kind()) {
            case OPEN_SESSION -> sessions.open(tx, (OpenSession) c);
            case OPEN_SESSION_THEN -> openThen(tx, (OpenSessionThen) c);
            case EXPIRE_SESSIONS -> sessions.expire(tx, (ExpireSessions) c);
            case EXPIRE_WAITS -> new Result.WaitsExpired(expiredAtEntryStart);
            case SET_LIMITS -> setLimits(tx, (SetLimits) c);
            case ANNOUNCE_NODE -> nodes.announce(tx, (AnnounceNode) c);
            case CLOSE_SESSION, POOL_ACQUIRE, POOL_RELEASE, LOCK_ACQUIRE, LOCK_RELEASE, DISPATCH_INIT,
                    DISPATCH_ADVANCE, DISPATCH_SELECT, DISPATCH_LOCK, DISPATCH_RELEASE, DISPATCH_SET_DISABLED,
                    EVENT_BEGIN, EVENT_COMPLETE, QUEUE_ENQUEUE, QUEUE_CLAIM, QUEUE_DONE, QUEUE_RETRY ->
                    applyRequest(tx, (SessionRequest) c);
        };
    }

    private static Result setLimits(Tx tx, SetLimits s) {
        if (s.limits() == null) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "limits must not be null");
        }
        tx.setLimits(s.limits());
        return new Result.LimitsSet(s.limits());
    }

    /**
     * Opens the session, then runs the first command on it. Checked before anything changes: a
     * malformed pair (no open, no first command, a first command that names a session of its own or
     * closes it) is refused whole.
     */
    private Result openThen(Tx tx, OpenSessionThen c) {
        if (c.open() == null || c.first() == null) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "an OpenSessionThen needs an open and a first command");
        }
        if (c.first().session() != 0) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT,
                    "the first command of an OpenSessionThen runs on the session it opens and names none");
        }
        if (c.first() instanceof CloseSession) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "an OpenSessionThen cannot close what it opens");
        }
        Result opened = sessions.open(tx, c.open());
        if (!(opened instanceof Result.SessionOpened o)) {
            return opened; // refused: nothing was opened, nothing else runs
        }
        return new Result.SessionOpenedThen(o, applyRequest(tx, c.first().withSession(o.session())));
    }

    private Result applyRequest(Tx tx, SessionRequest r) {
        long sid = r.session();
        long rid = r.requestId();
        SessionState s = null;
        if (sid != 0) {
            s = table.get(sid);
            if (s == null) {
                return r instanceof CloseSession cs ? sessions.close(tx, cs)
                        : new Result.Rejected(ErrorCode.UNKNOWN_SESSION, "no session " + Long.toUnsignedString(sid));
            }
            if (rid != 0) {
                Result previous = s.recent().find(rid);
                if (previous != null) {
                    long remembered = s.recent().fingerprint(rid);
                    if (remembered != 0 && remembered != CommandCodec.fingerprint(r)) {
                        // not remembered: the id's answer stays the first command's
                        return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "request id "
                                + Long.toUnsignedString(rid) + " of session " + Long.toUnsignedString(sid)
                                + " was already used for a different command; a new attempt needs a new request id");
                    }
                    return previous;
                }
                if (rid < 0 || rid <= s.recent().floor()) {
                    return new Result.Rejected(ErrorCode.REQUEST_TOO_OLD, "request id " + Long.toUnsignedString(rid)
                            + " is at or below the session's idempotency window ("
                            + Long.toUnsignedString(s.recent().floor()) + ")");
                }
                if (tx.stateBytes() >= tx.limits().maxStateBytes() && !freesState(r)) {
                    // Over the budget only commands that free or consume state run; refusing the
                    // rest without remembering the refusal keeps their answers from growing it.
                    return new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, "state budget full: "
                            + tx.stateBytes() + " of " + tx.limits().maxStateBytes()
                            + " bytes in use (limit maxStateBytes); only releases, closes and queue claims run");
                }
            }
        } else if (needsSession(r)) {
            return new Result.Rejected(ErrorCode.UNKNOWN_SESSION, "this command needs a session");
        }
        Result res = execute(tx, s, r);
        if (sid != 0 && rid != 0) {
            SessionState after = table.get(sid);
            if (after != null) {
                table.put(tx, after.withRecent(after.recent().with(rid, CommandCodec.fingerprint(r), res,
                        tx.limits().maxRememberedRequests())));
            }
        }
        return res;
    }

    /**
     * Commands that give back what a session holds, or consume queue items (a full queue must
     * still drain): they run even when the state budget is used up.
     */
    private static boolean freesState(SessionRequest r) {
        return switch (r.kind()) {
            case POOL_RELEASE, LOCK_RELEASE, CLOSE_SESSION, DISPATCH_RELEASE, EVENT_COMPLETE, QUEUE_DONE, QUEUE_RETRY,
                    QUEUE_CLAIM -> true;
            case POOL_ACQUIRE, LOCK_ACQUIRE, DISPATCH_INIT, DISPATCH_ADVANCE, DISPATCH_SELECT, DISPATCH_LOCK,
                    DISPATCH_SET_DISABLED, EVENT_BEGIN, QUEUE_ENQUEUE -> false;
            case OPEN_SESSION, OPEN_SESSION_THEN, EXPIRE_SESSIONS, EXPIRE_WAITS, SET_LIMITS, ANNOUNCE_NODE ->
                    throw notARequest(r);
        };
    }

    /** Commands that hold something on the session's behalf need one; the others may be sent without. */
    private static boolean needsSession(SessionRequest r) {
        return switch (r.kind()) {
            case DISPATCH_INIT, DISPATCH_ADVANCE, DISPATCH_SET_DISABLED, EVENT_COMPLETE, QUEUE_ENQUEUE -> false;
            case CLOSE_SESSION, POOL_ACQUIRE, POOL_RELEASE, LOCK_ACQUIRE, LOCK_RELEASE, DISPATCH_SELECT, DISPATCH_LOCK,
                    DISPATCH_RELEASE, EVENT_BEGIN, QUEUE_CLAIM, QUEUE_DONE, QUEUE_RETRY -> true;
            case OPEN_SESSION, OPEN_SESSION_THEN, EXPIRE_SESSIONS, EXPIRE_WAITS, SET_LIMITS, ANNOUNCE_NODE ->
                    throw notARequest(r);
        };
    }

    private Result execute(Tx tx, SessionState s, SessionRequest r) {
        return switch (r.kind()) {
            case CLOSE_SESSION -> sessions.close(tx, (CloseSession) r);
            case POOL_ACQUIRE -> pools.acquire(tx, s, (PoolAcquire) r);
            case POOL_RELEASE -> pools.release(tx, s, (PoolRelease) r);
            case LOCK_ACQUIRE -> locks.acquire(tx, s, (LockAcquire) r);
            case LOCK_RELEASE -> locks.release(tx, s, (LockRelease) r);
            case DISPATCH_INIT -> dispatch.init(tx, (DispatchInit) r);
            case DISPATCH_ADVANCE -> dispatch.advance(tx, (DispatchAdvance) r);
            case DISPATCH_SELECT -> dispatch.select(tx, s, (DispatchSelect) r);
            case DISPATCH_LOCK -> dispatch.lock(tx, s, (DispatchLock) r);
            case DISPATCH_RELEASE -> dispatch.release(tx, s, (DispatchRelease) r);
            case DISPATCH_SET_DISABLED -> dispatch.setDisabled(tx, (DispatchSetDisabled) r);
            case EVENT_BEGIN -> events.begin(tx, s, (EventBegin) r);
            case EVENT_COMPLETE -> events.complete(tx, (EventComplete) r);
            case QUEUE_ENQUEUE -> queues.enqueue(tx, (QueueEnqueue) r, events);
            case QUEUE_CLAIM -> queues.claim(tx, s, (QueueClaim) r);
            case QUEUE_DONE -> queues.done(tx, s, (QueueDone) r);
            case QUEUE_RETRY -> queues.retry(tx, s, (QueueRetry) r);
            case OPEN_SESSION, OPEN_SESSION_THEN, EXPIRE_SESSIONS, EXPIRE_WAITS, SET_LIMITS, ANNOUNCE_NODE ->
                    throw notARequest(r);
        };
    }

    /** A session request whose kind is not a session request's: a record and its kind disagree. */
    private static IllegalStateException notARequest(SessionRequest r) {
        return new IllegalStateException("kind " + r.kind() + " of " + r + " is not a session request's");
    }
}
