package dev.baton.core.session;

import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Session lifecycle. Leases are enforced by the leader (it alone sees keep-alives, so they cost no
 * log writes); this class applies its decisions. Ending a session, for whatever reason, releases
 * everything it held or waited for, like a poolcounterd client disconnecting.
 *
 * <p>The primitives take part through {@link Participant}: this class names none of them.
 */
public final class Sessions {
    private final List<Participant> participants;

    /**
     * @param participants every primitive that holds things for sessions, in the order they are
     *                     asked when a session ends (see {@link Participant})
     */
    public Sessions(List<Participant> participants) {
        this.participants = List.copyOf(participants);
    }

    public Result open(Tx tx, OpenSession c) {
        if (c.clientToken() != null) {
            Result.Rejected bad = tx.checkName("client token", c.clientToken());
            if (bad != null) {
                return bad;
            }
            Long existing = tx.tokens.get(c.clientToken());
            if (existing != null) {
                SessionState s = tx.session(existing);
                return new Result.SessionOpened(s.id(), s.ttlMs(), true, takeOverRequestId(tx, s));
            }
        }
        if (c.ttlMs() < tx.limits.minSessionTtlMs() || c.ttlMs() > tx.limits.maxSessionTtlMs()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "session TTL must be between "
                    + tx.limits.minSessionTtlMs() + " and " + tx.limits.maxSessionTtlMs() + " ms, got " + c.ttlMs());
        }
        if (tx.sessions.size() >= tx.limits.maxSessions()) {
            return Tx.limit("sessions", tx.limits.maxSessions());
        }
        Result.Rejected full = tx.checkBudget("a session", Footprint.session(c.clientToken()));
        if (full != null) {
            return full;
        }
        long id = tx.allocateSessionId();
        tx.putSession(SessionState.open(id, c.clientToken(), c.ttlMs(), tx.now()));
        if (c.clientToken() != null) {
            tx.tokens = tx.tokens.assoc(c.clientToken(), id);
        }
        return new Result.SessionOpened(id, c.ttlMs(), false, 1);
    }

    /**
     * The first request id for a client that opens an existing session by its token: usually a
     * restarted process taking its session back. Were it to start again at 1, its requests would be
     * answered from the window with what the previous client was told (an acquire of "b" answered
     * with the grant of "a"), or refused as too old. So it starts past the highest id the session
     * has used, plus a whole window: requests the previous client still had in flight (a client
     * keeps its outstanding ids within the window, docs/api.md) may be applied after this open, and
     * their ids must not collide with the new client's either. Computed from the replicated window
     * only (its floor covers every forgotten id), so every replica and every snapshot agree.
     */
    static long takeOverRequestId(Tx tx, SessionState s) {
        return s.recent().highestId() + tx.limits.maxRememberedRequests() + 1;
    }

    public Result close(Tx tx, CloseSession c) {
        SessionState s = tx.session(c.session());
        if (s == null) {
            // closing twice (a retry after a lost reply) is fine; an id never issued is not
            return tx.sessionIdIssued(c.session())
                    ? new Result.SessionClosed(c.session())
                    : new Result.Rejected(ErrorCode.UNKNOWN_SESSION, "no session " + Long.toUnsignedString(c.session()));
        }
        end(tx, s, false);
        return new Result.SessionClosed(s.id());
    }

    public Result expire(Tx tx, ExpireSessions c) {
        if (c.sessions() == null) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "sessions must not be null");
        }
        List<Long> ended = new ArrayList<>();
        for (long id : new TreeSet<>(c.sessions())) {
            SessionState s = tx.session(id);
            if (s != null) {
                end(tx, s, true);
                ended.add(id);
            }
        }
        return new Result.SessionsExpired(List.copyOf(ended));
    }

    /** Releases everything the session holds or waits for, then forgets it. */
    public void end(Tx tx, SessionState s, boolean expired) {
        for (Participant p : participants) {
            p.onSessionEnd(tx, s);
        }
        tx.removeSession(s.id());
        if (s.token() != null) {
            tx.tokens = tx.tokens.without(s.token());
        }
        tx.emit(new Effect.SessionEnded(s.id(), expired));
    }

    /** Times out every wait whose deadline is at or before now, oldest deadline first. */
    public int expireWaits(Tx tx) {
        int n = 0;
        while (tx.deadlines.size() > 0) {
            Deadline d = tx.deadlines.firstKey();
            if (d.at() > tx.now()) {
                break;
            }
            WaitRef ref = tx.deadlines.get(d);
            tx.removeDeadline(d.at(), d.waitId());
            ref.owner().onTimeOut(tx, ref.session(), ref.key(), d.waitId());
            n++;
        }
        return n;
    }
}
