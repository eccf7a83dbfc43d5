package dev.baton.client.internal;

import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.OpenSessionResponse;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonEvent;
import dev.baton.client.RequestReply;
import dev.baton.client.SessionLostException;
import dev.baton.client.SessionState;
import io.grpc.MethodDescriptor;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.LongFunction;

/**
 * One server session of a client: its id, its request-id window, its keep-alive stream, and what the
 * client placed on it (for {@link SessionSet}). Writes made on behalf of the session carry its id and
 * a request id from its window. Not part of the client's API.
 */
public final class ClientSession implements Invoker.SessionHooks {
    private static final System.Logger LOG = System.getLogger(ClientSession.class.getName());

    private final ClientCore core;
    private final RequestWindow window = new RequestWindow();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final boolean nodeWideEvents;
    private volatile long id;
    private volatile SessionKeeper keeper;
    /** Called once when the session is known lost (after the client's own listener). */
    private volatile Consumer<ClientSession> onLost = s -> {};
    /** Sees every event of this session before the client's listener does. */
    private volatile Consumer<BatonEvent> onOwnEvent = e -> {};

    // what the client placed on the session; guarded by the SessionSet that owns it
    int poolSlots;
    boolean poolAcquiring;
    final Set<String> lockAcquiring = new HashSet<>();
    /** Locks an acquire of unknown outcome on this session is being settled for; done when settled. */
    final java.util.Map<String, java.util.concurrent.CompletableFuture<Void>> locksInDoubt = new java.util.HashMap<>();
    int locksHeld;
    long idleSinceNanos = System.nanoTime();
    /**
     * Whether a write of a kind the client keeps no account of (dispatch, events, queues) was made on
     * the session: it may hold something on the server, so it is never handed to another user.
     */
    volatile boolean madeUntrackedWrites;

    private ClientSession(ClientCore core, boolean nodeWideEvents) {
        this.core = core;
        this.nodeWideEvents = nodeWideEvents;
    }

    /**
     * Opens a session (retrying for up to the client's retryFor) and starts its keep-alives.
     *
     * @param token          the client token naming the session
     * @param nodeWideEvents whether events sent to every session ({@code EventCompleted},
     *                       {@code QueueClaimable}) reach the client's listener from this one
     */
    public static CompletableFuture<ClientSession> open(ClientCore core, String token, boolean nodeWideEvents) {
        ClientSession s = new ClientSession(core, nodeWideEvents);
        Duration ttl = core.settings().sessionTtl();
        OpenSessionRequest request = OpenSessionRequest.newBuilder()
                .setClientToken(token)
                .setTtlMs(ttl.toMillis())
                .build();
        return ClientCore.map(core.run(SessionsGrpc.getOpenMethod(), request, core.policy("Sessions.Open", null)),
                opened -> {
                    s.started(opened);
                    return s;
                });
    }

    private void started(OpenSessionResponse opened) {
        this.id = opened.getSession();
        // a token of a live session: its ids so far belong to another client (or an earlier attempt)
        window.startAt(opened.getNextRequestId());
        Duration ttl = core.settings().sessionTtl();
        long ttlMs = opened.getTtlMs() > 0 ? opened.getTtlMs() : ttl.isZero() ? 10_000 : ttl.toMillis();
        SessionKeeper k = new SessionKeeper(id, TimeUnit.MILLISECONDS.toNanos(ttlMs), core.endpoints(),
                core.scheduler(), core.events(), this::event, this::lost);
        this.keeper = k;
        k.start();
        LOG.log(Level.DEBUG, "Baton session {0} opened (ttl {1} ms{2})", Long.toUnsignedString(id), ttlMs,
                opened.getExisting() ? ", existing" : "");
    }

    /**
     * A stand-in for a session its user closed while the session itself lives on for another user of
     * the client (see {@link IdleSessions}): every write through it fails with
     * {@link dev.baton.client.BatonClosedException}, as on a closed session.
     */
    static ClientSession closedStandIn(ClientCore core) {
        ClientSession s = new ClientSession(core, false);
        s.closed.set(true);
        s.window.close(new dev.baton.client.BatonClosedException("the Baton session was closed"));
        return s;
    }

    /** Whether no write of the session is waiting for a request id or for its answer. */
    boolean writesQuiet() {
        return window.quiet();
    }

    void listen(Consumer<ClientSession> lost, Consumer<BatonEvent> ownEvents) {
        this.onLost = lost;
        this.onOwnEvent = ownEvents;
    }

    private void event(BatonEvent e) {
        boolean own;
        if (e instanceof BatonEvent.PoolWaitEnded p) {
            own = p.session() == id;
        } else if (e instanceof BatonEvent.LockWaitEnded l) {
            own = l.session() == id;
        } else if (e instanceof BatonEvent.SessionEnded s) {
            own = s.session() == id;
        } else {
            own = false;
        }
        if (own) {
            onOwnEvent.accept(e);
        }
        if (own || nodeWideEvents) {
            core.settings().onEvent().accept(e);
        }
    }

    private void lost(SessionLostException e) {
        try {
            core.settings().onSessionLost().accept(e);
        } finally {
            onLost.accept(this);
        }
    }

    // ---- Invoker.SessionHooks -------------------------------------------------------------------

    @Override
    public long sessionId() {
        return id;
    }

    @Override
    public SessionLostException lost() {
        SessionKeeper k = keeper;
        return k == null ? null : k.lost();
    }

    @Override
    public void sessionLost(SessionLostException e) {
        SessionKeeper k = keeper;
        if (k != null) {
            k.sessionLost(e);
        }
    }

    public ClientCore core() {
        return core;
    }

    /** The session's lease as granted by the server (and updated by keep-alive acknowledgements). */
    public Duration ttl() {
        return Duration.ofNanos(keeper.ttlNanos());
    }

    /** What the client knows about the session; see {@link SessionState}. */
    public SessionState state() {
        if (closed.get() || core.closed()) {
            return SessionState.CLOSED;
        }
        return keeper.state();
    }

    public long peekNextRequestId() {
        return window.peekNextId();
    }

    public int queuedWrites() {
        return window.queued();
    }

    // ---- writes ---------------------------------------------------------------------------------

    /**
     * A write made for the session: it gets its request id from the window (when the window allows)
     * and keeps it on every attempt. Fails at once, without using an id, when the session is known
     * lost or closed.
     */
    public <Req, Resp> CompletableFuture<Resp> write(MethodDescriptor<Req, Resp> method, LongFunction<Req> build,
            Invoker.Policy policy) {
        CompletableFuture<Resp> refused = refusal();
        if (refused != null) {
            return refused;
        }
        return window.submit(rid -> core.invoker().call(method, build.apply(rid), policy));
    }

    /** {@link #write} whose reply comes with the request id it was given. */
    public <Req, Resp> CompletableFuture<RequestReply<Resp>> writeWithId(MethodDescriptor<Req, Resp> method,
            LongFunction<Req> build, Invoker.Policy policy) {
        CompletableFuture<RequestReply<Resp>> refused = refusal();
        if (refused != null) {
            return refused;
        }
        return window.submit(rid -> ClientCore.map(core.invoker().call(method, build.apply(rid), policy),
                r -> new RequestReply<>(rid, r)));
    }

    private <T> CompletableFuture<T> refusal() {
        if (core.closed()) {
            return CompletableFuture.failedFuture(new BatonClosedException("the Baton client is closed"));
        }
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BatonClosedException("the Baton session "
                    + Long.toUnsignedString(id) + " is closed"));
        }
        SessionLostException lost = lost();
        return lost == null ? null : CompletableFuture.failedFuture(lost);
    }

    // ---- closing --------------------------------------------------------------------------------

    /**
     * Ends the session: stops the keep-alives, sends {@code Sessions.Close} (best effort, about two
     * seconds at most; if it fails the session expires after its TTL) and fails writes still waiting
     * for the window. Idempotent.
     */
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        SessionKeeper k = keeper;
        if (k != null) {
            k.stop();
            if (k.lost() == null && !core.closed()) {
                closeOnServer();
            }
        }
        window.close(new BatonClosedException("the Baton session was closed before the call could start"));
    }

    /** Stops the keep-alives without telling the server (the client could not finish opening). */
    public void abandon() {
        closed.set(true);
        SessionKeeper k = keeper;
        if (k != null) {
            k.stop();
        }
    }

    private void closeOnServer() {
        Invoker.Policy policy = core.closePolicy();
        CloseSessionRequest request = CloseSessionRequest.newBuilder()
                .setSession(id)
                .setRequestId(window.takeUnbounded())
                .build();
        CompletableFuture<?> f = core.invoker().call(SessionsGrpc.getCloseMethod(), request, policy);
        try {
            f.get(policy.retryBudgetNanos() + policy.attemptTimeoutNanos() + TimeUnit.MILLISECONDS.toNanos(500),
                    TimeUnit.NANOSECONDS);
            LOG.log(Level.DEBUG, "Baton session {0} closed", Long.toUnsignedString(id));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
        } catch (ExecutionException | TimeoutException | CancellationException e) {
            f.cancel(true);
            LOG.log(Level.DEBUG, "Closing Baton session " + Long.toUnsignedString(id)
                    + " failed; it will expire after its TTL", e);
        }
    }

    @Override
    public String toString() {
        return "session " + Long.toUnsignedString(id);
    }
}
