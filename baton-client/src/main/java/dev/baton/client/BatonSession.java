package dev.baton.client;

import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * One session of a {@link BatonClient}, made with {@link BatonClient#newSession()}, for callers that
 * want a unit of work on a session of its own: whatever it acquires is held by this session alone,
 * and ends with it. It has the same views as the client, but every call is made on this one session,
 * so the server's per-session limits apply to it directly (a few pool slots, one waiting pool acquire,
 * one waiting acquire per lock name). It shares the client's connections, retries and listeners.
 * {@link BatonClient#session()} is the client's own (first) session seen the same way.
 * Safe for use by many threads. {@link #close()} ends the session (releasing what it holds); closing
 * the client closes it too.
 *
 * <p>A session closed while it holds and waits for nothing, and on which no dispatch, event or queue
 * call was made, is not closed on the cluster at once: the client keeps it for about two seconds and
 * gives it to the next {@link BatonClient#newSession()}, which then costs no round trip and no log
 * entry (up to 64 kept per client). To its next user it is a session that holds nothing, like a new
 * one; only its {@link #sessionId()} may be one an earlier, closed {@code BatonSession} of the same
 * client had. The handle that was closed is done with it: its calls fail with
 * {@link BatonClosedException}.
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
    /** Where a session closed with nothing held goes to wait for its next user; null: closed at once. */
    private final Consumer<ClientSession> keep;
    /** Whether {@link #close()} was called on this handle. */
    private volatile boolean closed;
    /** False for the client's own session ({@link BatonClient#session()}), which lives as long as the client. */
    private final boolean closable;

    BatonSession(ClientCore core, ClientSession session, Consumer<ClientSession> keep, Runnable onClose) {
        this(core, session, SessionSet.single(core, session), keep, onClose, true);
    }

    /** The client's own session, sharing the client's set (and so its account of what the session holds). */
    BatonSession(ClientCore core, SessionSet clientSet) {
        this(core, clientSet.primary(), clientSet, null, () -> {}, false);
    }

    private BatonSession(ClientCore core, ClientSession session, SessionSet set, Consumer<ClientSession> keep,
            Runnable onClose, boolean closable) {
        this.session = session;
        this.keep = keep;
        this.set = set;
        this.closable = closable;
        this.pools = new Pools(core, set, true);
        this.locks = new Locks(core, set, true);
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

    /**
     * What the client knows about this session; see {@link SessionState}. {@link SessionState#CLOSED}
     * once this handle is closed, even when the client kept the session for its next user.
     */
    public SessionState sessionState() {
        return closed ? SessionState.CLOSED : session.state();
    }

    /**
     * Ends the session; see {@link BatonClient#close()}: what it holds is released, and calls through
     * this handle fail from now on. A session that holds nothing may be kept for the client's next
     * {@link BatonClient#newSession()} instead (see above). Idempotent. Does nothing for the client's
     * own session ({@link BatonClient#session()}), which ends with the client.
     */
    @Override
    public void close() {
        if (!closable) {
            return;
        }
        closed = true;
        if (keep != null && set.retireIfIdle()) {
            keep.accept(session);
        } else {
            set.close();
        }
        onClose.run();
    }
}
