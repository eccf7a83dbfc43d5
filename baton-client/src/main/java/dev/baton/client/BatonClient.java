package dev.baton.client;

import com.google.protobuf.ByteString;
import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.DispatchAdvanceRequest;
import dev.baton.api.v1.DispatchGrpc;
import dev.baton.api.v1.DispatchInitRequest;
import dev.baton.api.v1.DispatchLockRequest;
import dev.baton.api.v1.DispatchReleaseRequest;
import dev.baton.api.v1.DispatchReply;
import dev.baton.api.v1.DispatchSelectRequest;
import dev.baton.api.v1.DispatchSetDisabledRequest;
import dev.baton.api.v1.DispatchSettings;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.DumpResponse;
import dev.baton.api.v1.EventBeginRequest;
import dev.baton.api.v1.EventCompleteRequest;
import dev.baton.api.v1.EventInfo;
import dev.baton.api.v1.EventReply;
import dev.baton.api.v1.EventsGrpc;
import dev.baton.api.v1.GetEventRequest;
import dev.baton.api.v1.GetGroupRequest;
import dev.baton.api.v1.GetLockRequest;
import dev.baton.api.v1.GetPoolRequest;
import dev.baton.api.v1.GetPoolTotalsRequest;
import dev.baton.api.v1.GetQueueRequest;
import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.GroupInfo;
import dev.baton.api.v1.ListEventsRequest;
import dev.baton.api.v1.ListEventsResponse;
import dev.baton.api.v1.ListSessionsRequest;
import dev.baton.api.v1.ListSessionsResponse;
import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockInfo;
import dev.baton.api.v1.LockReleaseRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.MemberRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.OpenSessionResponse;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolInfo;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolTotals;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.QueueClaimRequest;
import dev.baton.api.v1.QueueDoneRequest;
import dev.baton.api.v1.QueueEnqueueRequest;
import dev.baton.api.v1.QueueInfo;
import dev.baton.api.v1.QueueReply;
import dev.baton.api.v1.QueueRetryRequest;
import dev.baton.api.v1.QueuesGrpc;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionInfo;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.api.v1.SnapshotResponse;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongFunction;
import java.util.function.Supplier;

/**
 * A client of a Baton cluster, holding one session.
 *
 * <p>{@link #builder()}{@code .endpoints(...).build()} (or {@link #connect(String...)}) opens a
 * session on the cluster and keeps it alive in the background until {@link #close()}. Every
 * primitive is offered twice: {@code fooAsync(...)} returns a {@link CompletableFuture}, and
 * {@code foo(...)} blocks for the same result. A {@code BatonClient} is safe for use by many threads
 * at once; all of them act on behalf of the one session (a pool slot or lock acquired by one thread is
 * held by the session, and any thread may release it). The futures of the async methods complete on
 * the {@link Builder#callbackExecutor(Executor) callback executor}, never on gRPC's I/O threads, so
 * their continuations may block.
 *
 * <h2>What the server guarantees, and what the client does with it</h2>
 * <ul>
 *   <li><b>Any node accepts any request.</b> Writes are forwarded to the Raft leader; reads are
 *       linearizable wherever they are answered. The client still prefers the leader: whenever an
 *       answer carries the {@code baton-leader} trailer it sends later calls there.</li>
 *   <li><b>Writes are idempotent per request id.</b> Every write made on behalf of the session carries
 *       the session id and a request id, unique and increasing per client (counting from 1). When an
 *       attempt fails with {@code UNAVAILABLE}, a transport failure, or (for calls that do not wait)
 *       {@code DEADLINE_EXCEEDED}, the client retries the <em>same</em> request, with the same request
 *       id, on the next node, after a backoff of 20 ms doubling to 1 s, for up to
 *       {@link Builder#retryFor(Duration) retryFor}. The server answers a repeated request id with the
 *       first answer (rejections included) and changes nothing, so a write is applied at most once,
 *       even across a fail-over. If every attempt fails, the call fails with
 *       {@link BatonUnavailableException} and its outcome is unknown.</li>
 *   <li><b>At most 49 writes in flight.</b> The server remembers a bounded window of answers per
 *       session, so the client never lets a new request id run more than 48 ahead of the oldest
 *       unanswered one: further writes wait in order (their futures simply complete later; no thread
 *       is blocked) until older ones are answered. A waiting acquire counts until it is answered, so
 *       a session with many long waits at once should use the {@code ...Queued} acquires or several
 *       clients.</li>
 *   <li><b>Refusals fail at once</b> with a {@link BatonException} subclass (see there); they are never
 *       retried, and they changed nothing on the server.</li>
 *   <li><b>Outcomes are replies</b>: {@code QUEUE_FULL}, {@code TIMEOUT}, {@code BUSY},
 *       {@code NOT_LOCKED}, ... are status fields of the returned message, not exceptions.</li>
 *   <li><b>Sessions.</b> Whatever the session holds is released by the server when the session ends
 *       (closed, or its lease of {@link #sessionTtl()} not renewed in time). The client renews it every
 *       ttl/3 over a keep-alive stream, moved to another node at once when a node fails. When the
 *       session is lost, the {@link Builder#onSessionLost(Consumer) onSessionLost} listener is called
 *       once and every later session call fails with {@link SessionLostException}.</li>
 * </ul>
 *
 * <h2>Waiting acquires</h2>
 * {@link #poolAcquire} and {@link #lockAcquire} with a positive timeout are single calls that the
 * server answers when the wait ends (granted, {@code DONE} or {@code TIMEOUT}); their deadline is the
 * wait timeout plus {@link Builder#requestTimeout(Duration) requestTimeout}. The {@code ...Queued}
 * variants instead return {@code QUEUED} at once and deliver the outcome to the
 * {@link Builder#onEvent(Consumer) onEvent} listener as a {@code PoolWaitEnded} or
 * {@code LockWaitEnded} carrying the request id returned with the reply ({@link RequestReply}).
 * The server may answer a waiting call up to about 3 s after its wait timeout (when it has to re-check
 * a missed outcome), so keep {@link Builder#requestTimeout(Duration) requestTimeout} above that.
 *
 * <h2>Arguments</h2>
 * Null arguments throw {@link NullPointerException} and negative counts, fences or durations throw
 * {@link IllegalArgumentException} at once, from the async methods too; everything else is checked by
 * the server ({@link InvalidArgumentException}). Durations are sent in whole milliseconds.
 */
public final class BatonClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BatonClient.class.getName());
    private static final AtomicInteger CLIENTS = new AtomicInteger();
    private static final AtomicInteger CALLBACK_THREADS = new AtomicInteger();
    /**
     * The default callback executor, shared by all clients: threads are made when continuations need
     * them and end after a minute idle (like gRPC's own default executor).
     */
    private static final Executor SHARED_CALLBACKS = Executors.newCachedThreadPool(
            r -> {
                Thread t = new Thread(r, "baton-client-callback-" + CALLBACK_THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
    /** Set while a blocking method starts its call (see {@link #forCaller}). */
    private static final ThreadLocal<Boolean> BLOCKING_CALLER = new ThreadLocal<>();

    /** The API port of a Baton node. */
    public static final int DEFAULT_PORT = 7530;

    private final Builder config;
    private final long requestTimeoutNanos;
    private final long retryForNanos;
    private final Endpoints endpoints;
    private final ScheduledThreadPoolExecutor scheduler;
    private final ExecutorService events;
    private final Invoker invoker;
    private final RequestWindow window = new RequestWindow();
    private final Executor callbacks;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long session;
    private volatile SessionKeeper keeper;

    private BatonClient(Builder b) {
        this.config = b;
        this.requestTimeoutNanos = b.requestTimeout.toNanos();
        this.retryForNanos = b.retryFor.toNanos();
        this.callbacks = b.callbacks != null ? b.callbacks : SHARED_CALLBACKS;
        int n = CLIENTS.incrementAndGet();
        this.scheduler = new ScheduledThreadPoolExecutor(1, daemon("baton-client-" + n + "-timer"));
        this.scheduler.setRemoveOnCancelPolicy(true);
        this.events = Executors.newSingleThreadExecutor(daemon("baton-client-" + n + "-events"));
        Endpoints eps;
        try {
            eps = new Endpoints(b.endpoints, b.channelFactory, b.tls == null && !b.customChannelFactory,
                    b.authToken != null ? BearerToken.interceptor(b.authToken)
                            : b.authTokens != null ? BearerToken.interceptor(b.authTokens) : null,
                    b.callStream ? scheduler : null);
        } catch (RuntimeException e) {
            scheduler.shutdownNow();
            events.shutdownNow();
            throw e;
        }
        this.endpoints = eps;
        this.invoker = new Invoker(endpoints, scheduler, new Invoker.SessionHooks() {
            @Override
            public long sessionId() {
                return session;
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
        });
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** A builder; at least {@link Builder#endpoints(String...)} must be given. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Connects with default settings: same as {@code builder().endpoints(endpoints).build()}.
     *
     * @throws BatonUnavailableException if no node opened a session within the default retry time
     */
    public static BatonClient connect(String... endpoints) {
        return builder().endpoints(endpoints).build();
    }

    // ---- session --------------------------------------------------------------------------------

    private void open() {
        OpenSessionRequest request = OpenSessionRequest.newBuilder()
                .setClientToken(config.clientToken)
                .setTtlMs(config.sessionTtl.toMillis())
                .build();
        OpenSessionResponse opened = await(invoker.call(SessionsGrpc.getOpenMethod(), request,
                policy("Sessions.Open", false)));
        this.session = opened.getSession();
        // a token of a live session: its ids so far belong to another client (or an earlier attempt)
        window.startAt(opened.getNextRequestId());
        long ttlMs = opened.getTtlMs() > 0 ? opened.getTtlMs()
                : config.sessionTtl.isZero() ? 10_000 : config.sessionTtl.toMillis();
        SessionKeeper k = new SessionKeeper(session, TimeUnit.MILLISECONDS.toNanos(ttlMs), endpoints, scheduler,
                events, config.onEvent, config.onSessionLost);
        this.keeper = k;
        k.start();
        LOG.log(Level.DEBUG, "Baton session {0} opened (ttl {1} ms{2})", Long.toUnsignedString(session), ttlMs,
                opened.getExisting() ? ", existing" : "");
    }

    /** The id of this client's session, as granted by the server. */
    public long sessionId() {
        return session;
    }

    /** The session's lease as granted by the server (and updated by keep-alive acknowledgements). */
    public Duration sessionTtl() {
        return Duration.ofNanos(keeper.ttlNanos());
    }

    /**
     * What the client knows about its session. {@link SessionState#SUSPECT} means no keep-alive was
     * acknowledged for longer than the TTL, so the server may have expired the session; the client
     * keeps trying and it is reported lost only when a node says so.
     */
    public SessionState sessionState() {
        if (closed.get()) {
            return SessionState.CLOSED;
        }
        return keeper.state();
    }

    /**
     * True while the session is {@link SessionState#ALIVE}: not lost, not closed, and a keep-alive was
     * acknowledged within its TTL. False when it is {@link SessionState#SUSPECT}, lost or closed.
     */
    public boolean sessionAlive() {
        return sessionState() == SessionState.ALIVE;
    }

    /** The endpoint new calls go to now (the leader, when it is known). */
    public String currentEndpoint() {
        return endpoints.current().address;
    }

    /** The request id the next admitted write will carry (for tests). */
    long peekNextRequestId() {
        return window.peekNextId();
    }

    /** Writes waiting for the request-id window (for tests). */
    int queuedWrites() {
        return window.queued();
    }

    // ---- pools ----------------------------------------------------------------------------------

    /**
     * Acquires a slot of pool {@code key} (PoolCounter's {@code ACQ4ME}, or {@code ACQ4ANY} when
     * {@code forAnyone}). Replies {@code POOL_LOCKED} with the grant's fence, {@code POOL_QUEUE_FULL},
     * {@code POOL_LOCK_HELD}, {@code POOL_DONE} (for-anyone: another worker finished the job) or
     * {@code POOL_TIMEOUT}. With a positive {@code timeout} the server holds the call while the request
     * waits; the call's deadline is {@code timeout} plus the request timeout.
     *
     * @param workers  how many sessions may hold the pool at once
     * @param maxQueue holders + waiters at which the request is refused with {@code POOL_QUEUE_FULL}
     * @param timeout  how long to wait for a slot; {@link Duration#ZERO} does not wait
     */
    public CompletableFuture<PoolReply> poolAcquireAsync(String key, int workers, int maxQueue, Duration timeout,
            boolean forAnyone) {
        long timeoutMs = millis(timeout, "timeout");
        PoolAcquireRequest.Builder request = poolAcquireRequest(key, workers, maxQueue, timeoutMs, forAnyone, false);
        return write(PoolsGrpc.getAcquireMethod(), id -> request.setRequestId(id).build(),
                waitingPolicy("Pools.Acquire", timeoutMs));
    }

    /** Blocking {@link #poolAcquireAsync}. */
    public PoolReply poolAcquire(String key, int workers, int maxQueue, Duration timeout, boolean forAnyone) {
        return await(() -> poolAcquireAsync(key, workers, maxQueue, timeout, forAnyone));
    }

    /**
     * Like {@link #poolAcquireAsync} but never held by the server: a request that has to wait is
     * answered {@code POOL_QUEUED} at once, and its outcome (granted with a fence, {@code DONE} or
     * {@code TIMEOUT}) arrives later at the {@link Builder#onEvent(Consumer) onEvent} listener as a
     * {@code PoolWaitEnded} carrying the {@link RequestReply#requestId() request id} returned here.
     * Other replies are final, as for {@link #poolAcquireAsync}. For advanced users: the wait ends
     * even if the event is missed (e.g. across a fail-over), so confirm with {@link #sessionGetAsync()}
     * or {@link #poolGetAsync} when an event is overdue.
     */
    public CompletableFuture<RequestReply<PoolReply>> poolAcquireQueuedAsync(String key, int workers, int maxQueue,
            Duration timeout, boolean forAnyone) {
        long timeoutMs = millis(timeout, "timeout");
        PoolAcquireRequest.Builder request = poolAcquireRequest(key, workers, maxQueue, timeoutMs, forAnyone, true);
        return writeWithId(PoolsGrpc.getAcquireMethod(), id -> request.setRequestId(id).build(),
                policy("Pools.Acquire", true));
    }

    /** Blocking {@link #poolAcquireQueuedAsync}. */
    public RequestReply<PoolReply> poolAcquireQueued(String key, int workers, int maxQueue, Duration timeout,
            boolean forAnyone) {
        return await(() -> poolAcquireQueuedAsync(key, workers, maxQueue, timeout, forAnyone));
    }

    private PoolAcquireRequest.Builder poolAcquireRequest(String key, int workers, int maxQueue, long timeoutMs,
            boolean forAnyone, boolean returnQueued) {
        Objects.requireNonNull(key, "key");
        return PoolAcquireRequest.newBuilder()
                .setSession(session)
                .setKey(key)
                .setWorkers(unsigned(workers, "workers"))
                .setMaxQueue(unsigned(maxQueue, "maxQueue"))
                .setTimeoutMs(timeoutMs)
                .setForAnyone(forAnyone)
                .setReturnQueued(returnQueued);
    }

    /**
     * Releases the pool slot granted with {@code fence} on {@code key}; with fence 0, the session's
     * newest slot on {@code key}; with an empty key and fence 0, the session's newest slot (PoolCounter's
     * LIFO {@code RELEASE}). A waiting slot is cancelled. Replies {@code POOL_RELEASED} (with the
     * released fence, 0 for a cancelled wait) or {@code POOL_NOT_LOCKED}.
     */
    public CompletableFuture<PoolReply> poolReleaseAsync(String key, long fence) {
        Objects.requireNonNull(key, "key");
        PoolReleaseRequest.Builder request = PoolReleaseRequest.newBuilder()
                .setSession(session)
                .setKey(key)
                .setFence(fence);
        return write(PoolsGrpc.getReleaseMethod(), id -> request.setRequestId(id).build(), policy("Pools.Release", true));
    }

    /** Blocking {@link #poolReleaseAsync(String, long)}. */
    public PoolReply poolRelease(String key, long fence) {
        return await(() -> poolReleaseAsync(key, fence));
    }

    /** {@link #poolReleaseAsync(String, long)} with fence 0: the session's newest slot on {@code key}. */
    public CompletableFuture<PoolReply> poolReleaseAsync(String key) {
        return poolReleaseAsync(key, 0);
    }

    /** Blocking {@link #poolReleaseAsync(String)}. */
    public PoolReply poolRelease(String key) {
        return await(() -> poolReleaseAsync(key));
    }

    /** The session's newest slot, on any key (PoolCounter's {@code RELEASE}). */
    public CompletableFuture<PoolReply> poolReleaseAsync() {
        return poolReleaseAsync("", 0);
    }

    /** Blocking {@link #poolReleaseAsync()}. */
    public PoolReply poolRelease() {
        return await(() -> poolReleaseAsync());
    }

    /** A pool's holders and waiters (a linearizable read; {@code exists} is false for an idle key). */
    public CompletableFuture<PoolInfo> poolGetAsync(String key) {
        Objects.requireNonNull(key, "key");
        return run(PoolsGrpc.getGetMethod(), GetPoolRequest.newBuilder().setKey(key).build(), policy("Pools.Get", false));
    }

    /** Blocking {@link #poolGetAsync}. */
    public PoolInfo poolGet(String key) {
        return await(() -> poolGetAsync(key));
    }

    /** Totals over all pools (counts and cumulative times). */
    public CompletableFuture<PoolTotals> poolTotalsAsync() {
        return run(PoolsGrpc.getTotalsMethod(), GetPoolTotalsRequest.getDefaultInstance(), policy("Pools.Totals", false));
    }

    /** Blocking {@link #poolTotalsAsync}. */
    public PoolTotals poolTotals() {
        return await(() -> poolTotalsAsync());
    }

    // ---- locks ----------------------------------------------------------------------------------

    /**
     * Acquires the fenced lock {@code name}: a try-lock with {@link Duration#ZERO}, otherwise waits up to
     * {@code timeout} (the server holds the call; its deadline is {@code timeout} plus the request
     * timeout). Replies {@code LOCK_LOCKED} with a new fence, {@code LOCK_ALREADY_HELD} with the current
     * fence, {@code LOCK_BUSY} (try-lock) or {@code LOCK_TIMEOUT}. Quote the fence to whatever the lock
     * protects; fences only grow.
     */
    public CompletableFuture<LockReply> lockAcquireAsync(String name, Duration timeout) {
        long timeoutMs = millis(timeout, "timeout");
        LockAcquireRequest.Builder request = lockAcquireRequest(name, timeoutMs, false);
        return write(LocksGrpc.getAcquireMethod(), id -> request.setRequestId(id).build(),
                waitingPolicy("Locks.Acquire", timeoutMs));
    }

    /** Blocking {@link #lockAcquireAsync}. */
    public LockReply lockAcquire(String name, Duration timeout) {
        return await(() -> lockAcquireAsync(name, timeout));
    }

    /**
     * Like {@link #lockAcquireAsync} but a request that has to wait is answered {@code LOCK_QUEUED} at
     * once; the outcome (granted with a fence, or {@code LOCK_TIMEOUT}) arrives at the
     * {@link Builder#onEvent(Consumer) onEvent} listener as a {@code LockWaitEnded} carrying the
     * {@link RequestReply#requestId() request id} returned here. For advanced users; see
     * {@link #poolAcquireQueuedAsync} about missed events.
     */
    public CompletableFuture<RequestReply<LockReply>> lockAcquireQueuedAsync(String name, Duration timeout) {
        long timeoutMs = millis(timeout, "timeout");
        LockAcquireRequest.Builder request = lockAcquireRequest(name, timeoutMs, true);
        return writeWithId(LocksGrpc.getAcquireMethod(), id -> request.setRequestId(id).build(),
                policy("Locks.Acquire", true));
    }

    /** Blocking {@link #lockAcquireQueuedAsync}. */
    public RequestReply<LockReply> lockAcquireQueued(String name, Duration timeout) {
        return await(() -> lockAcquireQueuedAsync(name, timeout));
    }

    private LockAcquireRequest.Builder lockAcquireRequest(String name, long timeoutMs, boolean returnQueued) {
        Objects.requireNonNull(name, "name");
        return LockAcquireRequest.newBuilder()
                .setSession(session)
                .setName(name)
                .setTimeoutMs(timeoutMs)
                .setReturnQueued(returnQueued);
    }

    /**
     * Unlocks {@code name} if the session holds it under {@code fence} (0: whatever its fence), or
     * cancels the session's wait for it. Replies {@code LOCK_UNLOCKED}, {@code LOCK_CANCELLED} or
     * {@code LOCK_NOT_HELD}.
     *
     * @throws StaleFenceException (blocking) if {@code fence} is not the current grant's
     */
    public CompletableFuture<LockReply> lockReleaseAsync(String name, long fence) {
        Objects.requireNonNull(name, "name");
        LockReleaseRequest.Builder request = LockReleaseRequest.newBuilder()
                .setSession(session)
                .setName(name)
                .setFence(fence);
        return write(LocksGrpc.getReleaseMethod(), id -> request.setRequestId(id).build(), policy("Locks.Release", true));
    }

    /** Blocking {@link #lockReleaseAsync(String, long)}. */
    public LockReply lockRelease(String name, long fence) {
        return await(() -> lockReleaseAsync(name, fence));
    }

    /** {@link #lockReleaseAsync(String, long)} with fence 0. */
    public CompletableFuture<LockReply> lockReleaseAsync(String name) {
        return lockReleaseAsync(name, 0);
    }

    /** Blocking {@link #lockReleaseAsync(String)}. */
    public LockReply lockRelease(String name) {
        return await(() -> lockReleaseAsync(name));
    }

    /** A lock's holder, fence and waiters (a linearizable read). */
    public CompletableFuture<LockInfo> lockGetAsync(String name) {
        Objects.requireNonNull(name, "name");
        return run(LocksGrpc.getGetMethod(), GetLockRequest.newBuilder().setName(name).build(), policy("Locks.Get", false));
    }

    /** Blocking {@link #lockGetAsync}. */
    public LockInfo lockGet(String name) {
        return await(() -> lockGetAsync(name));
    }

    // ---- dispatch -------------------------------------------------------------------------------

    /**
     * Creates dispatch group {@code group} if needed and adds the targets not yet tracked (Wikibase's
     * {@code initState}); idempotent. Replies {@code DISPATCH_INITIALIZED} with the number of targets
     * added in {@code value}.
     *
     * @param targets  target id to name (Wikibase: site id to database name)
     * @param settings the group's settings, or {@code null} to keep the current ones (new groups get
     *                 Wikibase's defaults)
     */
    public CompletableFuture<DispatchReply> dispatchInitAsync(String group, Map<String, String> targets,
            DispatchSettings settings) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(targets, "targets");
        DispatchInitRequest.Builder b = DispatchInitRequest.newBuilder()
                .setSession(session)
                .setGroup(group)
                .putAllTargets(targets);
        if (settings != null) {
            b.setSettings(settings);
        }
        return write(DispatchGrpc.getInitMethod(), id -> b.setRequestId(id).build(), policy("Dispatch.Init", true));
    }

    /** Blocking {@link #dispatchInitAsync(String, Map, DispatchSettings)}. */
    public DispatchReply dispatchInit(String group, Map<String, String> targets, DispatchSettings settings) {
        return await(() -> dispatchInitAsync(group, targets, settings));
    }

    /** {@link #dispatchInitAsync(String, Map, DispatchSettings)} keeping the group's settings. */
    public CompletableFuture<DispatchReply> dispatchInitAsync(String group, Map<String, String> targets) {
        return dispatchInitAsync(group, targets, null);
    }

    /** Blocking {@link #dispatchInitAsync(String, Map)}. */
    public DispatchReply dispatchInit(String group, Map<String, String> targets) {
        return await(() -> dispatchInitAsync(group, targets));
    }

    /** Raises the group's head (newest change id); never lowers it. Replies {@code DISPATCH_ADVANCED}. */
    public CompletableFuture<DispatchReply> dispatchAdvanceAsync(String group, long head) {
        Objects.requireNonNull(group, "group");
        DispatchAdvanceRequest.Builder request = DispatchAdvanceRequest.newBuilder()
                .setSession(session)
                .setGroup(group)
                .setHead(nonNegative(head, "head"));
        return write(DispatchGrpc.getAdvanceMethod(), id -> request.setRequestId(id).build(), policy("Dispatch.Advance", true));
    }

    /** Blocking {@link #dispatchAdvanceAsync}. */
    public DispatchReply dispatchAdvance(String group, long head) {
        return await(() -> dispatchAdvanceAsync(group, head));
    }

    /**
     * Picks a stale target at random among the most lagged and locks it for the session (Wikibase's
     * {@code selectClient} + {@code lockClient}). Replies {@code DISPATCH_SELECTED} with the target
     * (and its fence) or {@code DISPATCH_NONE}.
     */
    public CompletableFuture<DispatchReply> dispatchSelectAsync(String group) {
        Objects.requireNonNull(group, "group");
        DispatchSelectRequest.Builder request = DispatchSelectRequest.newBuilder()
                .setSession(session)
                .setGroup(group);
        return write(DispatchGrpc.getSelectMethod(), id -> request.setRequestId(id).build(), policy("Dispatch.Select", true));
    }

    /** Blocking {@link #dispatchSelectAsync}. */
    public DispatchReply dispatchSelect(String group) {
        return await(() -> dispatchSelectAsync(group));
    }

    /** Locks a given target. Replies {@code DISPATCH_LOCKED} (with the fence) or {@code DISPATCH_BUSY}. */
    public CompletableFuture<DispatchReply> dispatchLockAsync(String group, String target) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(target, "target");
        DispatchLockRequest.Builder request = DispatchLockRequest.newBuilder()
                .setSession(session)
                .setGroup(group)
                .setTarget(target);
        return write(DispatchGrpc.getLockMethod(), id -> request.setRequestId(id).build(), policy("Dispatch.Lock", true));
    }

    /** Blocking {@link #dispatchLockAsync}. */
    public DispatchReply dispatchLock(String group, String target) {
        return await(() -> dispatchLockAsync(group, target));
    }

    /**
     * Stores the target's new cursor (never moved backwards), touches and unlocks it (Wikibase's
     * {@code releaseClient}). Replies {@code DISPATCH_RELEASED}.
     *
     * @param fence the fence the target was locked with
     * @throws StaleFenceException (blocking) if the lock was lost since
     */
    public CompletableFuture<DispatchReply> dispatchReleaseAsync(String group, String target, long fence, long newSeen) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(target, "target");
        DispatchReleaseRequest.Builder request = DispatchReleaseRequest.newBuilder()
                .setSession(session)
                .setGroup(group)
                .setTarget(target)
                .setFence(fence)
                .setNewSeen(nonNegative(newSeen, "newSeen"));
        return write(DispatchGrpc.getReleaseMethod(), id -> request.setRequestId(id).build(), policy("Dispatch.Release", true));
    }

    /** Blocking {@link #dispatchReleaseAsync}. */
    public DispatchReply dispatchRelease(String group, String target, long fence, long newSeen) {
        return await(() -> dispatchReleaseAsync(group, target, fence, newSeen));
    }

    /** Disables or re-enables a target for selection. Replies {@code DISPATCH_UPDATED}. */
    public CompletableFuture<DispatchReply> dispatchSetDisabledAsync(String group, String target, boolean disabled) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(target, "target");
        DispatchSetDisabledRequest.Builder request = DispatchSetDisabledRequest.newBuilder()
                .setSession(session)
                .setGroup(group)
                .setTarget(target)
                .setDisabled(disabled);
        return write(DispatchGrpc.getSetDisabledMethod(), id -> request.setRequestId(id).build(), policy("Dispatch.SetDisabled", true));
    }

    /** Blocking {@link #dispatchSetDisabledAsync}. */
    public DispatchReply dispatchSetDisabled(String group, String target, boolean disabled) {
        return await(() -> dispatchSetDisabledAsync(group, target, disabled));
    }

    /** A dispatch group's head, settings and targets (a linearizable read). */
    public CompletableFuture<GroupInfo> dispatchGetGroupAsync(String group) {
        Objects.requireNonNull(group, "group");
        return run(DispatchGrpc.getGetGroupMethod(), GetGroupRequest.newBuilder().setGroup(group).build(),
                policy("Dispatch.GetGroup", false));
    }

    /** Blocking {@link #dispatchGetGroupAsync}. */
    public GroupInfo dispatchGetGroup(String group) {
        return await(() -> dispatchGetGroupAsync(group));
    }

    // ---- events ---------------------------------------------------------------------------------

    /**
     * Begins event {@code name}, owned by the session (items gated on it stay unclaimable until it
     * completes or the session ends). Replies {@code EVENT_BEGUN} or {@code EVENT_ALREADY_PENDING}.
     */
    public CompletableFuture<EventReply> eventBeginAsync(String name) {
        Objects.requireNonNull(name, "name");
        EventBeginRequest.Builder request = EventBeginRequest.newBuilder()
                .setSession(session)
                .setName(name);
        return write(EventsGrpc.getBeginMethod(), id -> request.setRequestId(id).build(), policy("Events.Begin", true));
    }

    /** Blocking {@link #eventBeginAsync}. */
    public EventReply eventBegin(String name) {
        return await(() -> eventBeginAsync(name));
    }

    /** Completes event {@code name}. Replies {@code EVENT_COMPLETED} or {@code EVENT_NOT_PENDING}. */
    public CompletableFuture<EventReply> eventCompleteAsync(String name) {
        Objects.requireNonNull(name, "name");
        EventCompleteRequest.Builder request = EventCompleteRequest.newBuilder()
                .setSession(session)
                .setName(name);
        return write(EventsGrpc.getCompleteMethod(), id -> request.setRequestId(id).build(), policy("Events.Complete", true));
    }

    /** Blocking {@link #eventCompleteAsync}. */
    public EventReply eventComplete(String name) {
        return await(() -> eventCompleteAsync(name));
    }

    /** An event's state (a linearizable read). */
    public CompletableFuture<EventInfo> eventGetAsync(String name) {
        Objects.requireNonNull(name, "name");
        return run(EventsGrpc.getGetMethod(), GetEventRequest.newBuilder().setName(name).build(), policy("Events.Get", false));
    }

    /** Blocking {@link #eventGetAsync}. */
    public EventInfo eventGet(String name) {
        return await(() -> eventGetAsync(name));
    }

    /** All pending events. */
    public CompletableFuture<ListEventsResponse> eventListAsync() {
        return run(EventsGrpc.getListMethod(), ListEventsRequest.getDefaultInstance(), policy("Events.List", false));
    }

    /** Blocking {@link #eventListAsync}. */
    public ListEventsResponse eventList() {
        return await(() -> eventListAsync());
    }

    // ---- queues ---------------------------------------------------------------------------------

    /**
     * Adds {@code item} to {@code queue}, claimable once none of {@code prerequisites} (event names) is
     * pending. Enqueuing an existing item replaces its payload and prerequisites. Replies
     * {@code QUEUE_ENQUEUED} or {@code QUEUE_REPLACED}.
     *
     * @param payload the item's bytes ({@code null}: empty)
     */
    public CompletableFuture<QueueReply> queueEnqueueAsync(String queue, String item, byte[] payload,
            List<String> prerequisites) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(item, "item");
        Objects.requireNonNull(prerequisites, "prerequisites");
        QueueEnqueueRequest.Builder request = QueueEnqueueRequest.newBuilder()
                .setSession(session)
                .setQueue(queue)
                .setItem(item)
                .setPayload(payload == null ? ByteString.EMPTY : ByteString.copyFrom(payload))
                .addAllPrerequisites(prerequisites);
        return write(QueuesGrpc.getEnqueueMethod(), id -> request.setRequestId(id).build(), policy("Queues.Enqueue", true));
    }

    /** Blocking {@link #queueEnqueueAsync}. */
    public QueueReply queueEnqueue(String queue, String item, byte[] payload, List<String> prerequisites) {
        return await(() -> queueEnqueueAsync(queue, item, payload, prerequisites));
    }

    /**
     * Claims up to {@code max} claimable items, oldest first, for the session. Never waits: replies
     * {@code QUEUE_CLAIMED} with the items (possibly none), each with its fence. To wait, listen for
     * {@code QueueClaimable} events.
     */
    public CompletableFuture<QueueReply> queueClaimAsync(String queue, int max) {
        Objects.requireNonNull(queue, "queue");
        QueueClaimRequest.Builder request = QueueClaimRequest.newBuilder()
                .setSession(session)
                .setQueue(queue)
                .setMax(unsigned(max, "max"));
        return write(QueuesGrpc.getClaimMethod(), id -> request.setRequestId(id).build(), policy("Queues.Claim", true));
    }

    /** Blocking {@link #queueClaimAsync}. */
    public QueueReply queueClaim(String queue, int max) {
        return await(() -> queueClaimAsync(queue, max));
    }

    /**
     * Removes a claimed item for good. Replies {@code QUEUE_DONE}.
     *
     * @throws StaleFenceException (blocking) if the claim with {@code fence} was lost
     * @throws NotFoundException   (blocking) if the item does not exist
     */
    public CompletableFuture<QueueReply> queueDoneAsync(String queue, String item, long fence) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(item, "item");
        QueueDoneRequest.Builder request = QueueDoneRequest.newBuilder()
                .setSession(session)
                .setQueue(queue)
                .setItem(item)
                .setFence(fence);
        return write(QueuesGrpc.getDoneMethod(), id -> request.setRequestId(id).build(), policy("Queues.Done", true));
    }

    /** Blocking {@link #queueDoneAsync}. */
    public QueueReply queueDone(String queue, String item, long fence) {
        return await(() -> queueDoneAsync(queue, item, fence));
    }

    /** Gives a claimed item back, at the back of the queue. Replies {@code QUEUE_REQUEUED}. */
    public CompletableFuture<QueueReply> queueRetryAsync(String queue, String item, long fence) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(item, "item");
        QueueRetryRequest.Builder request = QueueRetryRequest.newBuilder()
                .setSession(session)
                .setQueue(queue)
                .setItem(item)
                .setFence(fence);
        return write(QueuesGrpc.getRetryMethod(), id -> request.setRequestId(id).build(), policy("Queues.Retry", true));
    }

    /** Blocking {@link #queueRetryAsync}. */
    public QueueReply queueRetry(String queue, String item, long fence) {
        return await(() -> queueRetryAsync(queue, item, fence));
    }

    /** A queue's items (a linearizable read). */
    public CompletableFuture<QueueInfo> queueGetAsync(String queue) {
        Objects.requireNonNull(queue, "queue");
        return run(QueuesGrpc.getGetMethod(), GetQueueRequest.newBuilder().setQueue(queue).build(), policy("Queues.Get", false));
    }

    /** Blocking {@link #queueGetAsync}. */
    public QueueInfo queueGet(String queue) {
        return await(() -> queueGetAsync(queue));
    }

    // ---- sessions -------------------------------------------------------------------------------

    /** What a session holds and waits for (a linearizable read). */
    public CompletableFuture<SessionInfo> sessionGetAsync(long sessionId) {
        return run(SessionsGrpc.getGetMethod(), GetSessionRequest.newBuilder().setSession(sessionId).build(),
                policy("Sessions.Get", false));
    }

    /** Blocking {@link #sessionGetAsync(long)}. */
    public SessionInfo sessionGet(long sessionId) {
        return await(() -> sessionGetAsync(sessionId));
    }

    /**
     * {@link #sessionGetAsync(long)} for this client's own session. A {@link NotFoundException} with
     * error code {@code UNKNOWN_SESSION} also marks the session lost.
     */
    public CompletableFuture<SessionInfo> sessionGetAsync() {
        CompletableFuture<SessionInfo> f = sessionGetAsync(session);
        f.whenComplete((r, t) -> {
            if (t instanceof NotFoundException nf && Errors.UNKNOWN_SESSION.equals(nf.errorCode())) {
                keeper.sessionLost(new SessionLostException(session, "session " + Long.toUnsignedString(session)
                        + " is not known to the cluster", nf));
            }
        });
        return f;
    }

    /** Blocking {@link #sessionGetAsync()}. */
    public SessionInfo sessionGet() {
        return await(() -> sessionGetAsync());
    }

    /** Every open session and its TTL. */
    public CompletableFuture<ListSessionsResponse> sessionListAsync() {
        return run(SessionsGrpc.getListMethod(), ListSessionsRequest.getDefaultInstance(), policy("Sessions.List", false));
    }

    /** Blocking {@link #sessionListAsync}. */
    public ListSessionsResponse sessionList() {
        return await(() -> sessionListAsync());
    }

    // ---- admin ----------------------------------------------------------------------------------

    /**
     * Members, leader, term and indexes as the answering node (the current endpoint) sees them. Not
     * tied to the session.
     */
    public CompletableFuture<StatusResponse> adminStatusAsync() {
        return run(AdminGrpc.getStatusMethod(), StatusRequest.getDefaultInstance(), policy("Admin.Status", false));
    }

    /** Blocking {@link #adminStatusAsync}. */
    public StatusResponse adminStatus() {
        return await(() -> adminStatusAsync());
    }

    /**
     * Adds the member with Raft address {@code raftAddress} ({@code host:port}) to the cluster; run on
     * the leader. Membership calls carry no request id: a retry after an unknown outcome runs again.
     */
    public CompletableFuture<StatusResponse> adminAddMemberAsync(String raftAddress) {
        return run(AdminGrpc.getAddMemberMethod(), member(raftAddress), policy("Admin.AddMember", false));
    }

    /** Blocking {@link #adminAddMemberAsync}. */
    public StatusResponse adminAddMember(String raftAddress) {
        return await(() -> adminAddMemberAsync(raftAddress));
    }

    /** Removes the member with Raft address {@code raftAddress}; see {@link #adminAddMemberAsync}. */
    public CompletableFuture<StatusResponse> adminRemoveMemberAsync(String raftAddress) {
        return run(AdminGrpc.getRemoveMemberMethod(), member(raftAddress), policy("Admin.RemoveMember", false));
    }

    /** Blocking {@link #adminRemoveMemberAsync}. */
    public StatusResponse adminRemoveMember(String raftAddress) {
        return await(() -> adminRemoveMemberAsync(raftAddress));
    }

    /** Makes the member with Raft address {@code raftAddress} the leader. */
    public CompletableFuture<StatusResponse> adminTransferLeaderAsync(String raftAddress) {
        return run(AdminGrpc.getTransferLeaderMethod(), member(raftAddress), policy("Admin.TransferLeader", false));
    }

    /** Blocking {@link #adminTransferLeaderAsync}. */
    public StatusResponse adminTransferLeader(String raftAddress) {
        return await(() -> adminTransferLeaderAsync(raftAddress));
    }

    /** Takes a snapshot now on the answering node (the current endpoint). */
    public CompletableFuture<SnapshotResponse> adminSnapshotAsync() {
        return run(AdminGrpc.getSnapshotMethod(), SnapshotRequest.getDefaultInstance(), policy("Admin.Snapshot", false));
    }

    /** Blocking {@link #adminSnapshotAsync}. */
    public SnapshotResponse adminSnapshot() {
        return await(() -> adminSnapshotAsync());
    }

    /** The whole coordination state as deterministic JSON, with the applied index it reflects. */
    public CompletableFuture<DumpResponse> adminDumpAsync() {
        return run(AdminGrpc.getDumpMethod(), DumpRequest.getDefaultInstance(), policy("Admin.Dump", false));
    }

    /** Blocking {@link #adminDumpAsync}. */
    public DumpResponse adminDump() {
        return await(() -> adminDumpAsync());
    }

    private static MemberRequest member(String raftAddress) {
        Objects.requireNonNull(raftAddress, "raftAddress");
        return MemberRequest.newBuilder().setRaftAddress(raftAddress).build();
    }

    // ---- closing --------------------------------------------------------------------------------

    /**
     * Ends the session and releases the client's resources: stops the keep-alives, sends
     * {@code Sessions.Close} (best effort: retried like any call but for about two seconds at most; if
     * it fails the session expires after its TTL), fails calls still running with
     * {@link BatonClosedException} and shuts the channels down (waiting up to a second for them to
     * terminate). The server releases everything the session held or waited for. Idempotent; the
     * listeners are not called. Calls made after {@code close()} fail with {@link BatonClosedException}.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        SessionKeeper k = keeper;
        if (k != null) {
            k.stop();
            if (k.lost() == null) {
                closeSession();
            }
        }
        window.close(new BatonClosedException("the Baton client was closed before the call could start"));
        invoker.shutdown();
        endpoints.shutdown(TimeUnit.SECONDS.toNanos(1));
        scheduler.shutdownNow();
        events.shutdown();
    }

    private void closeSession() {
        long budget = Math.min(retryForNanos, TimeUnit.SECONDS.toNanos(2));
        long attempt = Math.min(requestTimeoutNanos, TimeUnit.SECONDS.toNanos(2));
        CloseSessionRequest request = CloseSessionRequest.newBuilder()
                .setSession(session)
                .setRequestId(window.takeUnbounded())
                .build();
        CompletableFuture<?> f = invoker.call(SessionsGrpc.getCloseMethod(), request,
                new Invoker.Policy(attempt, budget, false, false, "Sessions.Close"));
        try {
            f.get(budget + attempt + TimeUnit.MILLISECONDS.toNanos(500), TimeUnit.NANOSECONDS);
            LOG.log(Level.DEBUG, "Baton session {0} closed", Long.toUnsignedString(session));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
        } catch (ExecutionException | TimeoutException | CancellationException e) {
            f.cancel(true);
            LOG.log(Level.DEBUG, "Closing Baton session " + Long.toUnsignedString(session)
                    + " failed; it will expire after its TTL", e);
        }
    }

    private void shutdownQuietly() {
        closed.set(true);
        SessionKeeper k = keeper;
        if (k != null) {
            k.stop();
        }
        endpoints.shutdown(0);
        invoker.shutdown();
        scheduler.shutdownNow();
        events.shutdownNow();
    }

    // ---- plumbing -------------------------------------------------------------------------------

    private Invoker.Policy policy(String what, boolean sessionBound) {
        return new Invoker.Policy(requestTimeoutNanos, retryForNanos, false, sessionBound, what);
    }

    private Invoker.Policy waitingPolicy(String what, long waitMs) {
        if (waitMs == 0) {
            return policy(what, true);
        }
        long wait = TimeUnit.MILLISECONDS.toNanos(waitMs);
        return new Invoker.Policy(saturatedAdd(wait, requestTimeoutNanos), saturatedAdd(wait, retryForNanos), true,
                true, what);
    }

    private static long saturatedAdd(long a, long b) {
        long r = a + b;
        return r < 0 ? Long.MAX_VALUE / 2 : r;
    }

    private <Req, Resp> CompletableFuture<Resp> run(MethodDescriptor<Req, Resp> method, Req request,
            Invoker.Policy policy) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BatonClosedException("the Baton client is closed"));
        }
        return forCaller(invoker.call(method, request, policy));
    }

    /**
     * A write made for the session: it gets its request id from the window (when the window allows)
     * and keeps it on every attempt. Fails at once, without using an id, when the session is known lost.
     */
    private <Req, Resp> CompletableFuture<Resp> write(MethodDescriptor<Req, Resp> method, LongFunction<Req> build,
            Invoker.Policy policy) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BatonClosedException("the Baton client is closed"));
        }
        SessionLostException lost = keeper.lost();
        if (lost != null) {
            return CompletableFuture.failedFuture(lost);
        }
        return forCaller(window.submit(id -> invoker.call(method, build.apply(id), policy)));
    }

    /** {@link #write} whose reply comes with the request id it was given. */
    private <Req, Resp> CompletableFuture<RequestReply<Resp>> writeWithId(MethodDescriptor<Req, Resp> method,
            LongFunction<Req> build, Invoker.Policy policy) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BatonClosedException("the Baton client is closed"));
        }
        SessionLostException lost = keeper.lost();
        if (lost != null) {
            return CompletableFuture.failedFuture(lost);
        }
        return forCaller(window.submit(id -> map(invoker.call(method, build.apply(id), policy),
                r -> new RequestReply<>(id, r))));
    }

    /**
     * The future a caller gets. The client's own futures complete on gRPC's I/O thread (the default
     * channels run their callbacks there: one thread hand-off less per call, a quarter less client
     * CPU per call in BENCHMARKS.md), and nothing may block that thread: a continuation that waited for another
     * call would wait for a reply only that thread can read. So the future an async method returns
     * completes on the callback executor instead, where continuations may do anything, blocking calls
     * included. A blocking method (see {@link #await(Supplier)}) waits on the client's future itself.
     */
    private <T> CompletableFuture<T> forCaller(CompletableFuture<T> source) {
        if (BLOCKING_CALLER.get() != null || source.isDone()) {
            return source;
        }
        CompletableFuture<T> out = new CompletableFuture<>();
        source.whenComplete((r, t) -> {
            Runnable complete = () -> {
                if (t != null) {
                    out.completeExceptionally(t instanceof CompletionException && t.getCause() != null ? t.getCause() : t);
                } else {
                    out.complete(r);
                }
            };
            try {
                callbacks.execute(complete);
            } catch (RejectedExecutionException e) {
                complete.run(); // a user's executor that was shut down: better here than never
            }
        });
        out.whenComplete((r, t) -> {
            if (out.isCancelled()) {
                source.cancel(true);
            }
        });
        return out;
    }

    /** {@code source.thenApply(fn)}, except that cancelling the result cancels {@code source}. */
    private static <A, B> CompletableFuture<B> map(CompletableFuture<A> source, Function<A, B> fn) {
        CompletableFuture<B> out = new CompletableFuture<>();
        source.whenComplete((r, t) -> {
            if (t != null) {
                out.completeExceptionally(t instanceof CompletionException && t.getCause() != null ? t.getCause() : t);
            } else {
                out.complete(fn.apply(r));
            }
        });
        out.whenComplete((r, t) -> {
            if (out.isCancelled()) {
                source.cancel(true);
            }
        });
        return out;
    }

    private static long millis(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative()) {
            throw new IllegalArgumentException(what + " must not be negative: " + d);
        }
        try {
            return d.toMillis();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 4;
        }
    }

    private static int unsigned(int v, String what) {
        if (v < 0) {
            throw new IllegalArgumentException(what + " must not be negative: " + v);
        }
        return v;
    }

    private static long nonNegative(long v, String what) {
        if (v < 0) {
            throw new IllegalArgumentException(what + " must not be negative: " + v);
        }
        return v;
    }

    /**
     * Starts a call for a blocking method and waits for it: the call's future is not moved to the
     * callback executor ({@link #forCaller}), so the waiting thread is woken by the I/O thread directly.
     */
    private static <T> T await(Supplier<CompletableFuture<T>> start) {
        CompletableFuture<T> future;
        BLOCKING_CALLER.set(Boolean.TRUE);
        try {
            future = start.get();
        } finally {
            BLOCKING_CALLER.remove();
        }
        return await(future);
    }

    /**
     * Waits for a call: returns its result or throws its {@link BatonException} (with this thread's
     * stack trace; the cause is kept). On interrupt, cancels the call, sets the flag again and throws
     * {@link BatonInterruptedException}.
     */
    static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new BatonInterruptedException(e);
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (CancellationException e) {
            throw new BatonException(Status.Code.CANCELLED, null, "the call was cancelled", e);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof BatonException be) {
            be.fillInStackTrace();
            return be;
        }
        if (t instanceof Error error) {
            throw error;
        }
        if (t instanceof RuntimeException re && !(t instanceof CompletionException)) {
            return new BatonException(Status.Code.UNKNOWN, null, String.valueOf(t.getMessage()), re);
        }
        return new BatonException(Status.Code.UNKNOWN, null, String.valueOf(t), t);
    }

    // ---- builder --------------------------------------------------------------------------------

    /**
     * Configures and opens a {@link BatonClient}. Not thread-safe; {@link #build()} may be called more
     * than once, each time opening a new client and session.
     */
    public static final class Builder {
        /** The system property that turns the {@link #callStream(boolean) call stream}'s default off ({@code false}). */
        public static final String CALL_STREAM_PROPERTY = "baton.client.callStream";
        private List<String> endpoints = List.of();
        private Duration sessionTtl = Duration.ofSeconds(10);
        private String clientToken;
        private Duration requestTimeout = Duration.ofSeconds(5);
        private Duration retryFor = Duration.ofSeconds(30);
        private Consumer<SessionLostException> onSessionLost =
                e -> LOG.log(Level.WARNING, "Baton session lost: " + e.getMessage());
        private Consumer<SessionEvent> onEvent = e -> {};
        private Function<String, ManagedChannel> channelFactory = Builder::plaintextChannel;
        private boolean customChannelFactory;
        private ClientTls tls;
        private Executor callbacks;
        private String authToken;
        private java.util.function.Supplier<String> authTokens;
        /** The default of {@link #callStream(boolean)}: on, unless the system property says {@code false}. */
        private boolean callStream = !"false".equalsIgnoreCase(System.getProperty(CALL_STREAM_PROPERTY));

        private Builder() {}

        /**
         * Whether the writes (pool, lock, dispatch, event and queue requests) travel over one
         * long-lived stream per node ({@code baton.v1.Calls/Stream}) rather than as a unary call each.
         * Default true: it costs the client (and the node) much less per call. Retries, deadlines and
         * errors are the same either way; reads and session calls are unary either way. A node that
         * does not serve the stream gets unary calls. With a token, the stream sends it when it opens:
         * a {@link #authToken(java.util.function.Supplier) supplied} token is asked for at every new
         * stream (at least every minute, and after a stream broke), not at every write. The default
         * can be turned off without code, for a whole JVM, with the system property
         * {@code -Dbaton.client.callStream=false}.
         */
        public Builder callStream(boolean on) {
            this.callStream = on;
            return this;
        }

        /**
         * The API addresses ({@code host:port}; without a port, {@value BatonClient#DEFAULT_PORT}) of
         * some or all nodes. Any node will do; the client follows the leader from there. The first one
         * is tried first. Required.
         */
        public Builder endpoints(String... endpoints) {
            return endpoints(Arrays.asList(endpoints));
        }

        /** See {@link #endpoints(String...)}. */
        public Builder endpoints(List<String> endpoints) {
            Objects.requireNonNull(endpoints, "endpoints");
            List<String> copy = new ArrayList<>();
            for (String e : endpoints) {
                Objects.requireNonNull(e, "endpoint");
                if (e.isBlank()) {
                    throw new IllegalArgumentException("blank endpoint");
                }
                copy.add(Endpoints.withDefaultPort(e, DEFAULT_PORT));
            }
            this.endpoints = List.copyOf(copy);
            return this;
        }

        /**
         * The session lease to ask for (default 10 s; {@link Duration#ZERO}: the server's default). The
         * server clamps it to its bounds; {@link BatonClient#sessionTtl()} tells what was granted.
         */
        public Builder sessionTtl(Duration ttl) {
            Objects.requireNonNull(ttl, "ttl");
            if (ttl.isNegative()) {
                throw new IllegalArgumentException("negative session TTL: " + ttl);
            }
            this.sessionTtl = ttl;
            return this;
        }

        /**
         * A token naming the session. Opening with a token is idempotent while that session lives: a
         * client built with the token of a live session gets that session back (with what it holds),
         * typically a restarted process taking over its predecessor's session. The server then tells
         * it where to start numbering its requests, so none is answered with what the predecessor
         * was told. One token belongs to one live client at a time: two clients using it at once
         * share the session and its request ids, and may be given each other's answers.
         * Without one, the client makes up a random token, so that retrying {@code Open} after an
         * unknown outcome never opens two sessions.
         */
        public Builder clientToken(String token) {
            this.clientToken = Objects.requireNonNull(token, "token");
            return this;
        }

        /**
         * The bearer token for nodes that require one ({@code baton server --auth-token-file}; make one with
         * {@code baton token new NAME ROLES}): sent with every call as {@code authorization: Bearer <token>}.
         * (Not to be confused with {@link #clientToken(String)}, which names the session.) A node that
         * does not know the token, or whose token lacks the role a call needs, refuses the call with
         * {@link AccessDeniedException}, which is never retried. Use it with {@link #tls(Path)}: on a
         * plaintext port anyone on the path can read the token.
         *
         * @throws IllegalArgumentException if the token is empty or not printable ASCII without spaces
         */
        public Builder authToken(String token) {
            this.authToken = BearerToken.check(token);
            this.authTokens = null;
            return this;
        }

        /**
         * Like {@link #authToken(String)}, but the token is asked of {@code tokens} at the start of every
         * call, so that a rotated token (from a secret store, or a file the supplier re-reads when it
         * changes) is used from the next call on without a new client. It is called on the calling
         * thread for every call: keep it cheap (cache the token). If it throws, or gives a token that
         * cannot travel in a header, that call fails with its exception. Writes made over the
         * {@link #callStream(boolean) call stream} (the default) send the token once per stream:
         * there a rotated token is used from the next stream on, at most a minute later.
         */
        public Builder authToken(java.util.function.Supplier<String> tokens) {
            this.authTokens = Objects.requireNonNull(tokens, "tokens");
            this.authToken = null;
            return this;
        }

        /**
         * {@link #authToken(String)} with the first line of {@code file} (trimmed). The file is read here.
         *
         * @throws IllegalArgumentException if the file cannot be read or its first line is blank
         */
        public Builder authTokenFile(Path file) {
            this.authToken = BearerToken.readFile(file);
            this.authTokens = null;
            return this;
        }

        /** The environment variables {@link #securityFromEnvironment()} reads. */
        public static final String ENV_TLS_CA_FILE = "BATON_TLS_CA_FILE";
        public static final String ENV_TLS_CERT_FILE = "BATON_TLS_CERT_FILE";
        public static final String ENV_TLS_KEY_FILE = "BATON_TLS_KEY_FILE";
        public static final String ENV_TOKEN = "BATON_TOKEN";
        public static final String ENV_TOKEN_FILE = "BATON_TOKEN_FILE";

        /**
         * TLS and the bearer token from the process's environment, so that a program runs unchanged
         * against a plain and a secured cluster: {@value #ENV_TLS_CA_FILE} ({@link #tls(Path)}),
         * {@value #ENV_TLS_CERT_FILE} with {@value #ENV_TLS_KEY_FILE} ({@link #tlsClientCertificate}),
         * {@value #ENV_TOKEN} ({@link #authToken(String)}) or else {@value #ENV_TOKEN_FILE}
         * ({@link #authTokenFile(Path)}); the CLI reads the same variables. Unset or blank variables
         * change nothing.
         *
         * @throws IllegalArgumentException naming the variable, if its file cannot be read or a
         *                                  certificate comes without its key (or the other way round)
         */
        public Builder securityFromEnvironment() {
            return securityFromEnvironment(System.getenv());
        }

        /** {@link #securityFromEnvironment()} with {@code env} in place of the process's environment. */
        public Builder securityFromEnvironment(Map<String, String> env) {
            String ca = env(env, ENV_TLS_CA_FILE);
            String cert = env(env, ENV_TLS_CERT_FILE);
            String key = env(env, ENV_TLS_KEY_FILE);
            String token = env(env, ENV_TOKEN);
            String tokenFile = env(env, ENV_TOKEN_FILE);
            if ((cert == null) != (key == null)) {
                throw new IllegalArgumentException(cert == null ? ENV_TLS_KEY_FILE + " needs " + ENV_TLS_CERT_FILE
                        : ENV_TLS_CERT_FILE + " needs " + ENV_TLS_KEY_FILE);
            }
            try {
                if (ca != null) {
                    tls(Path.of(ca));
                }
                if (cert != null) {
                    tlsClientCertificate(Path.of(cert), Path.of(key));
                }
                if (token != null) {
                    authToken(token);
                } else if (tokenFile != null) {
                    authTokenFile(Path.of(tokenFile));
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("from the environment (" + ENV_TLS_CA_FILE + ", " + ENV_TLS_CERT_FILE
                        + ", " + ENV_TLS_KEY_FILE + ", " + ENV_TOKEN + ", " + ENV_TOKEN_FILE + "): " + e.getMessage(), e);
            }
            return this;
        }

        private static String env(Map<String, String> env, String name) {
            String v = env.get(name);
            return v == null || v.isBlank() ? null : v.strip();
        }

        /**
         * The deadline of each attempt of a call (default 5 s). A waiting pool or lock acquire gets its
         * wait timeout plus this.
         */
        public Builder requestTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("request timeout must be positive: " + timeout);
            }
            this.requestTimeout = timeout;
            return this;
        }

        /**
         * How long, from its start, a call keeps retrying {@code UNAVAILABLE} and transport failures
         * (default 30 s; a waiting acquire gets its wait timeout on top). Zero: never retry. Then the
         * call fails with {@link BatonUnavailableException}. Also bounds opening the session in
         * {@link #build()}.
         */
        public Builder retryFor(Duration retryFor) {
            Objects.requireNonNull(retryFor, "retryFor");
            if (retryFor.isNegative()) {
                throw new IllegalArgumentException("negative retryFor: " + retryFor);
            }
            this.retryFor = retryFor;
            return this;
        }

        /**
         * Called once, on the client's event thread, when the session is known lost: the server ended
         * it (lease ran out, or closed elsewhere) or a node said it does not know it. Not called for
         * {@link BatonClient#close()}. The default logs a warning.
         */
        public Builder onSessionLost(Consumer<SessionLostException> listener) {
            this.onSessionLost = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Receives, in order and on the client's single event thread, every {@link SessionEvent} the
         * server pushes on the keep-alive stream except acks: {@code PoolWaitEnded} and
         * {@code LockWaitEnded} for {@code ...Queued} acquires, {@code SessionEnded}, and (for every
         * session on the node) {@code EventCompleted} and {@code QueueClaimable}. Events may repeat or
         * be missed across fail-overs; treat them as hints and confirm with a call. Keep the listener
         * short: it delays later events. Default: ignore.
         */
        public Builder onEvent(Consumer<SessionEvent> listener) {
            this.onEvent = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Makes the channel for an endpoint address (default: plaintext HTTP/2 through
         * {@code grpc-netty-shaded}, inbound messages up to 256 MiB). Use it for TLS or custom
         * transports. The client shuts the channels down on {@link BatonClient#close()}.
         */
        public Builder channelFactory(Function<String, ManagedChannel> factory) {
            this.channelFactory = Objects.requireNonNull(factory, "factory");
            this.customChannelFactory = true;
            return this;
        }

        /**
         * Connects with TLS, verifying each node's certificate against the CA(s) in {@code caFile}
         * (PEM) and checking that it names the address connected to (host name or IP address of the
         * endpoint). Without it the client speaks plaintext, which a node whose API port has TLS
         * refuses. The file is read here.
         *
         * @throws IllegalArgumentException if the file cannot be read or holds no PEM certificate
         */
        public Builder tls(Path caFile) {
            byte[] ca = ClientTls.readCertificates(Objects.requireNonNull(caFile, "caFile"), "the CA file");
            tls = tls == null ? new ClientTls(ca, null, null) : new ClientTls(ca, tls.cert, tls.key);
            return this;
        }

        /**
         * Presents this certificate (PEM, intermediate CAs may follow) and its key (unencrypted PKCS#8
         * PEM, {@code -----BEGIN PRIVATE KEY-----}) to nodes that require client certificates (mutual
         * TLS). Needs {@link #tls(Path)}. The files are read here.
         *
         * @throws IllegalArgumentException if a file cannot be read or is not of that kind
         */
        public Builder tlsClientCertificate(Path certFile, Path keyFile) {
            byte[] cert = ClientTls.readCertificates(Objects.requireNonNull(certFile, "certFile"),
                    "the client certificate file");
            byte[] key = ClientTls.readKey(Objects.requireNonNull(keyFile, "keyFile"));
            tls = new ClientTls(tls == null ? null : tls.ca, cert, key);
            return this;
        }

        /**
         * Where the futures returned by the async methods complete, hence where continuations that are
         * not {@code ...Async} run (default: a pool of daemon threads shared by all clients, made as
         * needed). Continuations never run on gRPC's I/O threads, so they may block, and may call the
         * blocking methods. The blocking methods do not use this executor.
         */
        public Builder callbackExecutor(Executor executor) {
            this.callbacks = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Callbacks run on the channel's I/O thread ({@code directExecutor}): the client's internal
         * continuations never block, and futures reach callers through {@link BatonClient#forCaller}.
         */
        private static ManagedChannel plaintextChannel(String address) {
            return ManagedChannelBuilder.forTarget(address)
                    .usePlaintext()
                    .directExecutor()
                    .maxInboundMessageSize(256 << 20)
                    .build();
        }

        /**
         * Opens the session (retrying for up to {@link #retryFor(Duration) retryFor}) and starts its
         * keep-alives.
         *
         * @throws IllegalStateException     if no endpoint was given
         * @throws BatonUnavailableException if no node answered in time
         * @throws BatonException            if the server refused the session (e.g. a session limit)
         */
        public BatonClient build() {
            if (endpoints.isEmpty()) {
                throw new IllegalStateException("no Baton endpoints given");
            }
            Builder copy = copy();
            if (tls != null) {
                if (tls.ca == null) {
                    throw new IllegalStateException("tlsClientCertificate(...) needs tls(caFile): the CA to verify the"
                            + " nodes' certificates with");
                }
                if (customChannelFactory) {
                    throw new IllegalStateException("tls(...) and channelFactory(...) both given: set TLS up in the"
                            + " channel factory, or do not give one");
                }
                copy.channelFactory = tls.channelFactory();
            }
            BatonClient client = new BatonClient(copy);
            try {
                client.open();
            } catch (RuntimeException e) {
                client.shutdownQuietly();
                throw e;
            }
            return client;
        }

        private Builder copy() {
            Builder b = new Builder();
            b.endpoints = endpoints;
            b.sessionTtl = sessionTtl;
            b.clientToken = clientToken != null ? clientToken : UUID.randomUUID().toString();
            b.requestTimeout = requestTimeout;
            b.retryFor = retryFor;
            b.onSessionLost = onSessionLost;
            b.onEvent = onEvent;
            b.channelFactory = channelFactory;
            b.customChannelFactory = customChannelFactory;
            b.tls = tls;
            b.callbacks = callbacks;
            b.authToken = authToken;
            b.authTokens = authTokens;
            b.callStream = callStream;
            return b;
        }
    }
}
