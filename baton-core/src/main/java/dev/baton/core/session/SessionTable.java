package dev.baton.core.session;

import dev.baton.core.command.Result;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * The sessions while a batch is applied: every live session by id, the client tokens that name
 * them, and the deadlines of every pending wait. The primitives read and write sessions here (a
 * session records what it holds in each of them); only {@link Sessions} opens and forgets them.
 *
 * <p>{@link #load} starts a batch from the published state's maps (the hash maps become transients,
 * edited in place); {@link #freeze} gives the next state's. Only the apply thread
 * uses a SessionTable.
 */
public final class SessionTable {
    private MutHashMap<Long, SessionState> sessions;
    private MutHashMap<String, Long> tokens;
    private PersistentTreeMap<Deadline, WaitRef> deadlines;

    /** Starts a batch from the published state's sessions. */
    public void load(SessionData d) {
        sessions = d.sessions().mutable();
        tokens = d.tokens().mutable();
        deadlines = d.deadlines();
    }

    /** The sessions as they are now, for the next published state (O(1)). */
    public SessionData freeze() {
        return new SessionData(sessions.immutable(), tokens.immutable(), deadlines);
    }

    public SessionState get(long id) {
        return sessions.get(id);
    }

    public int size() {
        return sessions.size();
    }

    /** Writes a session back, keeping the state's byte count. */
    public void put(Tx tx, SessionState s) {
        SessionState old = sessions.get(s.id());
        tx.charge(Footprint.session(s) - (old == null ? 0 : Footprint.session(old)));
        sessions = sessions.assoc(s.id(), s);
    }

    /**
     * Records the final outcome of a request that first answered "queued", so that a client retrying
     * it after a lost stream learns what happened instead of a stale "queued".
     */
    public void rememberOutcome(Tx tx, long sessionId, long requestId, Result outcome) {
        if (requestId == 0) {
            return;
        }
        SessionState s = sessions.get(sessionId);
        if (s != null) {
            put(tx, s.withRecent(s.recent().replace(requestId, outcome)));
        }
    }

    public void addDeadline(long at, long waitId, WaitRef ref) {
        deadlines = deadlines.assoc(new Deadline(at, waitId), ref);
    }

    public void removeDeadline(long at, long waitId) {
        deadlines = deadlines.without(new Deadline(at, waitId));
    }

    // ---- for Sessions alone: opening, forgetting, tokens, the deadline order -------------------

    Long sessionOfToken(String token) {
        return tokens.get(token);
    }

    void open(Tx tx, SessionState s) {
        put(tx, s);
        if (s.token() != null) {
            tokens = tokens.assoc(s.token(), s.id());
        }
    }

    void forget(Tx tx, SessionState s) {
        SessionState old = sessions.get(s.id());
        if (old != null) {
            tx.charge(-Footprint.session(old));
            sessions = sessions.without(s.id());
        }
        if (s.token() != null) {
            tokens = tokens.without(s.token());
        }
    }

    /** The earliest pending deadline, or null. */
    Deadline firstDeadline() {
        return deadlines.size() == 0 ? null : deadlines.firstKey();
    }

    WaitRef waitAt(Deadline d) {
        return deadlines.get(d);
    }
}
