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
import dev.baton.core.session.Sessions;

/**
 * Routes one command to its primitive. Session checks and idempotency live here, once, for every
 * session request: the session must be live; a request id already answered gets its remembered
 * answer without being executed again; every answer, rejections included, is remembered. (A
 * request id names one attempt: a client re-sends it only when it lost the answer, and makes a
 * new attempt with a new id.)
 */
final class Applier {
    private Applier() {}

    static Result apply(Tx tx, Command c, int expiredAtEntryStart) {
        if (c instanceof SessionRequest r) {
            return applyRequest(tx, r);
        }
        if (c instanceof OpenSession o) {
            return Sessions.open(tx, o);
        }
        if (c instanceof OpenSessionThen o) {
            return openThen(tx, o);
        }
        if (c instanceof ExpireSessions e) {
            return Sessions.expire(tx, e);
        }
        if (c instanceof ExpireWaits) {
            return new Result.WaitsExpired(expiredAtEntryStart);
        }
        if (c instanceof SetLimits s) {
            if (s.limits() == null) {
                return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "limits must not be null");
            }
            tx.limits = s.limits();
            return new Result.LimitsSet(s.limits());
        }
        if (c instanceof AnnounceNode a) {
            return Nodes.announce(tx, a);
        }
        throw new IllegalArgumentException("unhandled command " + c);
    }

    /**
     * Opens the session, then runs the first command on it. Checked before anything changes: a
     * malformed pair (no open, no first command, a first command that names a session of its own or
     * closes it) is refused whole.
     */
    private static Result openThen(Tx tx, OpenSessionThen c) {
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
        Result opened = Sessions.open(tx, c.open());
        if (!(opened instanceof Result.SessionOpened o)) {
            return opened; // refused: nothing was opened, nothing else runs
        }
        return new Result.SessionOpenedThen(o, applyRequest(tx, c.first().withSession(o.session())));
    }

    private static Result applyRequest(Tx tx, SessionRequest r) {
        long sid = r.session();
        long rid = r.requestId();
        SessionState s = null;
        if (sid != 0) {
            s = tx.session(sid);
            if (s == null) {
                return r instanceof CloseSession cs ? Sessions.close(tx, cs)
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
                if (tx.stateBytes() >= tx.limits.maxStateBytes() && !freesState(r)) {
                    // Over the budget only commands that free or consume state run; refusing the
                    // rest without remembering the refusal keeps their answers from growing it.
                    return new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, "state budget full: "
                            + tx.stateBytes() + " of " + tx.limits.maxStateBytes()
                            + " bytes in use (limit maxStateBytes); only releases, closes and queue claims run");
                }
            }
        } else if (needsSession(r)) {
            return new Result.Rejected(ErrorCode.UNKNOWN_SESSION, "this command needs a session");
        }
        Result res = execute(tx, s, r);
        if (sid != 0 && rid != 0) {
            SessionState after = tx.session(sid);
            if (after != null) {
                tx.putSession(after.withRecent(after.recent().with(rid, CommandCodec.fingerprint(r), res,
                        tx.limits.maxRememberedRequests())));
            }
        }
        return res;
    }

    /**
     * Commands that give back what a session holds, or consume queue items (a full queue must
     * still drain): they run even when the state budget is used up.
     */
    private static boolean freesState(SessionRequest r) {
        return r instanceof PoolRelease || r instanceof LockRelease || r instanceof CloseSession
                || r instanceof DispatchRelease || r instanceof EventComplete || r instanceof QueueDone
                || r instanceof QueueRetry || r instanceof QueueClaim;
    }

    /** Commands that hold something on the session's behalf need one; the others may be sent without. */
    private static boolean needsSession(SessionRequest r) {
        return !(r instanceof DispatchInit || r instanceof DispatchAdvance || r instanceof DispatchSetDisabled
                || r instanceof EventComplete || r instanceof QueueEnqueue);
    }

    private static Result execute(Tx tx, SessionState s, SessionRequest r) {
        if (r instanceof PoolAcquire c) {
            return Pools.acquire(tx, s, c);
        }
        if (r instanceof PoolRelease c) {
            return Pools.release(tx, s, c);
        }
        if (r instanceof LockAcquire c) {
            return Locks.acquire(tx, s, c);
        }
        if (r instanceof LockRelease c) {
            return Locks.release(tx, s, c);
        }
        if (r instanceof CloseSession c) {
            return Sessions.close(tx, c);
        }
        if (r instanceof DispatchInit c) {
            return Dispatch.init(tx, c);
        }
        if (r instanceof DispatchAdvance c) {
            return Dispatch.advance(tx, c);
        }
        if (r instanceof DispatchSelect c) {
            return Dispatch.select(tx, s, c);
        }
        if (r instanceof DispatchLock c) {
            return Dispatch.lock(tx, s, c);
        }
        if (r instanceof DispatchRelease c) {
            return Dispatch.release(tx, s, c);
        }
        if (r instanceof DispatchSetDisabled c) {
            return Dispatch.setDisabled(tx, c);
        }
        if (r instanceof EventBegin c) {
            return Events.begin(tx, s, c);
        }
        if (r instanceof EventComplete c) {
            return Events.complete(tx, c);
        }
        if (r instanceof QueueEnqueue c) {
            return Queues.enqueue(tx, c);
        }
        if (r instanceof QueueClaim c) {
            return Queues.claim(tx, s, c);
        }
        if (r instanceof QueueDone c) {
            return Queues.done(tx, s, c);
        }
        if (r instanceof QueueRetry c) {
            return Queues.retry(tx, s, c);
        }
        throw new IllegalArgumentException("unhandled command " + r);
    }
}
