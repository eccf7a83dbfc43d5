package dev.baton.server.http;

import dev.baton.server.metrics.BatonMetrics;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.baton.api.v1.StatusResponse;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.route.Router;
import dev.baton.server.security.PemCredentials;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The HTTP port (7532 by default): {@code /metrics} (Prometheus text), {@code /health/live},
 * {@code /health/ready}, the JSON admin API under {@code /api/}, the dashboard under
 * {@code /dashboard/} (static files shipped in the jar), and the HTTP/JSON API of {@code baton.v1}
 * under {@code /v1/} ({@link JsonApi}: answered asynchronously, never on the handler threads).
 *
 * <h2>Slow clients cannot stall it</h2>
 * Served by Netty: one event-loop thread reads and writes every connection without blocking, so a
 * client that sends half a request, or never reads its answer, holds a connection and nothing else
 * (see {@link HttpConnection} for the timeouts that close it). A complete request is answered on a
 * small bounded pool of handler threads ({@link Config#threads()}), because some answers wait:
 * {@code /api/cluster} asks the other members (1 s deadline), {@code /health/ready} gives the node
 * up to 1 s to catch up, a forced close waits for Raft. When all of them are busy and
 * {@link Config#maxQueued()} requests wait, the next one gets 503 at once instead of a queue
 * without bound. Connections beyond {@link Config#maxConnections()} are refused with 503.
 *
 * <h2>Writes need proof of intent</h2>
 * POST and DELETE pass {@link SameOrigin}'s rule (a JSON content type or the {@code X-Baton-Request}
 * header, and no foreign {@code Origin}), so a web page cannot make an operator's browser close a
 * session. GETs change nothing and stay simple.
 *
 * <h2>Tokens, when the node has them</h2>
 * With {@code --auth-token-file} every endpoint of the admin JSON API needs a bearer token with the
 * role {@link HttpAuth#ACCESS} gives it (the same tokens and roles as the gRPC API port);
 * {@code /metrics} and {@code /health/*} stay open unless {@code --http-open} says otherwise
 * ({@link OpenPath}). Without the file nothing is asked for.
 */
public final class HttpDoor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HttpDoor.class);
    static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
    static final String JSON = "application/json; charset=utf-8";
    /** Longest request line and all headers together; a browser's requests are well under 8 KiB. */
    static final int MAX_LINE_BYTES = 8 * 1024;
    static final int MAX_HEADER_BYTES = 16 * 1024;

    /**
     * @param host             address to bind
     * @param port             port (0: any free port, see {@link #port()})
     * @param threads          handler threads (the answers that may wait run there)
     * @param metrics          bounds on label cardinality of {@code /metrics}
     * @param lagIntervalMs    how often the dashboard's dispatch-lag history is sampled
     * @param lagSamples       how many samples it keeps
     * @param requestTimeoutMs longest time from a request's first byte to its last, and for a reply
     *                         to be taken by the client; then the connection is closed (408 if
     *                         nothing was answered yet)
     * @param idleTimeoutMs    a kept-alive connection with no request for this long is closed
     * @param maxConnections   open connections; more are answered 503 and closed
     * @param maxBodyBytes     largest request body; a larger one is answered 413 and the connection closed
     * @param maxQueued        complete requests waiting for a handler thread; more are answered 503
     * @param tls              HTTPS with this certificate and key ({@code --http-tls-cert-file},
     *                         {@code --http-tls-key-file}); null: plain HTTP
     * @param open             what stays open to anyone when the node has tokens ({@code --http-open});
     *                         without tokens everything is open
     * @param maxApiCalls      HTTP/JSON API calls ({@code POST /v1/...}) in flight at once, waiting
     *                         acquires included; more are answered 429 ({@code LIMIT_EXCEEDED})
     * @param maxApiBodyBytes  largest HTTP/JSON API request body (the other endpoints keep
     *                         {@code maxBodyBytes}); a larger one is answered 413
     */
    public record Config(String host, int port, int threads, BatonMetrics.Limits metrics, long lagIntervalMs,
                         int lagSamples, long requestTimeoutMs, long idleTimeoutMs, int maxConnections,
                         int maxBodyBytes, int maxQueued, PemCredentials.Files3 tls, Set<OpenPath> open,
                         int maxApiCalls, int maxApiBodyBytes) {
        public static final int DEFAULT_PORT = 7532;
        /** HTTP/JSON API calls in flight per node (waiting acquires included). */
        public static final int DEFAULT_MAX_API_CALLS = 1_000;
        /** The largest HTTP/JSON API request body: the gRPC port's message size limit. */
        public static final int DEFAULT_MAX_API_BODY_BYTES = 4 << 20;
        public static final int DEFAULT_THREADS = 4;
        public static final long DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
        public static final long DEFAULT_IDLE_TIMEOUT_MS = 60_000;
        public static final int DEFAULT_MAX_CONNECTIONS = 512;
        public static final int DEFAULT_MAX_BODY_BYTES = 16 * 1024;
        public static final int DEFAULT_MAX_QUEUED = 64;

        public Config {
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(metrics, "metrics");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("HTTP port " + port + " out of range");
            }
            if (threads <= 0 || lagIntervalMs <= 0 || lagSamples <= 0) {
                throw new IllegalArgumentException("HTTP threads, lag interval and lag samples must be positive");
            }
            if (requestTimeoutMs <= 0 || idleTimeoutMs <= 0) {
                throw new IllegalArgumentException("HTTP request and idle timeouts must be positive");
            }
            if (maxConnections <= 0 || maxQueued < 0 || maxBodyBytes < 0) {
                throw new IllegalArgumentException("HTTP max connections must be positive, max body bytes and"
                        + " max queued requests not negative");
            }
            if (maxApiCalls <= 0 || maxApiBodyBytes <= 0) {
                throw new IllegalArgumentException("HTTP max API calls and max API body bytes must be positive");
            }
            open = Set.copyOf(Objects.requireNonNull(open, "open"));
        }

        /** The HTTP/JSON API's bounds at their defaults. */
        public Config(String host, int port, int threads, BatonMetrics.Limits metrics, long lagIntervalMs,
                      int lagSamples, long requestTimeoutMs, long idleTimeoutMs, int maxConnections,
                      int maxBodyBytes, int maxQueued, PemCredentials.Files3 tls, Set<OpenPath> open) {
            this(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs, idleTimeoutMs,
                    maxConnections, maxBodyBytes, maxQueued, tls, open, DEFAULT_MAX_API_CALLS,
                    DEFAULT_MAX_API_BODY_BYTES);
        }

        /** {@code /metrics} and {@code /health/*} open to anyone ({@link OpenPath#DEFAULT}). */
        public Config(String host, int port, int threads, BatonMetrics.Limits metrics, long lagIntervalMs,
                      int lagSamples, long requestTimeoutMs, long idleTimeoutMs, int maxConnections,
                      int maxBodyBytes, int maxQueued, PemCredentials.Files3 tls) {
            this(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs, idleTimeoutMs,
                    maxConnections, maxBodyBytes, maxQueued, tls, OpenPath.DEFAULT);
        }

        /** Plain HTTP. */
        public Config(String host, int port, int threads, BatonMetrics.Limits metrics, long lagIntervalMs,
                      int lagSamples, long requestTimeoutMs, long idleTimeoutMs, int maxConnections,
                      int maxBodyBytes, int maxQueued) {
            this(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs, idleTimeoutMs,
                    maxConnections, maxBodyBytes, maxQueued, null);
        }

        /** The bounds at their defaults. */
        public Config(String host, int port, int threads, BatonMetrics.Limits metrics, long lagIntervalMs,
                      int lagSamples) {
            this(host, port, threads, metrics, lagIntervalMs, lagSamples, DEFAULT_REQUEST_TIMEOUT_MS,
                    DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_QUEUED);
        }

        /** The same over HTTPS (null: plain HTTP). */
        public Config withTls(PemCredentials.Files3 files) {
            return new Config(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs, idleTimeoutMs,
                    maxConnections, maxBodyBytes, maxQueued, files, open, maxApiCalls, maxApiBodyBytes);
        }

        /** The same with {@code paths} open to anyone when the node has tokens ({@code --http-open}). */
        public Config withOpen(Set<OpenPath> paths) {
            return new Config(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs, idleTimeoutMs,
                    maxConnections, maxBodyBytes, maxQueued, tls, paths, maxApiCalls, maxApiBodyBytes);
        }

        /** 4 threads; lag sampled every 2 s for 10 minutes; the bounds at their defaults. */
        public static Config defaults(String host, int port) {
            return new Config(host, port, DEFAULT_THREADS, BatonMetrics.Limits.DEFAULTS, 2_000, 300);
        }

        /** The same with other connection bounds. */
        public Config withBounds(int threads, long requestTimeoutMs, long idleTimeoutMs, int maxConnections,
                                 int maxBodyBytes, int maxQueued) {
            return new Config(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs,
                    idleTimeoutMs, maxConnections, maxBodyBytes, maxQueued, tls, open, maxApiCalls, maxApiBodyBytes);
        }

        /**
         * The same with other bounds for the HTTP/JSON API ({@code --http-max-api-calls},
         * {@code --http-max-api-body-bytes}).
         */
        public Config withApiBounds(int maxApiCalls, int maxApiBodyBytes) {
            return new Config(host, port, threads, metrics, lagIntervalMs, lagSamples, requestTimeoutMs,
                    idleTimeoutMs, maxConnections, maxBodyBytes, maxQueued, tls, open, maxApiCalls, maxApiBodyBytes);
        }
    }

    /**
     * The endpoints a node with tokens may still serve to anyone ({@code --http-open}): scrapers and
     * load balancers often cannot send a token.
     */
    public enum OpenPath {
        /** {@code /metrics}. */
        METRICS,
        /** {@code /health/live} and {@code /health/ready}. */
        HEALTH;

        public static final Set<OpenPath> DEFAULT = Set.of(METRICS, HEALTH);

        /**
         * {@code --http-open}: a comma list of {@code metrics} and {@code health}, or {@code none}.
         *
         * @throws IllegalArgumentException naming {@code option} and what it takes
         */
        public static Set<OpenPath> parse(String list, String option) {
            String want = option + " takes a comma list of metrics and health, or none";
            if (list == null || list.isBlank()) {
                throw new IllegalArgumentException(want + ", got nothing");
            }
            if (list.strip().equalsIgnoreCase("none")) {
                return Set.of();
            }
            EnumSet<OpenPath> paths = EnumSet.noneOf(OpenPath.class);
            for (String item : list.split(",", -1)) {
                OpenPath path = switch (item.strip().toLowerCase(Locale.ROOT)) {
                    case "metrics" -> METRICS;
                    case "health" -> HEALTH;
                    case "none" -> throw new IllegalArgumentException(want + " (none alone), got '" + list + "'");
                    default -> throw new IllegalArgumentException(want + ", got '" + item.strip() + "' in '" + list + "'");
                };
                if (!paths.add(path)) {
                    throw new IllegalArgumentException(want + ", got " + item.strip() + " twice in '" + list + "'");
                }
            }
            return Set.copyOf(paths);
        }
    }

    /** How often the HTTPS certificate and key files are read again (rotation without a restart). */
    static final long TLS_RELOAD_INTERVAL_MS = 60_000;

    private final Config config;
    private volatile PemCredentials credentials;
    private volatile SslContext tls; // set before the port is bound; read by every new connection
    private final Router router;
    private final BatonMetrics metrics;
    private final LagHistory lagHistory;
    private final AdminApi api;
    private final HttpAuth auth;
    private final JsonApi jsonApi; // null: no HTTP/JSON API on this door
    final ThreadPoolExecutor handlers;
    private final EventLoopGroup loop;
    private final AtomicInteger open = new AtomicInteger();
    private volatile boolean closing;
    private Channel server;
    private ScheduledFuture<?> sampler;

    final Counter connectionsRefused;
    final Counter timedOutRequest;
    final Counter timedOutIdle;
    final Counter timedOutResponse;
    final Counter refusedCrossOrigin;
    final Counter refusedSimple;
    final Counter refusedTooLarge;
    final Counter refusedMalformed;
    final Counter refusedBusy;

    /** Without tokens: every endpoint open to anyone. */
    public HttpDoor(Config config, Router router, BatonMetrics metrics, Supplier<StatusResponse> status,
                    Function<String, CompletableFuture<StatusResponse>> statusOf) {
        this(config, router, metrics, status, statusOf, null);
    }

    /**
     * @param status   this node's status
     * @param statusOf another member's status, by its gRPC address
     * @param tokens   the node's bearer tokens ({@code --auth-token-file}), asked for as {@link HttpAuth}
     *                 says; null: none asked for
     */
    public HttpDoor(Config config, Router router, BatonMetrics metrics, Supplier<StatusResponse> status,
                    Function<String, CompletableFuture<StatusResponse>> statusOf, AuthTokens tokens) {
        this(config, router, metrics, status, statusOf, tokens, null);
    }

    /**
     * @param api a channel to the node's own gRPC services of {@code baton.v1}, behind the same token
     *            check as the gRPC port, served as the HTTP/JSON API under {@code /v1/}
     *            ({@link JsonApi}); null: no such API (404)
     */
    public HttpDoor(Config config, Router router, BatonMetrics metrics, Supplier<StatusResponse> status,
                    Function<String, CompletableFuture<StatusResponse>> statusOf, AuthTokens tokens,
                    io.grpc.Channel api) {
        this.config = config;
        this.router = router;
        this.metrics = metrics;
        this.lagHistory = new LagHistory(router.node(), config.lagIntervalMs(), config.lagSamples());
        this.api = new AdminApi(router, status, statusOf, lagHistory);
        this.auth = new HttpAuth(tokens, config.open(), metrics.registry());
        this.jsonApi = api == null ? null : new JsonApi(api, config.maxApiCalls(), metrics.registry());
        AtomicInteger n = new AtomicInteger();
        this.handlers = new ThreadPoolExecutor(config.threads(), config.threads(), 60, TimeUnit.SECONDS,
                config.maxQueued() == 0 ? new java.util.concurrent.SynchronousQueue<>()
                        : new ArrayBlockingQueue<>(config.maxQueued()), r -> {
            Thread t = new Thread(r, "baton-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.loop = new NioEventLoopGroup(1, r -> {
            Thread t = new Thread(r, "baton-http-io");
            t.setDaemon(true);
            return t;
        });
        MeterRegistry reg = metrics.registry();
        Gauge.builder("baton.http.connections", open, AtomicInteger::get)
                .description("Open connections to the HTTP port").register(reg);
        connectionsRefused = Counter.builder("baton.http.connections.refused")
                .description("HTTP connections refused because --http-max-connections were open").register(reg);
        timedOutRequest = timedOut(reg, "request", "a request not fully received within --http-request-timeout-ms");
        timedOutIdle = timedOut(reg, "idle", "a kept-alive connection idle for --http-idle-timeout-ms");
        timedOutResponse = timedOut(reg, "response", "an answer not taken by the client within --http-request-timeout-ms");
        refusedCrossOrigin = refused(reg, "cross_origin", "a write from another origin (Origin or Sec-Fetch-Site)");
        refusedSimple = refused(reg, "simple_request", "a write without Content-Type: application/json or X-Baton-Request");
        refusedTooLarge = refused(reg, "too_large", "a body over --http-max-body-bytes (413)");
        refusedMalformed = refused(reg, "malformed", "a request that is not valid HTTP or has too long a line or headers");
        refusedBusy = refused(reg, "busy", "every handler thread busy and --http-max-queued waiting (503)");
    }

    private static Counter timedOut(MeterRegistry reg, String phase, String what) {
        return Counter.builder("baton.http.connections.timed.out").tag("phase", phase)
                .description("HTTP connections closed by a timeout: " + what).register(reg);
    }

    private static Counter refused(MeterRegistry reg, String reason, String what) {
        return Counter.builder("baton.http.requests.refused").tag("reason", reason)
                .description("HTTP requests refused: " + what).register(reg);
    }

    /** Binds the port and starts sampling dispatch lag on {@code timer}. */
    public synchronized HttpDoor start(ScheduledExecutorService timer) {
        if (config.tls() != null) {
            credentials = PemCredentials.load(config.tls()).watch(TLS_RELOAD_INTERVAL_MS, "baton-http-tls");
            try {
                tls = SslContextBuilder.forServer(credentials.keyManager()).sslProvider(SslProvider.JDK)
                        .protocols("TLSv1.3", "TLSv1.2").build();
            } catch (IOException e) {
                credentials.close();
                throw new UncheckedIOException("cannot build the HTTP port's TLS context: " + e.getMessage(), e);
            }
        }
        ServerBootstrap b = new ServerBootstrap()
                .group(loop)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 128)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // initChannel runs on the one event loop: count and check cannot race
                        if (open.incrementAndGet() > config.maxConnections() || closing) {
                            open.decrementAndGet();
                            connectionsRefused.increment();
                            ch.pipeline().addLast(new Refuse());
                            return;
                        }
                        ch.closeFuture().addListener(f -> open.decrementAndGet());
                        HttpConnection c = new HttpConnection(HttpDoor.this);
                        ch.pipeline().addLast("clock", c.clock()); // times the TLS handshake too
                        if (tls != null) {
                            ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline()
                                .addLast("codec", new HttpServerCodec(MAX_LINE_BYTES, MAX_HEADER_BYTES, 8192))
                                .addLast("aggregator", new Aggregator())
                                .addLast("connection", c);
                    }
                });
        try {
            server = b.bind(new InetSocketAddress(config.host(), config.port())).sync().channel();
        } catch (Exception e) {
            loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            handlers.shutdownNow();
            if (credentials != null) {
                credentials.close();
            }
            throw new UncheckedIOException("cannot serve HTTP on " + config.host() + ":" + config.port()
                    + " (--http-host, --http-port): " + e.getMessage(), e instanceof IOException io ? io : new IOException(e));
        }
        lagHistory.sample();
        sampler = timer.scheduleAtFixedRate(() -> {
            try {
                lagHistory.sample();
            } catch (RuntimeException e) {
                LOG.warn("sampling dispatch lag failed", e);
            }
        }, config.lagIntervalMs(), config.lagIntervalMs(), TimeUnit.MILLISECONDS);
        return this;
    }

    /** Answers a connection over the limit with 503 and closes it (the client gets a reason, not a reset). */
    private final class Refuse extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            byte[] body = GSON.toJson(errorBody("UNAVAILABLE", closing ? "the node is shutting down"
                    : "too many HTTP connections (" + config.maxConnections() + ")")).getBytes(StandardCharsets.UTF_8);
            String head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + JSON + "\r\nContent-Length: "
                    + body.length + "\r\nConnection: close\r\n\r\n";
            ctx.writeAndFlush(Unpooled.wrappedBuffer(head.getBytes(StandardCharsets.US_ASCII), body))
                    .addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * The aggregator, answering an oversized body with a JSON 413 and closing the connection. The
     * limit depends on the request: the JSON API's for {@code /v1/}, {@link Config#maxBodyBytes()}
     * for the rest, checked against the declared length at once and against the bytes as they come.
     */
    private final class Aggregator extends HttpObjectAggregator {
        private int limit = config.maxBodyBytes();
        private long received;
        private boolean refused;
        private boolean api;

        Aggregator() {
            super(Math.max(config.maxBodyBytes(), jsonApi == null ? 0 : config.maxApiBodyBytes()));
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, io.netty.handler.codec.http.HttpObject msg,
                              java.util.List<Object> out) throws Exception {
            if (refused) {
                return; // the connection is closing; decode's caller releases msg
            }
            if (msg instanceof io.netty.handler.codec.http.HttpRequest req) {
                String uri = req.uri();
                int q = uri.indexOf('?');
                api = jsonApi != null && JsonApi.owns(q < 0 ? uri : uri.substring(0, q));
                limit = api ? config.maxApiBodyBytes() : config.maxBodyBytes();
                received = 0;
            }
            if (msg instanceof io.netty.handler.codec.http.HttpContent c) {
                received += c.content().readableBytes();
                if (received > limit) {
                    refused = true;
                    handleOversizedMessage(ctx, null);
                    return;
                }
            }
            super.decode(ctx, msg, out);
        }

        @Override
        protected boolean isContentLengthInvalid(io.netty.handler.codec.http.HttpMessage start, int maxContentLength) {
            return super.isContentLengthInvalid(start, limit);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            refused = true;
            refusedTooLarge.increment();
            HttpConnection c = ctx.pipeline().get(HttpConnection.class);
            String message = "request body over " + limit + " bytes";
            Reply r = api ? JsonApi.error(413, io.grpc.Status.Code.RESOURCE_EXHAUSTED, "TOO_LARGE", message
                    + " (--http-max-api-body-bytes)", null) : Reply.error(413, "TOO_LARGE", message);
            if (c != null) {
                c.refuse(r);
            } else {
                ctx.close();
            }
        }
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** {@code host:port} it serves on. */
    public String endpoint() {
        return config.host() + ":" + port();
    }

    /** {@code https} with TLS, else {@code http}. */
    public String scheme() {
        return config.tls() == null ? "http" : "https";
    }

    public Config config() {
        return config;
    }

    public BatonMetrics metrics() {
        return metrics;
    }

    /** Open connections. */
    public int connections() {
        return open.get();
    }

    @Override
    public synchronized void close() {
        closing = true;
        if (sampler != null) {
            sampler.cancel(false);
        }
        if (server != null) {
            server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        handlers.shutdownNow();
        if (credentials != null) {
            credentials.close();
        }
    }

    // ---- the HTTP/JSON API ----------------------------------------------------------------------

    /** True if {@code req} is for the HTTP/JSON API (a path under {@code /v1/}, any method). */
    boolean isApi(Request req) {
        return JsonApi.owns(rawPath(req.uri()));
    }

    /**
     * The answer refusing an HTTP/JSON API request before any call is made, or null: a door without
     * the API, a method other than POST, a write without proof of intent ({@link SameOrigin}), a body
     * that is not JSON. The token is not checked here but by the call itself, with the role its
     * method needs, as on the gRPC port.
     */
    Reply apiRefusal(Request req) {
        String path = rawPath(req.uri());
        if (jsonApi == null) {
            return JsonApi.error(404, io.grpc.Status.Code.NOT_FOUND, "NOT_FOUND", "no HTTP/JSON API on this node ("
                    + path + ")", null);
        }
        if (!req.method().equals("POST")) {
            return JsonApi.error(405, io.grpc.Status.Code.UNIMPLEMENTED, "METHOD_NOT_ALLOWED", req.method()
                    + " is not allowed on " + path + ": every call of the API is a POST", null).with("Allow", "POST");
        }
        Optional<String> why = SameOrigin.refusal(req.header("Content-Type"), req.header(SameOrigin.HEADER),
                req.header("Sec-Fetch-Site"), req.header("Origin"), req.header("Host"));
        if (why.isPresent()) {
            (SameOrigin.isCrossOrigin(why.get()) ? refusedCrossOrigin : refusedSimple).increment();
            return JsonApi.error(403, io.grpc.Status.Code.PERMISSION_DENIED, "FORBIDDEN", why.get(), null);
        }
        String type = req.header("Content-Type");
        if (type != null && !SameOrigin.isJson(type)) {
            return JsonApi.error(415, io.grpc.Status.Code.INVALID_ARGUMENT, "UNSUPPORTED_MEDIA_TYPE",
                    "the body must be JSON (Content-Type: application/json), got " + type, null);
        }
        return null;
    }

    /** Starts answering an HTTP/JSON API request that passed {@link #apiRefusal}; on the event loop. */
    void answerApi(Request req, byte[] body, JsonApi.Exchange exchange) {
        String uri = req.uri();
        int q = uri.indexOf('?');
        jsonApi.handle(q < 0 ? uri : uri.substring(0, q), q < 0 ? null : uri.substring(q + 1), body,
                req.header("Authorization"), exchange);
    }

    /** The HTTP/JSON API's routes, or null without one (for tests). */
    JsonApi jsonApi() {
        return jsonApi;
    }

    private static String rawPath(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    // ---- requests -------------------------------------------------------------------------------

    /** What a handler needs of a request (its body is never used: no endpoint takes one). */
    record Request(String method, String uri, HttpHeaders headers) {
        String header(String name) {
            return headers.get(name);
        }
    }

    /** An answer: status, content type, body and extra headers. */
    record Reply(int status, String type, byte[] body, Map<String, String> headers) {
        static Reply json(int status, Object body) {
            return new Reply(status, JSON, GSON.toJson(body).getBytes(StandardCharsets.UTF_8),
                    Map.of("Cache-Control", "no-store"));
        }

        static Reply error(int status, String code, String message) {
            return json(status, errorBody(code, message));
        }

        Reply with(String header, String value) {
            Map<String, String> h = new LinkedHashMap<>(headers);
            h.put(header, value);
            return new Reply(status, type, body, h);
        }
    }

    static Map<String, Object> errorBody(String code, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", code);
        body.put("message", message);
        return body;
    }

    /** Runs on a handler thread; never throws. */
    Reply handle(Request req) {
        try {
            return route(req);
        } catch (AdminApi.HttpError e) {
            return Reply.error(e.status, e.code, e.getMessage());
        } catch (IllegalArgumentException e) {
            return Reply.error(400, "BAD_REQUEST", e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("HTTP {} {} failed", req.method(), req.uri(), e);
            return Reply.error(500, "INTERNAL", String.valueOf(e.getMessage()));
        }
    }

    private Reply route(Request req) {
        String method = req.method();
        URI uri;
        try {
            uri = new URI(req.uri());
        } catch (URISyntaxException e) {
            throw new AdminApi.HttpError(400, "BAD_REQUEST", "bad request target: " + e.getMessage());
        }
        String raw = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        Endpoint endpoint = Endpoint.resolve(method, raw);
        if (endpoint == null) {
            // Nothing is served here to anyone, so there is nothing to ask a token for.
            if (raw.startsWith("/api/") && !method.equals("GET") && !method.equals("HEAD")) {
                return Reply.error(405, "METHOD_NOT_ALLOWED", method + " is not allowed on " + raw).with("Allow", "GET");
            }
            return Reply.error(404, "NOT_FOUND", "no such path " + raw);
        }
        // The token first: a caller who may not act learns nothing from the same-origin check either.
        Reply refused = auth.refusal(endpoint, req.header("Authorization"));
        if (refused != null) {
            return refused;
        }
        Map<String, String> q = query(uri.getRawQuery());
        return switch (endpoint) {
            case ROOT_REDIRECT -> new Reply(302, "text/plain; charset=utf-8",
                    "see /dashboard/\n".getBytes(StandardCharsets.UTF_8), Map.of("Location", "/dashboard/"));
            case DASHBOARD_REDIRECT -> new Reply(302, "text/plain; charset=utf-8", new byte[0],
                    Map.of("Location", "/dashboard/"));
            case DASHBOARD_FILE -> staticFile(raw.substring("/dashboard/".length()));
            case METRICS -> new Reply(200, "text/plain; version=0.0.4; charset=utf-8",
                    metrics.scrape().getBytes(StandardCharsets.UTF_8), Map.of());
            case HEALTH_LIVE -> Reply.json(200, Map.of("status", "live"));
            case HEALTH_READY -> ready();
            case HEALTH_LEADER -> leading();
            case API_SESSION_CLOSE -> {
                requireSameOrigin(req);
                yield Reply.json(200, api.closeSession(unsignedId(decode(raw.split("/")[3]), "session id")));
            }
            case API_CLUSTER -> Reply.json(200, api.cluster());
            case API_POOLS -> Reply.json(200, api.pools(q.get("sort"), limit(q, AdminApi.DEFAULT_POOLS)));
            case API_POOL -> Reply.json(200, api.pool(rest(raw, "/api/pools/")));
            case API_SESSIONS -> Reply.json(200, api.sessions(limit(q, AdminApi.DEFAULT_SESSIONS)));
            case API_LOCKS -> Reply.json(200, api.locks(limit(q, AdminApi.DEFAULT_LOCKS)));
            case API_DISPATCH -> Reply.json(200, api.groups());
            case API_DISPATCH_HISTORY -> Reply.json(200, api.lagHistory());
            case API_DISPATCH_GROUP -> Reply.json(200, api.group(rest(raw, "/api/dispatch/"), limit(q, AdminApi.MAX_LIMIT)));
            case API_EVENTS -> Reply.json(200, api.events());
            case API_QUEUES -> Reply.json(200, api.queues());
            case API_QUEUE -> Reply.json(200, api.queue(rest(raw, "/api/queues/")));
        };
    }

    private Reply ready() {
        Optional<String> why = api.notReadyReason(1_000);
        Map<String, Object> body = new LinkedHashMap<>();
        if (why.isEmpty()) {
            body.put("status", "ready");
            body.put("leader", router.node().leader().orElse(""));
            body.put("commitIndex", router.node().commitIndex());
            body.put("appliedIndex", router.node().lastAppliedIndex());
            return Reply.json(200, body);
        }
        body.put("status", "not ready");
        body.put("reason", why.get());
        return Reply.json(503, body);
    }

    /**
     * 200 on the leader once it is ready (as {@code /health/ready}), 503 on every other node, with the
     * leader's API address when known. For a load balancer that sends clients to the leader only: a
     * command sent to a follower is forwarded to the leader and its answer back, which costs the
     * cluster CPU on both nodes and the client a hop (docs/operations.md). Clients that still reach a
     * follower (connections made before a change of leader) are served there as before.
     */
    private Reply leading() {
        Map<String, Object> body = new LinkedHashMap<>();
        boolean leader = router.node().isLeader();
        Optional<String> why = leader ? api.notReadyReason(1_000) : Optional.of("not the leader");
        body.put("status", why.isEmpty() ? "leader" : leader ? "not ready" : "not leader");
        why.ifPresent(reason -> body.put("reason", reason));
        body.put("leaderApi", router.leaderApi().orElse(""));
        return Reply.json(why.isEmpty() ? 200 : 503, body);
    }

    /** Every state-changing route calls this first: see {@link SameOrigin}. */
    private void requireSameOrigin(Request req) {
        Optional<String> why = SameOrigin.refusal(req.header("Content-Type"), req.header(SameOrigin.HEADER),
                req.header("Sec-Fetch-Site"), req.header("Origin"), req.header("Host"));
        if (why.isPresent()) {
            (SameOrigin.isCrossOrigin(why.get()) ? refusedCrossOrigin : refusedSimple).increment();
            throw new AdminApi.HttpError(403, "FORBIDDEN", why.get());
        }
    }

    /** The rest of the raw path after {@code prefix}, percent-decoded ("+" stays "+"; "%2F" is a slash in a key). */
    private static String rest(String raw, String prefix) {
        return decode(raw.substring(prefix.length()));
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new AdminApi.HttpError(400, "BAD_REQUEST", "bad percent-encoding in '" + s + "'");
        }
    }

    /** An id as Baton prints it: unsigned decimal, up to 2^64 - 1. */
    private static long unsignedId(String s, String what) {
        try {
            return Long.parseUnsignedLong(s);
        } catch (NumberFormatException e) {
            throw new AdminApi.HttpError(400, "BAD_REQUEST", what + " must be an unsigned number, got '" + s + "'");
        }
    }

    private static long number(String s, String what) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new AdminApi.HttpError(400, "BAD_REQUEST", what + " must be a number, got '" + s + "'");
        }
    }

    private static int limit(Map<String, String> q, int dflt) {
        String v = q.get("limit");
        if (v == null) {
            return dflt;
        }
        long n = number(v, "limit");
        if (n < 0 || n > AdminApi.MAX_LIMIT) {
            throw new AdminApi.HttpError(400, "BAD_REQUEST", "limit must be between 0 and " + AdminApi.MAX_LIMIT);
        }
        return (int) n;
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            String k = eq < 0 ? kv : kv.substring(0, eq);
            String v = eq < 0 ? "" : kv.substring(eq + 1);
            out.put(URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
        }
        return out;
    }

    // ---- static files ---------------------------------------------------------------------------

    private static Reply staticFile(String name) {
        if (name.isEmpty()) {
            name = "index.html";
        }
        if (name.contains("..") || name.contains("\\") || name.startsWith("/")) {
            return Reply.error(404, "NOT_FOUND", "no such file");
        }
        byte[] body;
        try (InputStream in = HttpDoor.class.getClassLoader().getResourceAsStream("dashboard/" + name)) {
            if (in == null) {
                return Reply.error(404, "NOT_FOUND", "no such file " + name);
            }
            body = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Reply(200, contentType(name), body, Map.of("Cache-Control", "no-cache"));
    }

    private static String contentType(String name) {
        if (name.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        if (name.endsWith(".js")) {
            return "text/javascript; charset=utf-8";
        }
        if (name.endsWith(".css")) {
            return "text/css; charset=utf-8";
        }
        if (name.endsWith(".svg")) {
            return "image/svg+xml";
        }
        if (name.endsWith(".png")) {
            return "image/png";
        }
        return "application/octet-stream";
    }
}
