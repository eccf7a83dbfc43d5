package dev.baton.client.internal;

import dev.baton.client.BatonEvent;
import dev.baton.client.SessionLostException;
import dev.baton.client.SessionState;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionsGrpc;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.lang.System.Logger.Level;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Keeps one session alive through a {@code Sessions.KeepAlive} stream.
 *
 * <ul>
 *   <li>The stream goes to the current endpoint; its first message names the session, and a
 *       {@code KeepAliveRequest} follows every ttl/3 (ttl as granted by the server, updated by acks).</li>
 *   <li>If the stream fails (any status but {@code FAILED_PRECONDITION}, or a plain end), the endpoint
 *       is marked failed and the stream reopened on the next endpoint at once, then after 20 ms doubling
 *       to 1 s while attempts keep failing; an ack resets the backoff.</li>
 *   <li>If a keep-alive stays unacknowledged for ttl/3 (a hung node or a silent network), the stream
 *       is cancelled and reopened on the next endpoint in the same way.</li>
 *   <li>{@code FAILED_PRECONDITION} on the stream, a {@code SessionEnded} for this session, or a call
 *       answered {@code UNKNOWN_SESSION} means the session is lost: the loss is recorded once, the
 *       stream stops and the listener is told once.</li>
 *   <li>Events other than acks go to the event listener, in order, on the client's event thread.</li>
 * </ul>
 * All stream operations run under {@code lock}; timers run on the client's scheduler.
 */
public final class SessionKeeper {
    private static final System.Logger LOG = System.getLogger(SessionKeeper.class.getName());

    public static final long MIN_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    public static final long INITIAL_REOPEN_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    public static final long MAX_REOPEN_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final long session;
    private final Endpoints endpoints;
    private final ScheduledExecutorService scheduler;
    private final Executor events;
    private final Consumer<BatonEvent> onEvent;
    private final Consumer<SessionLostException> onLost;

    private final AtomicReference<SessionLostException> lost = new AtomicReference<>();
    private final Object lock = new Object();
    private volatile long ttlNanos;
    private volatile long lastAckNanos;
    private volatile boolean stopped;

    // guarded by lock
    private Stream stream;
    private ScheduledFuture<?> tick;
    private boolean reopenScheduled;
    private long reopenBackoffNanos;
    private long lastSentNanos;
    /** When the oldest keep-alive not yet acknowledged on the current stream was sent; 0: none. */
    private long unackedSinceNanos;

    public SessionKeeper(long session, long ttlNanos, Endpoints endpoints, ScheduledExecutorService scheduler,
            Executor events, Consumer<BatonEvent> onEvent, Consumer<SessionLostException> onLost) {
        this.session = session;
        this.ttlNanos = ttlNanos;
        this.endpoints = endpoints;
        this.scheduler = scheduler;
        this.events = events;
        this.onEvent = onEvent;
        this.onLost = onLost;
        this.lastAckNanos = System.nanoTime();
    }

    /** Opens the stream and starts the timer. */
    public void start() {
        synchronized (lock) {
            openLocked();
            tick = scheduler.schedule(this::tick, tickNanos(), TimeUnit.NANOSECONDS);
        }
    }

    /** Stops keeping the session alive, without reporting a loss (the client is closing). */
    public void stop() {
        stopped = true;
        synchronized (lock) {
            if (tick != null) {
                tick.cancel(false);
            }
            if (stream != null) {
                stream.cancel("the Baton client is closing");
                stream = null;
            }
        }
    }

    public SessionLostException lost() {
        return lost.get();
    }

    public long ttlNanos() {
        return ttlNanos;
    }

    public SessionState state() {
        if (lost.get() != null) {
            return SessionState.LOST;
        }
        if (stopped) {
            return SessionState.CLOSED;
        }
        return System.nanoTime() - lastAckNanos > ttlNanos ? SessionState.SUSPECT : SessionState.ALIVE;
    }

    /** Records the session's loss; the first report stops the keep-alives and tells the listener. */
    public void sessionLost(SessionLostException e) {
        if (!lost.compareAndSet(null, e)) {
            return;
        }
        LOG.log(Level.DEBUG, "Baton session {0} lost: {1}", Long.toUnsignedString(session), e.getMessage());
        synchronized (lock) {
            if (tick != null) {
                tick.cancel(false);
            }
            if (stream != null) {
                stream.cancel("the session is lost");
                stream = null;
            }
        }
        if (!stopped) {
            deliver(() -> onLost.accept(e));
        }
    }

    private long periodNanos() {
        return Math.max(MIN_PERIOD_NANOS, ttlNanos / 3);
    }

    /** The timer runs four times per period, so that sends are between 3/4 and 1 period apart. */
    private long tickNanos() {
        return Math.max(MIN_PERIOD_NANOS / 4, periodNanos() / 4);
    }

    /** A keep-alive unacknowledged for this long means the stream (or its node) is stuck. */
    private long silenceLimitNanos() {
        return periodNanos();
    }

    private boolean active() {
        return !stopped && lost.get() == null;
    }

    private void tick() {
        synchronized (lock) {
            if (!active()) {
                return;
            }
            try {
                long now = System.nanoTime();
                if (stream != null) {
                    if (unackedSinceNanos != 0 && now - unackedSinceNanos > silenceLimitNanos()) {
                        LOG.log(Level.DEBUG, "Baton keep-alive stream on {0} is silent; moving on", stream.ep);
                        Stream silent = stream;
                        stream = null;
                        silent.cancel("no keep-alive acknowledged");
                        endpoints.failed(silent.ep);
                        openLocked();
                    } else if (now - lastSentNanos >= periodNanos() - tickNanos()) {
                        stream.send();
                    }
                } else if (!reopenScheduled) {
                    openLocked();
                }
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "Baton keep-alive timer failed", e);
            } finally {
                try {
                    tick = scheduler.schedule(this::tick, tickNanos(), TimeUnit.NANOSECONDS);
                } catch (RejectedExecutionException ignored) {
                    // the client is closing
                }
            }
        }
    }

    private void openLocked() {
        if (!active() || stream != null) {
            return;
        }
        Endpoints.Endpoint ep = endpoints.current();
        Stream s = new Stream(ep);
        stream = s;
        unackedSinceNanos = 0;
        try {
            SessionsGrpc.newStub(ep.calls).keepAlive(s);
            s.send();
        } catch (RuntimeException e) {
            stream = null;
            s.cancel("cannot open the keep-alive stream");
            endpoints.failed(ep);
            scheduleReopenLocked();
        }
    }

    private void scheduleReopenLocked() {
        if (reopenScheduled || !active()) {
            return;
        }
        reopenScheduled = true;
        long delay = reopenBackoffNanos;
        reopenBackoffNanos = delay == 0 ? INITIAL_REOPEN_BACKOFF_NANOS : Math.min(MAX_REOPEN_BACKOFF_NANOS, delay * 2);
        try {
            scheduler.schedule(() -> {
                synchronized (lock) {
                    reopenScheduled = false;
                    openLocked();
                }
            }, delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException ignored) {
            reopenScheduled = false;
        }
    }

    private void streamEnded(Stream s, Status status, Metadata trailers) {
        synchronized (lock) {
            if (s != stream || !active()) {
                return;
            }
            stream = null;
            if (status.getCode() == Status.Code.FAILED_PRECONDITION) {
                // handled below, outside the lock
            } else {
                LOG.log(Level.DEBUG, "Baton keep-alive stream on {0} ended: {1}; reopening", s.ep, status);
                endpoints.leaderHint(Errors.leader(trailers), s.ep);
                endpoints.failed(s.ep);
                scheduleReopenLocked();
                return;
            }
        }
        sessionLost(new SessionLostException(session, "the keep-alive stream for session "
                + Long.toUnsignedString(session) + " ended with " + status.getCode()
                + (status.getDescription() != null ? ": " + status.getDescription() : ""),
                status.asRuntimeException(trailers)));
    }

    private void received(Stream s, SessionEvent event) {
        if (event.hasAck()) {
            lastAckNanos = System.nanoTime();
            long ttlMs = event.getAck().getTtlMs();
            if (ttlMs > 0) {
                ttlNanos = TimeUnit.MILLISECONDS.toNanos(ttlMs);
            }
            synchronized (lock) {
                if (s == stream) {
                    reopenBackoffNanos = 0;
                    unackedSinceNanos = 0;
                }
            }
            return;
        }
        if (!active()) {
            return;
        }
        BatonEvent converted = EventCodec.of(event);
        if (converted != null) {
            deliver(() -> onEvent.accept(converted));
        }
        if (event.hasSessionEnded() && event.getSessionEnded().getSession() == session) {
            boolean expired = event.getSessionEnded().getExpired();
            sessionLost(new SessionLostException(session, "session " + Long.toUnsignedString(session)
                    + (expired ? " expired: its lease ran out" : " was closed"), null));
        }
    }

    private void deliver(Runnable r) {
        try {
            events.execute(() -> {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "A Baton client listener failed", e);
                }
            });
        } catch (RejectedExecutionException ignored) {
            // the client is closed
        }
    }

    /** One keep-alive stream. Its methods are called under {@code lock}, except the observer callbacks. */
    private final class Stream implements ClientResponseObserver<KeepAliveRequest, SessionEvent> {
        final Endpoints.Endpoint ep;
        private ClientCallStreamObserver<KeepAliveRequest> requests;
        private boolean cancelled;

        Stream(Endpoints.Endpoint ep) {
            this.ep = ep;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<KeepAliveRequest> requestStream) {
            this.requests = requestStream;
        }

        void send() {
            if (requests != null && !cancelled) {
                requests.onNext(KeepAliveRequest.newBuilder().setSession(session).build());
                lastSentNanos = System.nanoTime();
                if (unackedSinceNanos == 0) {
                    unackedSinceNanos = lastSentNanos;
                }
            }
        }

        void cancel(String why) {
            if (requests != null && !cancelled) {
                cancelled = true;
                requests.cancel(why, null);
            }
        }

        @Override
        public void onNext(SessionEvent event) {
            received(this, event);
        }

        @Override
        public void onError(Throwable t) {
            streamEnded(this, Status.fromThrowable(t), Status.trailersFromThrowable(t));
        }

        @Override
        public void onCompleted() {
            streamEnded(this, Status.UNAVAILABLE.withDescription("the server ended the keep-alive stream"), null);
        }
    }
}
