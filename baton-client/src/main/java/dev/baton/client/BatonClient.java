package dev.baton.client;

import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.ClientTls;
import dev.baton.client.internal.Endpoints;
import dev.baton.client.internal.IdleSessions;
import dev.baton.client.internal.SessionSet;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A client of a Baton cluster: one entry point, shared by any number of threads, with a view per
 * primitive: {@link #pools()}, {@link #locks()}, {@link #dispatch()}, {@link #events()},
 * {@link #queues()}, {@link #sessions()} and {@link #cluster()}.
 *
 * <p>{@link #builder()}{@code .endpoints(...).build()} (or {@link #connect(String...)}) opens the
 * client's session on the cluster and keeps it alive in the background until {@link #close()}. Every
 * call is offered twice: {@code fooAsync(...)} returns a {@link java.util.concurrent.CompletableFuture},
 * and {@code foo(...)} blocks for the same result. Results are Baton's own records and enums. The
 * futures of the async methods complete on the {@link Builder#callbackExecutor(Executor) callback
 * executor}, never on gRPC's I/O threads, so their continuations may block.
 *
 * <h2>Sessions underneath</h2>
 * The server limits each session: a few pool slots held or waited for ({@code maxSlotsPerSession},
 * 4 by default), one waiting pool acquire, one waiting acquire per lock name. So that one client may
 * serve any number of threads, pool and lock acquires are spread over several sessions of the client:
 * each goes to a session that has room for it, another is opened when none has, and sessions opened
 * that way are closed again once idle ({@link Builder#idleSessionClose(Duration)}). A reply names
 * the session it was made on, and a release goes to the session of the hold it names; losing a session
 * loses only the holds on it. Dispatch targets, events and queue claims belong to the client's first
 * session ({@link #sessionId()}). For a unit of work on a session of its own, use
 * {@link #newSession()}.
 *
 * <h2>What the server guarantees, and what the client does with it</h2>
 * <ul>
 *   <li><b>Any node accepts any request.</b> Writes are forwarded to the Raft leader; reads are
 *       linearizable wherever they are answered. The client still prefers the leader: whenever an
 *       answer carries the {@code baton-leader} trailer it sends later calls there.</li>
 *   <li><b>Writes are idempotent per request id.</b> Every write made on behalf of a session carries
 *       the session id and a request id, unique and increasing per session (counting from 1). When an
 *       attempt fails with {@code UNAVAILABLE}, a transport failure, or (for calls that do not wait)
 *       {@code DEADLINE_EXCEEDED}, the client retries the <em>same</em> request, with the same request
 *       id, on the next node, after a backoff of 20 ms doubling to 1 s, for up to
 *       {@link Builder#retryFor(Duration) retryFor}. The server answers a repeated request id with the
 *       first answer (rejections included) and changes nothing, so a write is applied at most once,
 *       even across a fail-over. If every attempt fails, the call fails with
 *       {@link BatonUnavailableException} and its outcome is unknown.</li>
 *   <li><b>At most 49 writes in flight per session.</b> The server remembers a bounded window of
 *       answers per session, so the client never lets a new request id run more than 48 ahead of the
 *       oldest unanswered one: further writes wait in order (their futures simply complete later; no
 *       thread is blocked) until older ones are answered.</li>
 *   <li><b>Refusals fail at once</b> with a {@link BatonException} subclass (see there); they are never
 *       retried, and they changed nothing on the server.</li>
 *   <li><b>Outcomes are replies</b>: {@code QUEUE_FULL}, {@code TIMEOUT}, {@code BUSY},
 *       {@code NOT_LOCKED}, ... are status fields of the returned record, not exceptions.</li>
 *   <li><b>Sessions.</b> Whatever a session holds is released by the server when the session ends
 *       (closed, or its lease of {@link #sessionTtl()} not renewed in time). The client renews each
 *       session every ttl/3 over a keep-alive stream, moved to another node at once when a node fails.
 *       When a session is lost, the {@link Builder#onSessionLost(Consumer) onSessionLost} listener is
 *       called once for it. When the client's first session is lost, every later call that needs a
 *       session fails with {@link SessionLostException}.</li>
 * </ul>
 *
 * <h2>Waiting acquires</h2>
 * {@link Pools#acquire} and {@link Locks#acquire} with a positive timeout are single calls that the
 * server answers when the wait ends (granted, {@code DONE} or {@code TIMEOUT}); their deadline is the
 * wait timeout plus {@link Builder#requestTimeout(Duration) requestTimeout}. The {@code ...Queued}
 * variants instead return {@code QUEUED} at once and deliver the outcome to the
 * {@link Builder#onEvent(Consumer) onEvent} listener. The server may answer a waiting call up to about
 * 3 s after its wait timeout (when it has to re-check a missed outcome), so keep
 * {@link Builder#requestTimeout(Duration) requestTimeout} above that.
 *
 * <h2>Arguments</h2>
 * Null arguments throw {@link NullPointerException} and negative counts, fences or durations throw
 * {@link IllegalArgumentException} at once, from the async methods too; everything else is checked by
 * the server ({@link InvalidArgumentException}). Durations are sent in whole milliseconds.
 */
public final class BatonClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BatonClient.class.getName());

    /** The API port of a Baton node. */
    public static final int DEFAULT_PORT = 7530;

    private final ClientCore core;
    private final ClientSession primary;
    private final SessionSet sessions;
    private final Set<BatonSession> extra = ConcurrentHashMap.newKeySet();
    /** Sessions of {@link #newSession()} closed with nothing held, kept for the next one. */
    private final IdleSessions idle;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Pools pools;
    private final Locks locks;
    private final Dispatch dispatch;
    private final Events events;
    private final Queues queues;
    private final Sessions sessionReads;
    private final Cluster cluster;
    private final BatonSession own;
    private final ClientStats stats;

    private BatonClient(ClientCore core, ClientSession primary) {
        this.core = core;
        this.primary = primary;
        this.sessions = SessionSet.spreading(core, primary);
        this.idle = new IdleSessions(core);
        this.pools = new Pools(core, sessions, false);
        this.locks = new Locks(core, sessions, false);
        this.dispatch = new Dispatch(core, sessions);
        this.events = new Events(core, sessions);
        this.queues = new Queues(core, sessions);
        this.sessionReads = new Sessions(core, sessions);
        this.cluster = new Cluster(core);
        this.own = new BatonSession(core, sessions);
        this.stats = new ClientStats(this, core, sessions);
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

    // ---- views ----------------------------------------------------------------------------------

    /** Pools (counting semaphores by key). */
    public Pools pools() {
        return pools;
    }

    /** Fenced locks. */
    public Locks locks() {
        return locks;
    }

    /** Change dispatch groups. */
    public Dispatch dispatch() {
        return dispatch;
    }

    /** Events that gate queue items. */
    public Events events() {
        return events;
    }

    /** Work queues. */
    public Queues queues() {
        return queues;
    }

    /** Reads about sessions. */
    public Sessions sessions() {
        return sessionReads;
    }

    /** The cluster's status and administration. */
    public Cluster cluster() {
        return cluster;
    }

    /**
     * The client's own (first) session as a {@link BatonSession}: every call through it is made on that
     * one session, so the server's per-session limits show there as they would on a session of its own
     * (the PoolCounter and lock facades act this way, as one process). Closing it does nothing; it ends
     * with the client.
     */
    public BatonSession session() {
        return own;
    }

    /**
     * Opens another session on this client, with the same views, on which every call is made: for
     * callers that want one session per unit of work (what it holds ends with it). It shares the
     * client's connections, settings and listeners; close it when done (closing the client closes it
     * too). A session another {@code BatonSession} of this client closed a moment ago while holding
     * nothing may be given again instead of opening one (see {@link BatonSession}).
     *
     * @throws BatonUnavailableException if no node opened a session in time
     */
    public BatonSession newSession() {
        if (closed.get()) {
            throw new BatonClosedException("the Baton client is closed");
        }
        ClientSession s = idle.take();
        if (s == null) {
            s = ClientCore.await(ClientSession.open(core, UUID.randomUUID().toString(), false));
        }
        BatonSession[] made = new BatonSession[1];
        made[0] = new BatonSession(core, s, idle::offer, () -> extra.remove(made[0]));
        extra.add(made[0]);
        if (closed.get()) {
            made[0].close();
            throw new BatonClosedException("the Baton client is closed");
        }
        return made[0];
    }

    // ---- the client's own session ---------------------------------------------------------------

    /** The id of the client's first session, as granted by the server. */
    public long sessionId() {
        return primary.sessionId();
    }

    /** The session's lease as granted by the server (and updated by keep-alive acknowledgements). */
    public Duration sessionTtl() {
        return primary.ttl();
    }

    /**
     * What the client knows about its first session. {@link SessionState#SUSPECT} means no keep-alive
     * was acknowledged for longer than the TTL, so the server may have expired the session; the client
     * keeps trying and it is reported lost only when a node says so.
     */
    public SessionState sessionState() {
        if (closed.get()) {
            return SessionState.CLOSED;
        }
        return primary.state();
    }

    /**
     * True while the first session is {@link SessionState#ALIVE}: not lost, not closed, and a keep-alive
     * was acknowledged within its TTL.
     */
    public boolean sessionAlive() {
        return sessionState() == SessionState.ALIVE;
    }

    /** The endpoint new calls go to now (the leader, when it is known). */
    public String currentEndpoint() {
        return core.currentEndpoint();
    }

    /** Figures for metrics: open sessions, calls in flight, retries, the session's state. */
    public ClientStats stats() {
        return stats;
    }

    /** How many sessions the client has open for its views now (for tests). */
    int openSessions() {
        return sessions.size();
    }

    /** Sessions kept for the next {@link #newSession()} ({@link ClientStats#keptSessions()}). */
    int keptSessions() {
        return idle.size();
    }

    /** The request id the next admitted write on the first session will carry (for tests). */
    long peekNextRequestId() {
        return primary.peekNextRequestId();
    }

    /** Writes waiting for the first session's request-id window (for tests). */
    int queuedWrites() {
        return primary.queuedWrites();
    }

    // ---- closing --------------------------------------------------------------------------------

    /**
     * Ends the client's sessions and releases its resources: stops the keep-alives, sends
     * {@code Sessions.Close} for each session (best effort: retried like any call but for about two
     * seconds at most; if it fails the session expires after its TTL), fails calls still running with
     * {@link BatonClosedException} and shuts the channels down (waiting up to a second for them to
     * terminate). The server releases everything the sessions held or waited for. Idempotent; the
     * listeners are not called. Calls made after {@code close()} fail with {@link BatonClosedException}.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (BatonSession s : List.copyOf(extra)) {
            s.close();
        }
        idle.close();
        sessions.close();
        core.shutdown(true);
        LOG.log(Level.TRACE, "Baton client closed");
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
        private Consumer<BatonEvent> onEvent = e -> {};
        private int slotsPerSession = 4;
        private Duration idleSessionClose = Duration.ofSeconds(30);
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
         * Receives, in order and on the client's single event thread, every {@link BatonEvent} the
         * server pushes to the client's sessions: {@link BatonEvent.PoolWaitEnded} and
         * {@link BatonEvent.LockWaitEnded} for {@code ...Queued} acquires, {@link BatonEvent.SessionEnded},
         * and (once, from the client's first session) {@link BatonEvent.EventCompleted} and
         * {@link BatonEvent.QueueClaimable}. Events may repeat or be missed across fail-overs; treat them
         * as hints and confirm with a call. Keep the listener short: it delays later events. Default:
         * ignore.
         */
        public Builder onEvent(Consumer<BatonEvent> listener) {
            this.onEvent = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * The pool slots (held or waited for) the server allows one session (default 4, the server's
         * default {@code maxSlotsPerSession}): the client opens another session for an acquire when
         * each of its sessions has this many. Set it to the server's value if that was changed.
         */
        public Builder slotsPerSession(int slots) {
            if (slots < 1) {
                throw new IllegalArgumentException("slotsPerSession must be positive: " + slots);
            }
            this.slotsPerSession = slots;
            return this;
        }

        /**
         * How long a session the client opened for extra acquires stays open once nothing is held or
         * waited for on it (default 30 s); then it is closed. The client's first session stays open.
         */
        public Builder idleSessionClose(Duration idle) {
            Objects.requireNonNull(idle, "idle");
            if (idle.isNegative()) {
                throw new IllegalArgumentException("negative idleSessionClose: " + idle);
            }
            this.idleSessionClose = idle;
            return this;
        }

        /**
         * Makes the channel for an endpoint address (default: plaintext HTTP/2 through
         * {@code grpc-netty}, inbound messages up to 256 MiB). Use it for TLS or custom
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
         * continuations never block, and futures reach callers on the callback executor.
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
            ClientCore core = new ClientCore(new ClientCore.Settings(copy.endpoints, copy.channelFactory,
                    copy.tls == null && !copy.customChannelFactory,
                    copy.authToken != null ? BearerToken.interceptor(copy.authToken)
                            : copy.authTokens != null ? BearerToken.interceptor(copy.authTokens) : null,
                    copy.callStream, copy.requestTimeout, copy.retryFor, copy.sessionTtl, copy.clientToken,
                    copy.onEvent, copy.onSessionLost, copy.callbacks, copy.slotsPerSession, copy.idleSessionClose));
            ClientSession primary;
            try {
                primary = ClientCore.await(ClientSession.open(core, copy.clientToken, true));
            } catch (RuntimeException e) {
                core.shutdown(false);
                throw e;
            }
            return new BatonClient(core, primary);
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
            b.slotsPerSession = slotsPerSession;
            b.idleSessionClose = idleSessionClose;
            return b;
        }
    }
}
