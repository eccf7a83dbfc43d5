package dev.baton.server.node;

import dev.baton.server.route.Router;
import dev.baton.server.route.LeaseKeeper;
import dev.baton.server.route.WaitingWrites;
import dev.baton.server.grpc.PeerForwarding;
import dev.baton.server.grpc.ApiServices;
import dev.baton.server.grpc.CallStreamService;
import dev.baton.server.grpc.StreamHub;
import dev.baton.server.grpc.AdminService;
import dev.baton.server.grpc.TokenAuth;
import dev.baton.server.grpc.ApiTls;
import dev.baton.server.grpc.ClusterSecret;
import dev.baton.server.grpc.ForwardLinkService;
import dev.baton.server.security.AuthTokens;

import dev.baton.core.command.Effect;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.ClockSkewWatch;
import dev.baton.server.raft.EffectListener;
import dev.baton.server.raft.ProposalBatcher;
import dev.baton.server.metrics.BatonMetrics;
import dev.baton.server.http.HttpDoor;
import dev.baton.server.line.LineDoor;
import io.grpc.Attributes;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Server;
import io.grpc.ServerTransportFilter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * A whole Baton node, assembled: the Raft replica ({@link BatonNode}); the routing layer every door
 * shares ({@link Router}, {@link LeaseKeeper}, {@link WaitingWrites}) over the gRPC link to the
 * leader ({@link PeerForwarding}); the doors, each a translation on top of the routing layer (gRPC,
 * port 7530 by default; the PoolCounter line protocol; HTTP); the leader's timers; and the listeners
 * that effects are delivered to (the line door, waiting writes, keep-alive streams, leases). This is
 * the only package that knows the doors. {@code baton server} runs one of these; tests and
 * benchmarks can embed it.
 *
 * <h2>Threads</h2>
 * Effects leave the apply thread at once: they are handed to one {@code baton-effects} thread, in
 * log order, which completes waiting acquires and writes to streams. Timers (lease expiry, wait
 * expiry, keep-alive forwarding, address announcement) share one {@code baton-timer} thread; leader
 * start and stop are handled on it too, in order. gRPC calls run on the transport's own threads
 * ({@code directExecutor}), which is safe because no handler blocks.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);

    /**
     * @param node            the Raft node's options
     * @param apiHost         address the gRPC server binds to and other nodes reach it at
     * @param apiPort         gRPC port (0: any free port, see {@link #apiPort()})
     * @param defaultTtlMs    session TTL when a client asks for 0
     * @param limits          the operator's configured limits applied over the replicated ones when this
     *                        node leads (identity: nothing configured)
     * @param join            start with an empty configuration, as a node that an operator is about to
     *                        add to a running cluster ({@code Admin.AddMember}); it waits for the leader
     * @param line            the PoolCounter line-protocol door (port 7531), or null for none
     * @param http            the HTTP port (7532: metrics, health, admin JSON, dashboard), or null for none
     * @param clusterSecret   what the members share to use the node-to-node {@code Forward} service;
     *                        null: a random one if this node is alone (no more than one peer, not
     *                        joining), else refused, since its peers could not forward to it
     * @param clockSkewWarnMs warn (log, dashboard) when the cluster time and this node's wall clock
     *                        differ by more than this, ms (see {@link ClockSkewWatch})
     * @param tls             TLS of the API port, also used on this node's channels to the other
     *                        members' API ports; null: plaintext. A node of a cluster with TLS needs a CA
     *                        for the members' certificates ({@link ApiTls#trustsMembers()})
     * @param auth            the bearer tokens every call of the client services and of Admin must carry
     *                        ({@link TokenAuth}), and every request of the HTTP port's admin JSON API
     *                        ({@code HttpAuth}); null: no tokens asked for
     * @param batching        how this node's batcher packs the log entries it proposes while it leads
     *                        (the fill and hold waits of {@code --batch-fill-wait}, {@code --batch-hold-wait})
     */
    public record Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                         UnaryOperator<Limits> limits, boolean join, LineDoor.Config line, HttpDoor.Config http,
                         ClusterSecret clusterSecret, long clockSkewWarnMs, ApiTls tls, AuthTokens auth,
                         ProposalBatcher.Config batching) {
        public static final int DEFAULT_API_PORT = 7530;

        public Config {
            if (clockSkewWarnMs <= 0) {
                throw new IllegalArgumentException("clock skew bound must be positive");
            }
            Objects.requireNonNull(node, "node");
            Objects.requireNonNull(apiHost, "apiHost");
            Objects.requireNonNull(limits, "limits");
            Objects.requireNonNull(batching, "batching");
            if (apiPort < 0 || apiPort > 65535) {
                throw new IllegalArgumentException("API port " + apiPort + " out of range");
            }
            if (defaultTtlMs <= 0) {
                throw new IllegalArgumentException("default session TTL must be positive");
            }
            if (clusterSecret == null) {
                if (node.peers().size() > 1 || join) {
                    throw new IllegalArgumentException("a node of a cluster (--peers with more than one node, or --join)"
                            + " needs the cluster secret: give every node the same --cluster-secret-file FILE (or the"
                            + " environment variable " + ClusterSecret.ENV + "); create one with"
                            + " head -c 32 /dev/urandom | base64 > cluster.secret");
                }
                clusterSecret = ClusterSecret.random();
            }
            if (tls != null && !tls.trustsMembers() && (node.peers().size() > 1 || join)) {
                throw new IllegalArgumentException("a node of a cluster (--peers with more than one node, or --join) with"
                        + " --tls-cert-file needs --tls-ca-file (the CA that signed the members' API certificates,"
                        + " trusted when this node forwards writes to the leader) or --tls-client-ca-file");
            }
        }

        /** With the batcher's defaults ({@link ProposalBatcher.Config#defaults()}). */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join, LineDoor.Config line, HttpDoor.Config http,
                      ClusterSecret clusterSecret, long clockSkewWarnMs, ApiTls tls, AuthTokens auth) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret, clockSkewWarnMs, tls, auth,
                    ProposalBatcher.Config.defaults());
        }

        /** Without tokens. */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join, LineDoor.Config line, HttpDoor.Config http,
                      ClusterSecret clusterSecret, long clockSkewWarnMs, ApiTls tls) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret, clockSkewWarnMs, tls, null);
        }

        /** Plaintext. */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join, LineDoor.Config line, HttpDoor.Config http,
                      ClusterSecret clusterSecret, long clockSkewWarnMs) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret, clockSkewWarnMs, null);
        }

        /** With the default clock skew bound ({@link ClockSkewWatch#DEFAULT_WARN_MS}). */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join, LineDoor.Config line, HttpDoor.Config http,
                      ClusterSecret clusterSecret) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret,
                    ClockSkewWatch.DEFAULT_WARN_MS);
        }

        /** Without a cluster secret (see {@code clusterSecret}: fine for a single node only). */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join, LineDoor.Config line, HttpDoor.Config http) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, (ClusterSecret) null);
        }

        /** Without the HTTP port. */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join, LineDoor.Config line) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, line, null, null);
        }

        /** Without the PoolCounter door and the HTTP port. */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits, boolean join) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, join, null, null, null);
        }

        /** Without the PoolCounter door, not joining. */
        public Config(BatonNode.Options node, String apiHost, int apiPort, long defaultTtlMs,
                      UnaryOperator<Limits> limits) {
            this(node, apiHost, apiPort, defaultTtlMs, limits, false, null, null, null);
        }

        public Config withLine(LineDoor.Config l) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, l, http, clusterSecret, clockSkewWarnMs, tls, auth, batching);
        }

        public Config withHttp(HttpDoor.Config h) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, line, h, clusterSecret, clockSkewWarnMs, tls, auth, batching);
        }

        /**
         * With this secret. (A node of a cluster needs its secret from the start: build its Config
         * with the full constructor, as the shorter ones refuse a cluster without one.)
         */
        public Config withClusterSecret(ClusterSecret secret) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http,
                    Objects.requireNonNull(secret, "secret"), clockSkewWarnMs, tls, auth, batching);
        }

        public Config withClockSkewWarnMs(long ms) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret, ms, tls, auth, batching);
        }

        /**
         * With TLS on the API port (null: plaintext). (A node of a cluster needs its CA for the members
         * from the start, as with the cluster secret: build its Config with the full constructor.)
         */
        public Config withTls(ApiTls t) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret,
                    clockSkewWarnMs, t, auth, batching);
        }

        /** With this batcher configuration (the leader's entry packing: {@link ProposalBatcher.Config}). */
        public Config withBatching(ProposalBatcher.Config b) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret,
                    clockSkewWarnMs, tls, auth, b);
        }

        /** With bearer tokens on the API port (null: none asked for). */
        public Config withAuth(AuthTokens a) {
            return new Config(node, apiHost, apiPort, defaultTtlMs, limits, join, line, http, clusterSecret,
                    clockSkewWarnMs, tls, a, batching);
        }
    }

    /** Micrometer name of the refused Forward calls (Prometheus: {@code baton_forward_refused_total}). */
    public static final String FORWARD_REFUSED_METRIC = "baton.forward.refused";
    /** Micrometer name of the calls refused for their token (Prometheus: {@code baton_auth_refused_total}). */
    public static final String AUTH_REFUSED_METRIC = BatonMetrics.AUTH_REFUSED_METRIC;

    private final Config config;
    private final AtomicLong forwardRefusedCommands = new AtomicLong();
    private final AtomicLong apiConnections = new AtomicLong();
    private final AtomicLong apiConnectionsAccepted = new AtomicLong();

    /**
     * Concurrent calls (HTTP/2 streams) one connection to the gRPC port may have open. Beyond it the
     * client's library queues its calls, so the answers a connection can leave unread, and the
     * requests it can have pending on this node, are bounded. A shared Java client keeps one
     * connection per node: this is also how many calls (waiting acquires included) it can have in
     * flight to one node at once.
     */
    static final int API_MAX_CALLS_PER_CONNECTION = 1_000;
    /** A connection must finish its HTTP/2 preface within this (a half-open connection is closed). */
    static final long API_HANDSHAKE_TIMEOUT_MS = 10_000;
    /** Headers of one call; a client sends a few hundred bytes. */
    static final int API_MAX_METADATA_BYTES = 16 << 10;
    private static final Attributes.Key<Boolean> COUNTED_CONNECTION = Attributes.Key.create("baton.counted");
    private final BatonNode node;
    private final StreamHub streams = new StreamHub();
    private final LeaseKeeper leases;
    private final Router router;
    private final PeerForwarding peers;
    private final WaitingWrites waitingWrites;
    private final ScheduledExecutorService timer;
    private final ExecutorService effectsThread;
    private volatile NodeDuties duties; // read on the apply thread
    private Server grpc;
    private volatile LineDoor lineDoor;
    private final BatonMetrics metrics;
    private AdminService admin;
    private ForwardLinkService forwardLinks;
    private HttpDoor httpDoor;
    private Server jsonApiServer;
    private io.grpc.ManagedChannel jsonApiChannel;
    private volatile String apiEndpoint;
    private ScheduledExecutorService tlsReloader;
    private ScheduledExecutorService tokenReloader;
    private final TokenAuth tokenAuth;
    private volatile boolean closed;

    public ApiServer(Config config) {
        this.config = config;
        java.util.concurrent.ScheduledThreadPoolExecutor timer =
                new java.util.concurrent.ScheduledThreadPoolExecutor(1, daemon("baton-timer-" + config.node().nodeId()));
        // Every call over a call stream schedules its deadline here, and nearly all are cancelled
        // when answered. Removed at once, they leave the thread asleep until a deadline that is
        // still due; kept, each woke it at its deadline to be thrown away (about one wake-up per
        // call with 64 Java clients) and held its call's context until then.
        timer.setRemoveOnCancelPolicy(true);
        this.timer = timer;
        this.effectsThread = Executors.newSingleThreadExecutor(daemon("baton-effects-" + config.node().nodeId()));
        this.node = new BatonNode(config.node(), new CoordinationStateMachine(), new Listener(),
                System::currentTimeMillis, config.batching());
        this.metrics = new BatonMetrics(node, config.node().nodeId(),
                config.http() == null ? BatonMetrics.Limits.DEFAULTS : config.http().metrics(), () -> lineDoor);
        // Forward calls turned away (no or wrong cluster secret; leader-only commands).
        FunctionCounter.builder(FORWARD_REFUSED_METRIC, config.clusterSecret(), ClusterSecret::refusedCalls)
                .tag("reason", "unauthenticated")
                .description("Calls of the members-only Forward service refused").register(metrics.registry());
        FunctionCounter.builder(FORWARD_REFUSED_METRIC, forwardRefusedCommands, AtomicLong::get)
                .tag("reason", "leader_only_command")
                .description("Calls of the members-only Forward service refused").register(metrics.registry());
        if (config.auth() != null) {
            tokenAuth = new TokenAuth(config.auth(), config.clusterSecret());
            countApiRefusals("unauthenticated", tokenAuth, TokenAuth::unauthenticatedCalls);
            countApiRefusals("permission_denied", tokenAuth, TokenAuth::permissionDeniedCalls);
        } else {
            tokenAuth = null;
        }
        node.clockSkew().setWarnMs(config.clockSkewWarnMs());
        node.clockSkew().bindTo(metrics.registry());
        Gauge.builder("baton.api.connections", apiConnections, AtomicLong::get)
                .description("Open connections to the gRPC port").register(metrics.registry());
        FunctionCounter.builder("baton.api.connections.accepted", apiConnectionsAccepted, AtomicLong::get)
                .description("Connections accepted on the gRPC port").register(metrics.registry());
        this.leases = new LeaseKeeper(node, System::nanoTime);
        this.peers = new PeerForwarding(node, config.clusterSecret(),
                config.tls() == null ? InsecureChannelCredentials.create() : config.tls().memberChannelCredentials());
        this.router = new Router(node, leases, peers);
        this.waitingWrites = new WaitingWrites(router, timer);
        this.metrics.bindRouter(router);
        if (tokenAuth != null) {
            countApiRefusals("outside_key_prefixes", router, Router::refusedOutsideKeyPrefixes);
            countApiRefusals("not_session_owner", router, Router::refusedNotSessionOwner);
        }
        leases.setRouter(router);
        leases.onUnknownSession(this::checkUnknown);
        streams.tellGrantsWith(leases);
    }

    /**
     * {@code baton_auth_refused_total{port="api",reason}}: the gRPC API port's refusals for one reason.
     * (Micrometer holds {@code source} weakly: it must be an object this server keeps, not a lambda.)
     */
    private <T> void countApiRefusals(String reason, T source, java.util.function.ToLongFunction<T> count) {
        FunctionCounter.builder(AUTH_REFUSED_METRIC, source, s -> count.applyAsLong(s))
                .tag("port", "api").tag("reason", reason)
                .description("Calls refused for their token, by port (api: gRPC, http: admin JSON API)")
                .register(metrics.registry());
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** Effects and leadership changes from the apply thread: handed off at once, in order. */
    private final class Listener implements EffectListener {
        @Override
        public void onApplied(dev.baton.core.sm.Applied applied) {
            BatonMetrics m = metrics;
            if (m != null) { // null only while the constructor runs
                m.onApplied(applied);
            }
            NodeDuties d = duties;
            if (d != null) { // null until start()
                d.afterApply();
            }
        }

        @Override
        public void onSnapshotSaved(long index, long pauseNanos, long durationNanos) {
            BatonMetrics m = metrics;
            if (m != null) {
                m.onSnapshotSaved(pauseNanos, durationNanos);
            }
        }

        @Override
        public void onEffects(long index, List<Effect> effects) {
            LineDoor door = lineDoor;
            if (door != null) {
                try {
                    door.onEffects(effects); // queued on its event loop right here, to keep log order
                } catch (Throwable t) {
                    LOG.warn("line door failed on the effects of entry {}", index, t);
                }
            }
            try {
                effectsThread.execute(() -> {
                    for (Effect e : effects) {
                        try {
                            if (e instanceof Effect.SessionEnded s) {
                                leases.ended(s.session());
                            }
                            waitingWrites.onEffect(e);
                            streams.onEffect(e);
                        } catch (Throwable t) {
                            LOG.warn("delivering effect {} failed", e, t);
                        }
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
                // the node is closing; clients reconcile by retrying
            }
        }

        @Override
        public void onLeaderStart(long term) {
            runOnTimer(() -> {
                if (node.isLeader()) {
                    leases.leaderStarted();
                    if (duties != null) {
                        duties.leaderStarted();
                    }
                }
            });
        }

        @Override
        public void onLeaderStop() {
            runOnTimer(leases::leaderStopped);
        }
    }

    private void runOnTimer(Runnable r) {
        try {
            timer.execute(r);
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            // closing
        }
    }

    /**
     * The leader says it does not know a session kept alive here: check, and if it is gone end its
     * streams and drop the grants held for it.
     */
    private void checkUnknown(long session) {
        router.read(new Query.GetSession(session)).whenComplete((s, t) -> {
            if (t == null && s == null) {
                streams.sessionGone(session, true);
                leases.gone(session); // grants held for it are not to be told
            }
        });
    }

    /** Starts the Raft node and the gRPC server; throws if either cannot start (port in use, data dir locked). */
    public synchronized ApiServer start() {
        if (config.join()) {
            node.startJoining();
        } else {
            node.start();
        }
        ApiServices services = new ApiServices(router, waitingWrites, streams, leases, config.defaultTtlMs());
        admin = new AdminService(router, peers, config.node().nodeId(), () -> apiEndpoint, config.clusterSecret());
        forwardLinks = new ForwardLinkService(router, waitingWrites, forwardRefusedCommands);
        // The client services, once: the gRPC port and the HTTP/JSON API serve the same instances.
        List<io.grpc.ServerServiceDefinition> clientServices = List.of(
                withTokens(services.new SessionsService()),
                withTokens(services.new PoolsService()),
                withTokens(services.new LocksService()),
                withTokens(services.new DispatchService()),
                withTokens(services.new EventsService()),
                withTokens(services.new QueuesService()),
                withTokens(callStreams(services)),
                withTokens(admin));
        try {
            InetSocketAddress address = new InetSocketAddress(config.apiHost(), config.apiPort());
            NettyServerBuilder builder = config.tls() == null ? NettyServerBuilder.forAddress(address)
                    : NettyServerBuilder.forAddress(address, config.tls().serverCredentials());
            for (io.grpc.ServerServiceDefinition service : clientServices) {
                builder.addService(service);
            }
            grpc = builder
                    // Members only: the interceptor turns away calls without the cluster secret. No
                    // token: the members forward their clients' calls here, already checked.
                    .addService(ServerInterceptors.intercept(services.new ForwardService(),
                            config.clusterSecret().interceptor()))
                    .addService(ServerInterceptors.intercept(forwardLinks, config.clusterSecret().interceptor()))
                    // A client that vanished without closing its TCP connection is noticed.
                    .keepAliveTime(30, TimeUnit.SECONDS)
                    .keepAliveTimeout(10, TimeUnit.SECONDS)
                    .permitKeepAliveTime(5, TimeUnit.SECONDS)
                    .maxInboundMessageSize(4 << 20)
                    // Bounds against hostile or broken clients (docs/limits.md). The handshake
                    // timeout covers the TLS handshake too.
                    .maxConcurrentCallsPerConnection(API_MAX_CALLS_PER_CONNECTION)
                    .handshakeTimeout(API_HANDSHAKE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                    .maxInboundMetadataSize(API_MAX_METADATA_BYTES)
                    .addTransportFilter(new ServerTransportFilter() {
                        @Override
                        public Attributes transportReady(Attributes attrs) {
                            apiConnections.incrementAndGet();
                            apiConnectionsAccepted.incrementAndGet();
                            return attrs.toBuilder().set(COUNTED_CONNECTION, Boolean.TRUE).build();
                        }

                        @Override
                        public void transportTerminated(Attributes attrs) {
                            // Also called for connections that never became ready (handshake timeout).
                            if (attrs != null && attrs.get(COUNTED_CONNECTION) != null) {
                                apiConnections.decrementAndGet();
                            }
                        }
                    })
                    // Every handler only starts a CompletableFuture chain and never blocks, so calls run
                    // on the transport threads: each hand-off costs ~30-45 us of CPU on the small VMs we
                    // measured (docs/benchmark-history.md, "What limits the figures").
                    .directExecutor()
                    .build()
                    .start();
        } catch (IOException e) {
            node.close();
            throw new UncheckedIOException("cannot serve gRPC on " + config.apiHost() + ":" + config.apiPort(), e);
        }
        apiEndpoint = config.apiHost() + ":" + grpc.getPort();
        if (config.tls() != null) {
            LOG.info("API TLS on {}: {}", apiEndpoint, config.tls().summary());
            // A thread of its own: a file read that hangs (a network file system) must not hold up
            // the lease and wait timers.
            tlsReloader = Executors.newSingleThreadScheduledExecutor(daemon("baton-tls-reload-" + config.node().nodeId()));
            config.tls().startReloading(tlsReloader);
        }
        if (config.auth() != null) {
            if (config.auth().size() == 0) {
                // Allowed (a way to shut every caller out), but more likely a mistake: say so.
                LOG.warn("API token file {} holds no token: every call of the API port but Forward is refused",
                        config.auth().file());
            } else {
                LOG.info("API tokens from {}: {} token(s), re-read when changed", config.auth().file(), config.auth().size());
            }
            tokenReloader = Executors.newSingleThreadScheduledExecutor(daemon("baton-token-reload-" + config.node().nodeId()));
            config.auth().startReloading(tokenReloader);
        }
        if (config.line() != null) {
            try {
                lineDoor = new LineDoor(config.line(), router, leases, waitingWrites, config.node().nodeId()).start();
            } catch (RuntimeException e) {
                grpc.shutdownNow();
                node.close();
                throw e;
            }
        }
        if (config.http() != null) {
            try {
                httpDoor = new HttpDoor(config.http(), router, metrics, admin::status, api -> statusOf(api, 1_000),
                        config.auth(), jsonApiChannel(clientServices)).start(timer);
            } catch (RuntimeException e) {
                shutdownJsonApi();
                LineDoor d = lineDoor;
                if (d != null) {
                    d.close();
                }
                grpc.shutdownNow();
                node.close();
                throw e;
            }
        }
        duties = new NodeDuties(node, router, node::clusterTime, config.node().nodeId(), apiEndpoint,
                config.limits());
        leases.start(timer);
        duties.start(timer);
        timer.scheduleWithFixedDelay(this::checkClockSkew, 1, 1, TimeUnit.SECONDS);
        return this;
    }

    /**
     * The HTTP/JSON API's way in: an in-process gRPC server with the client services of the gRPC
     * port (the same instances, behind the same token check; never the members-only Forward
     * services), and a channel to it. Nothing but the bearer token of an HTTP request is passed on
     * as metadata (see {@code JsonApi}), so no header a member may send (the cluster secret) can
     * come in this way. Calls run on the calling thread, as on the gRPC port: no handler blocks.
     */
    private io.grpc.Channel jsonApiChannel(List<io.grpc.ServerServiceDefinition> clientServices) {
        String name = "baton-json-api-" + config.node().nodeId() + "-" + java.util.UUID.randomUUID();
        io.grpc.inprocess.InProcessServerBuilder b = io.grpc.inprocess.InProcessServerBuilder.forName(name)
                .directExecutor();
        for (io.grpc.ServerServiceDefinition service : clientServices) {
            b.addService(service);
        }
        try {
            jsonApiServer = b.build().start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the in-process server of the HTTP/JSON API", e);
        }
        jsonApiChannel = io.grpc.inprocess.InProcessChannelBuilder.forName(name).directExecutor().build();
        return jsonApiChannel;
    }

    private void shutdownJsonApi() {
        if (jsonApiChannel != null) {
            jsonApiChannel.shutdownNow();
        }
        if (jsonApiServer != null) {
            jsonApiServer.shutdownNow();
        }
    }

    /** {@code service} behind the token check when this node has tokens, else as it is. */
    /** The writes over one stream ({@link CallStreamService}), counted in the metrics. */
    private CallStreamService callStreams(ApiServices services) {
        CallStreamService calls = new CallStreamService(services, timer, CallStreamService.DEFAULT_MAX_IN_FLIGHT);
        Gauge.builder("baton.api.call_streams", calls, CallStreamService::openStreams)
                .description("Open call streams (baton.v1.Calls) on the gRPC port").register(metrics.registry());
        FunctionCounter.builder("baton.api.call_streams.opened", calls, CallStreamService::streamsOpened)
                .description("Call streams opened on the gRPC port").register(metrics.registry());
        FunctionCounter.builder("baton.api.stream_calls", calls, CallStreamService::calls)
                .description("Calls received over call streams").register(metrics.registry());
        FunctionCounter.builder("baton.api.stream_calls.refused", calls, CallStreamService::refusedCalls)
                .description("Calls refused because their stream had the most calls in flight a node allows")
                .register(metrics.registry());
        FunctionCounter.builder("baton.api.stream_calls.cancelled_with_stream", calls, CallStreamService::cancelledWithTheirStream)
                .description("Calls in flight cancelled because their stream ended (the client went away)")
                .register(metrics.registry());
        return calls;
    }

    private io.grpc.ServerServiceDefinition withTokens(io.grpc.BindableService service) {
        return tokenAuth == null ? service.bindService() : ServerInterceptors.intercept(service, tokenAuth);
    }

    /** The services the gRPC port serves (for the test that every method has a role). */
    public List<io.grpc.ServerServiceDefinition> services() {
        return grpc.getServices();
    }

    /** The token check, or null without {@code --auth-token-file}. */
    public TokenAuth tokenAuth() {
        return tokenAuth;
    }

    private void checkClockSkew() {
        try {
            node.clockSkew().check();
        } catch (Throwable t) {
            LOG.warn("clock skew check failed", t);
        }
    }

    public BatonNode node() {
        return node;
    }

    public Router router() {
        return router;
    }

    /** The bound gRPC port. */
    public int apiPort() {
        return grpc.getPort();
    }

    /** {@code host:port} of the gRPC server. */
    public String apiEndpoint() {
        return apiEndpoint;
    }

    public LeaseKeeper leases() {
        return leases;
    }

    /** This node's metrics (also served on the HTTP port when it has one). */
    public BatonMetrics metrics() {
        return metrics;
    }

    /** The HTTP door, or null if this node has none. */
    public HttpDoor httpDoor() {
        return httpDoor;
    }

    /** This node's view of the cluster, as {@code Admin.Status} answers it. */
    public dev.baton.api.v1.StatusResponse status() {
        return admin.status();
    }

    /** Another node's {@code Admin.Status}, asked at its gRPC address {@code api}. */
    public java.util.concurrent.CompletableFuture<dev.baton.api.v1.StatusResponse> statusOf(String api, long deadlineMs) {
        return admin.statusOf(api, deadlineMs);
    }

    /** The PoolCounter door, or null if this node has none. */
    public LineDoor lineDoor() {
        return lineDoor;
    }

    /** Stops serving, then stops the Raft node. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (httpDoor != null) {
            httpDoor.close();
        }
        shutdownJsonApi();
        LineDoor door = lineDoor;
        if (door != null) {
            door.close(); // first: its connections' sessions are closed while the node still runs
        }
        timer.shutdownNow();
        if (tlsReloader != null) {
            tlsReloader.shutdownNow();
        }
        if (tokenReloader != null) {
            tokenReloader.shutdownNow();
        }
        streams.closeAll();
        if (grpc != null) {
            grpc.shutdown();
            try {
                if (!grpc.awaitTermination(2, TimeUnit.SECONDS)) {
                    grpc.shutdownNow();
                    grpc.awaitTermination(2, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                grpc.shutdownNow();
            }
        }
        router.close();
        if (forwardLinks != null) {
            forwardLinks.close();
        }
        node.close();
        effectsThread.shutdown();
    }
}
