package dev.baton.client;

import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import java.time.Duration;

/**
 * One session of a {@link BatonClient}, made with {@link BatonClient#newSession()}, for callers that
 * want a unit of work on a session of its own: whatever it acquires is held by this session alone,
 * and ends with it. It has the same views as the client, but every call is made on this one session,
 * so the server's per-session limits apply to it directly (a few pool slots, one waiting pool acquire,
 * one waiting acquire per lock name). It shares the client's connections, retries and listeners.
 * Safe for use by many threads. {@link #close()} ends the session (releasing what it holds); closing
 * the client closes it too.
 */
public final class BatonSession implements AutoCloseable {
    private final ClientSession session;
    private final SessionSet set;
    private final Pools pools;
    private final Locks locks;
    private final Dispatch dispatch;
    private final Events events;
    private final Queues queues;
    private final Sessions sessions;
    private final Runnable onClose;

    BatonSession(ClientCore core, ClientSession session, Runnable onClose) {
        this.session = session;
        this.set = SessionSet.single(core, session);
        this.pools = new Pools(core, set);
        this.locks = new Locks(core, set);
        this.dispatch = new Dispatch(core, set);
        this.events = new Events(core, set);
        this.queues = new Queues(core, set);
        this.sessions = new Sessions(core, set);
        this.onClose = onClose;
    }

    public Pools pools() {
        return pools;
    }

    public Locks locks() {
        return locks;
    }

    public Dispatch dispatch() {
        return dispatch;
    }

    public Events events() {
        return events;
    }

    public Queues queues() {
        return queues;
    }

    public Sessions sessions() {
        return sessions;
    }

    /** The session's id, as granted by the server. */
    public long sessionId() {
        return session.sessionId();
    }

    /** The session's lease as granted by the server. */
    public Duration sessionTtl() {
        return session.ttl();
    }

    /** What the client knows about this session; see {@link SessionState}. */
    public SessionState sessionState() {
        return session.state();
    }

    /** Ends the session; see {@link BatonClient#close()}. Idempotent. */
    @Override
    public void close() {
        set.close();
        onClose.run();
    }
}
