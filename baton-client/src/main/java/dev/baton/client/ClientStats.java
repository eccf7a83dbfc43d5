package dev.baton.client;

import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.SessionSet;

/**
 * Figures about one {@link BatonClient}, cheap to read at any time (for metrics: the Spring Boot
 * starter binds them to Micrometer). Each method reads the current value; nothing is kept.
 * Get it with {@link BatonClient#stats()}.
 */
public final class ClientStats {
    private final BatonClient client;
    private final ClientCore core;
    private final SessionSet sessions;

    ClientStats(BatonClient client, ClientCore core, SessionSet sessions) {
        this.client = client;
        this.core = core;
        this.sessions = sessions;
    }

    /**
     * Sessions the client has open for its views now: its first session plus those opened for extra
     * acquires (not counting sessions made with {@link BatonClient#newSession()}).
     */
    public int openSessions() {
        return sessions.size();
    }

    /**
     * Sessions closed through {@link BatonSession#close()} with nothing held that the client keeps for
     * its next {@link BatonClient#newSession()} (at most 64, each for about two seconds).
     */
    public int keptSessions() {
        return client.keptSessions();
    }

    /** Calls sent and not answered yet, waiting pool and lock acquires included. */
    public int callsInFlight() {
        return core.callsInFlight();
    }

    /**
     * Failed attempts that were sent again (to the next node, after a backoff) since the client was
     * built: a count that grows during fail-overs and while nodes are unreachable.
     */
    public long retries() {
        return core.retries();
    }

    /**
     * Pool and lock acquires whose caller got no answer (unavailable, deadline passed, cancelled,
     * interrupted) that the client is settling in the background now: asking the cluster again with
     * the same request id, and releasing the grant if there was one. Stays above zero while no node
     * answers.
     */
    public int acquiresInDoubt() {
        return core.acquiresInDoubt();
    }

    /** What the client knows about its first session ({@link BatonClient#sessionState()}). */
    public SessionState sessionState() {
        return client.sessionState();
    }

    @Override
    public String toString() {
        return "ClientStats[sessions=" + openSessions() + ", kept=" + keptSessions() + ", inFlight=" + callsInFlight() + ", retries=" + retries()
                + ", inDoubt=" + acquiresInDoubt() + ", state=" + sessionState() + "]";
    }
}
