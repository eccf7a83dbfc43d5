package dev.baton.client;

/** What a {@link BatonClient} knows about its session; see {@link BatonClient#sessionState()}. */
public enum SessionState {
    /** A keep-alive was acknowledged within the session's TTL. */
    ALIVE,
    /**
     * No keep-alive has been acknowledged for longer than the TTL (the client cannot reach any node,
     * or the nodes cannot renew the lease): the server may have expired the session. The client keeps
     * trying; the state goes back to {@link #ALIVE} on the next acknowledgement, or to {@link #LOST}
     * when a node says the session is gone. Calls are still attempted in this state.
     */
    SUSPECT,
    /** The session has ended (see {@link SessionLostException}); session calls fail at once. */
    LOST,
    /** {@link BatonClient#close()} was called. */
    CLOSED
}
