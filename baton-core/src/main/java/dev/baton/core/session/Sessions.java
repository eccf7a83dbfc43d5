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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Session lifecycle. Leases are enforced by the leader (it alone sees keep-alives, so they cost no
 * log writes); this class applies its decisions. Ending a session, for whatever reason, releases
 * everything it held or waited for, like a poolcounterd client disconnecting.
 *
 * <p>The primitives take part through {@link Participant}: this class names none of them.
 */
public final class Sessions {
    private final SessionTable table;
    private final List<Participant> participants;
    private final Map<String, Participant> byName = new HashMap<>();

    /**
     * @param table        the sessions, shared with the primitives
     * @param participants every primitive that holds things for sessions, in the order they are
     *                     asked when a session ends (see {@link Participant})
     */
    public Sessions(SessionTable table, List<Participant> participants) {
        this.table = table;
        this.participants = List.copyOf(participants);
        for (Participant p : this.participants) {
            if (byName.put(p.name(), p) != null) {
                throw new IllegalArgumentException("two participants are named " + p.name());
            }
        }
    }

    public Result open(Tx tx, OpenSession c) {
        if (c.clientToken() != null) {
            Result.Rejected bad = tx.checkName("client token", c.clientToken());
            if (bad != null) {
                return bad;
            }
            Long existing = table.sessionOfToken(c.clientToken());
            if (existing != null) {
                SessionState s = table.get(existing);
                return new Result.SessionOpened(s.id(), s.ttlMs(), true, takeOverRequestId(tx, s));
            }
        }
        if (c.ttlMs() < tx.limits().minSessionTtlMs() || c.ttlMs() > tx.limits().maxSessionTtlMs()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "session TTL must be between "
                    + tx.limits().minSessionTtlMs() + " and " + tx.limits().maxSessionTtlMs() + " ms, got " + c.ttlMs());
        }
        if (table.size() >= tx.limits().maxSessions()) {
            return Tx.limit("sessions", tx.limits().maxSessions());
        }
        Result.Rejected full = tx.checkBudget("a session", Footprint.session(c.clientToken()));
        if (full != null) {
            return full;
        }
        long id = tx.allocateSessionId();
        table.open(tx, SessionState.open(id, c.clientToken(), c.ttlMs(), tx.now()));
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
        return s.recent().highestId() + tx.limits().maxRememberedRequests() + 1;
    }

    public Result close(Tx tx, CloseSession c) {
        SessionState s = table.get(c.session());
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
            SessionState s = table.get(id);
            if (s != null) {
                end(tx, s, true);
                ended.add(id);
            }
        }
        return new Result.SessionsExpired(List.copyOf(ended));
    }

    /** Releases everything the session holds or waits for, then forgets it. */
    private void end(Tx tx, SessionState s, boolean expired) {
        for (Participant p : participants) {
            p.onSessionEnd(tx, s);
        }
        table.forget(tx, s);
        tx.emit(new Effect.SessionEnded(s.id(), expired));
    }

    /** Times out every wait whose deadline is at or before now, oldest deadline first. */
    public int expireWaits(Tx tx) {
        int n = 0;
        for (Deadline d = table.firstDeadline(); d != null && d.at() <= tx.now(); d = table.firstDeadline()) {
            WaitRef ref = table.waitAt(d);
            table.removeDeadline(d.at(), d.waitId());
            byName.get(ref.owner()).onTimeOut(tx, ref.session(), ref.key(), d.waitId());
            n++;
        }
        return n;
    }
}
