package dev.baton.server.http;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.baton.api.v1.StatusResponse;
import dev.baton.server.api.Router;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The HTTP port (7532 by default): {@code /metrics} (Prometheus text), {@code /health/live},
 * {@code /health/ready}, the JSON admin API under {@code /api/} and the dashboard under
 * {@code /dashboard/} (static files shipped in the jar). Served by the JDK's HTTP server on a small
 * thread pool: this is an operator's port, not a hot path.
 */
public final class HttpDoor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HttpDoor.class);
    private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
    private static final String JSON = "application/json; charset=utf-8";

    /**
     * @param host          address to bind
     * @param port          port (0: any free port, see {@link #port()})
     * @param threads       request threads
     * @param metrics       bounds on label cardinality of {@code /metrics}
     * @param lagIntervalMs how often the dashboard's dispatch-lag history is sampled
     * @param lagSamples    how many samples it keeps
     */
    public record Config(String host, int port, int threads, BatonMetrics.Limits metrics, long lagIntervalMs,
                         int lagSamples) {
        public static final int DEFAULT_PORT = 7532;

        public Config {
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(metrics, "metrics");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("HTTP port " + port + " out of range");
            }
            if (threads <= 0 || lagIntervalMs <= 0 || lagSamples <= 0) {
                throw new IllegalArgumentException("HTTP threads, lag interval and lag samples must be positive");
            }
        }

        /** 4 threads; lag sampled every 2 s for 10 minutes. */
        public static Config defaults(String host, int port) {
            return new Config(host, port, 4, BatonMetrics.Limits.DEFAULTS, 2_000, 300);
        }
    }

    private final Config config;
    private final Router router;
    private final BatonMetrics metrics;
    private final LagHistory lagHistory;
    private final AdminApi api;
    private final ExecutorService pool;
    private HttpServer server;
    private ScheduledFuture<?> sampler;

    /**
     * @param status   this node's status
     * @param statusOf another member's status, by its gRPC address
     */
    public HttpDoor(Config config, Router router, BatonMetrics metrics, Supplier<StatusResponse> status,
                    Function<String, CompletableFuture<StatusResponse>> statusOf) {
        this.config = config;
        this.router = router;
        this.metrics = metrics;
        this.lagHistory = new LagHistory(router.node(), config.lagIntervalMs(), config.lagSamples());
        this.api = new AdminApi(router, status, statusOf, lagHistory);
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(config.threads(), r -> {
            Thread t = new Thread(r, "baton-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Binds the port and starts sampling dispatch lag on {@code timer}. */
    public synchronized HttpDoor start(ScheduledExecutorService timer) {
        try {
            server = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 64);
        } catch (IOException e) {
            pool.shutdownNow();
            throw new UncheckedIOException("cannot serve HTTP on " + config.host() + ":" + config.port(), e);
        }
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
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

    public int port() {
        return server.getAddress().getPort();
    }

    /** {@code host:port} it serves on. */
    public String endpoint() {
        return config.host() + ":" + port();
    }

    public BatonMetrics metrics() {
        return metrics;
    }

    @Override
    public synchronized void close() {
        if (sampler != null) {
            sampler.cancel(false);
        }
        if (server != null) {
            server.stop(0);
        }
        pool.shutdownNow();
    }

    // ---- routing --------------------------------------------------------------------------------

    private void handle(HttpExchange ex) {
        try (ex) {
            try {
                route(ex);
            } catch (AdminApi.HttpError e) {
                error(ex, e.status, e.code, e.getMessage());
            } catch (IllegalArgumentException e) {
                error(ex, 400, "BAD_REQUEST", e.getMessage());
            } catch (RuntimeException e) {
                LOG.warn("HTTP {} {} failed", ex.getRequestMethod(), ex.getRequestURI(), e);
                error(ex, 500, "INTERNAL", String.valueOf(e.getMessage()));
            }
        } catch (IOException e) {
            LOG.debug("HTTP client went away", e); // the client closed the connection
        }
    }

    private void route(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod();
        String raw = ex.getRequestURI().getRawPath();
        Map<String, String> q = query(ex.getRequestURI().getRawQuery());
        boolean get = method.equals("GET") || method.equals("HEAD");
        if (raw.equals("/") && get) {
            ex.getResponseHeaders().set("Location", "/dashboard/");
            send(ex, 302, "text/plain; charset=utf-8", "see /dashboard/\n".getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (raw.equals("/dashboard")) {
            ex.getResponseHeaders().set("Location", "/dashboard/");
            send(ex, 302, "text/plain; charset=utf-8", new byte[0]);
            return;
        }
        if (raw.startsWith("/dashboard/") && get) {
            staticFile(ex, raw.substring("/dashboard/".length()));
            return;
        }
        if (raw.equals("/metrics") && get) {
            send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape().getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (raw.equals("/health/live") && get) {
            json(ex, 200, Map.of("status", "live"));
            return;
        }
        if (raw.equals("/health/ready") && get) {
            Optional<String> why = api.notReadyReason(1_000);
            Map<String, Object> body = new LinkedHashMap<>();
            if (why.isEmpty()) {
                body.put("status", "ready");
                body.put("leader", router.node().leader().orElse(""));
                body.put("commitIndex", router.node().commitIndex());
                body.put("appliedIndex", router.node().lastAppliedIndex());
                json(ex, 200, body);
            } else {
                body.put("status", "not ready");
                body.put("reason", why.get());
                json(ex, 503, body);
            }
            return;
        }
        if (!raw.startsWith("/api/")) {
            error(ex, 404, "NOT_FOUND", "no such path " + raw);
            return;
        }
        String[] parts = raw.substring("/api/".length()).split("/", -1);
        String head = parts[0];
        if (method.equals("POST") && parts.length == 3 && head.equals("sessions") && parts[2].equals("close")) {
            json(ex, 200, api.closeSession(number(decode(parts[1]), "session id")));
            return;
        }
        if (!get) {
            ex.getResponseHeaders().set("Allow", "GET");
            error(ex, 405, "METHOD_NOT_ALLOWED", method + " is not allowed on " + raw);
            return;
        }
        Object body = switch (parts.length == 1 ? head : head + "/*") {
            case "cluster" -> api.cluster();
            case "pools" -> api.pools(q.get("sort"), limit(q, AdminApi.DEFAULT_POOLS));
            case "pools/*" -> api.pool(rest(raw, "/api/pools/"));
            case "sessions" -> api.sessions(limit(q, AdminApi.DEFAULT_SESSIONS));
            case "dispatch" -> api.groups();
            // the history has a path of its own, so that every group name, "history" included, has one
            case "dispatch-history" -> api.lagHistory();
            case "dispatch/*" -> api.group(rest(raw, "/api/dispatch/"), limit(q, AdminApi.MAX_LIMIT));
            case "events" -> api.events();
            case "queues" -> api.queues();
            case "queues/*" -> api.queue(rest(raw, "/api/queues/"));
            default -> throw AdminApi.notFound("no such path " + raw);
        };
        json(ex, 200, body);
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

    // ---- responses ------------------------------------------------------------------------------

    private void staticFile(HttpExchange ex, String name) throws IOException {
        if (name.isEmpty()) {
            name = "index.html";
        }
        if (name.contains("..") || name.contains("\\") || name.startsWith("/")) {
            error(ex, 404, "NOT_FOUND", "no such file");
            return;
        }
        byte[] body;
        try (InputStream in = HttpDoor.class.getClassLoader().getResourceAsStream("dashboard/" + name)) {
            if (in == null) {
                error(ex, 404, "NOT_FOUND", "no such file " + name);
                return;
            }
            body = in.readAllBytes();
        }
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        send(ex, 200, contentType(name), body);
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

    private static void json(HttpExchange ex, int status, Object body) throws IOException {
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        send(ex, status, JSON, GSON.toJson(body).getBytes(StandardCharsets.UTF_8));
    }

    private static void error(HttpExchange ex, int status, String code, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", code);
        body.put("message", message);
        try {
            json(ex, status, body);
        } catch (IOException | RuntimeException e) {
            LOG.debug("could not send the error reply", e); // headers already sent, or the client left
        }
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
