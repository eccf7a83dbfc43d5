package dev.baton.server.http;

import dev.baton.client.BatonClient;
import dev.baton.core.command.Query;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP port of a real node against clients that are slow, too many, too large or not who they
 * say they are, over raw sockets so that every byte is the test's. Doors
 * with small bounds are opened on the same node beside its default one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpBoundsTest {
    private ApiServer server;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-http-bounds");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withHttp(HttpDoor.Config.defaults("127.0.0.1", 0))).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(30))).isPresent();
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : closeAfter) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        timer.shutdownNow();
        if (server != null) {
            server.close();
        }
    }

    /** Another door on the node, with these bounds. */
    private HttpDoor door(int threads, long requestTimeoutMs, long idleTimeoutMs, int maxConnections, int maxBody,
                          int maxQueued, java.util.function.Supplier<dev.baton.api.v1.StatusResponse> status) {
        HttpDoor.Config c = HttpDoor.Config.defaults("127.0.0.1", 0)
                .withBounds(threads, requestTimeoutMs, idleTimeoutMs, maxConnections, maxBody, maxQueued);
        HttpDoor d = new HttpDoor(c, server.router(), server.metrics(), status, api -> server.statusOf(api, 1_000))
                .start(timer);
        closeAfter.add(d);
        return d;
    }

    private HttpDoor door(int threads, long requestTimeoutMs, long idleTimeoutMs, int maxConnections) {
        return door(threads, requestTimeoutMs, idleTimeoutMs, maxConnections, 16 * 1024, 64, server::status);
    }

    // ---- raw HTTP -------------------------------------------------------------------------------

    record Answer(int status, Map<String, String> headers, String body) {}

    private Socket connect(HttpDoor d) throws IOException {
        Socket s = new Socket("127.0.0.1", d.port());
        s.setSoTimeout((int) TestWaits.WAIT.toMillis());
        closeAfter.add(s);
        return s;
    }

    private static void write(Socket s, String text) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** One answer read off the socket (its head, then Content-Length bytes). */
    static Answer read(Socket s) throws IOException {
        return read(s, false);
    }

    /** One answer; {@code toHead}: to a HEAD request, so without a body whatever its Content-Length. */
    static Answer read(Socket s, boolean toHead) throws IOException {
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed before a full answer; got: " + head);
            }
            head.write(b);
            matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
            }
        }
        int len = toHead ? 0 : Integer.parseInt(headers.getOrDefault("content-length", "0"));
        byte[] body = in.readNBytes(len);
        return new Answer(status, headers, new String(body, StandardCharsets.UTF_8));
    }

    /** True once the server has closed the socket (reads to the end; fails after the test wait). */
    static boolean closedByServer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            while (true) {
                if (in.read(buf) < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset by the server
        }
    }

    private Answer call(HttpDoor d, String request) throws IOException {
        try (Socket s = connect(d)) {
            write(s, request);
            return read(s);
        }
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    }

    private double metric(String name, String... labels) {
        return HttpDoorTest.sample(server.metrics().scrape(), name, labels);
    }

    // ---- (4) slow clients ----------------------------------------------------------------------

    /**
     * Sixteen connections each send half a request and stop, four times the old thread count. The
     * request timeout here is longer than the whole test, so they are certainly still open while
     * health and metrics are asked for; on the JDK server these never answered.
     */
    @Test
    void halfSentRequestsDoNotStallHealthOrMetrics() throws Exception {
        HttpDoor d = door(4, 600_000, 600_000, 512);
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Socket s = connect(d);
            write(s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ");
            slow.add(s);
        }
        TestWaits.await("16 connections open", () -> d.connections() == 16);
        for (String path : List.of("/health/ready", "/metrics", "/health/live", "/api/cluster")) {
            CompletableFuture<Answer> a = CompletableFuture.supplyAsync(() -> {
                try {
                    return call(d, get(path));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            // generous: the new server answers in milliseconds; the old one not in minutes
            assertThat(a.get(10, TimeUnit.SECONDS).status()).as(path).isEqualTo(200);
        }
        assertThat(d.connections()).as("the slow ones are still open").isGreaterThanOrEqualTo(16);
        for (Socket s : slow) {
            s.close();
        }
    }

    /** A half-sent request head, and a full head with half its body, get 408 and are closed. */
    @Test
    void halfSentRequestsAreClosedByTheRequestTimeout() throws Exception {
        HttpDoor d = door(4, 500, 600_000, 512);
        double before = metric("baton_http_connections_timed_out_total", "phase=\"request\"");
        Socket halfHead = connect(d);
        write(halfHead, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        Socket halfBody = connect(d);
        write(halfBody, "POST /api/sessions/1/close HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: 100\r\n\r\n{\"a\":");
        for (Socket s : List.of(halfHead, halfBody)) {
            Answer a = read(s);
            assertThat(a.status()).isEqualTo(408);
            assertThat(a.body()).contains("\"error\":\"REQUEST_TIMEOUT\"");
            assertThat(closedByServer(s)).isTrue();
        }
        assertThat(metric("baton_http_connections_timed_out_total", "phase=\"request\"") - before).isEqualTo(2);
    }

    /** A connection that never sends anything, and one kept alive after an answer, are closed when idle. */
    @Test
    void idleConnectionsAreClosed() throws Exception {
        // 2 s idle: the kept connection's request must come before it, even if the test's thread stalls.
        HttpDoor d = door(4, 10_000, 2_000, 512);
        double before = metric("baton_http_connections_timed_out_total", "phase=\"idle\"");
        Socket silent = connect(d);
        Socket kept = connect(d);
        write(kept, get("/health/live"));
        Answer a = read(kept);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.headers().get("connection")).isEqualToIgnoringCase("keep-alive");
        assertThat(closedByServer(silent)).isTrue();
        assertThat(closedByServer(kept)).isTrue();
        assertThat(metric("baton_http_connections_timed_out_total", "phase=\"idle\"") - before).isEqualTo(2);
    }

    /** Keep-alive and pipelining: two requests sent at once are answered in order on one connection. */
    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        HttpDoor d = door(4, 10_000, 600_000, 512);
        try (Socket s = connect(d)) {
            write(s, get("/health/live") + get("/api/events") + "HEAD /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
            Answer live = read(s);
            assertThat(live.body()).isEqualTo("{\"status\":\"live\"}");
            Answer events = read(s);
            assertThat(events.body()).startsWith("{\"events\":");
            // HEAD: the length of the body it would have, and no body
            Answer head = read(s, true);
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.headers().get("content-length")).isEqualTo("17");
            // nothing follows the HEAD answer but the next answer
            write(s, get("/health/live"));
            Answer again = read(s);
            assertThat(again.status()).isEqualTo(200);
            assertThat(again.body()).isEqualTo("{\"status\":\"live\"}");
        }
    }

    @Test
    void connectionsBeyondTheCapAreRefused() throws Exception {
        HttpDoor d = door(4, 10_000, 600_000, 4);
        double before = metric("baton_http_connections_refused_total");
        List<Socket> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(connect(d));
        }
        TestWaits.await("4 connections open", () -> d.connections() == 4);
        Socket fifth = connect(d);
        Answer a = read(fifth);
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.body()).contains("too many HTTP connections (4)");
        assertThat(closedByServer(fifth)).isTrue();
        assertThat(metric("baton_http_connections_refused_total") - before).isEqualTo(1);
        held.get(0).close();
        TestWaits.await("a connection freed", () -> d.connections() == 3);
        assertThat(call(d, get("/health/live")).status()).isEqualTo(200);
        for (Socket s : held) {
            s.close();
        }
    }

    @Test
    void oversizedBodiesAndHeadersAreRefused() throws Exception {
        HttpDoor d = door(4, 10_000, 60_000, 512, 1024, 64, server::status);
        double before = metric("baton_http_requests_refused_total", "reason=\"too_large\"");
        try (Socket s = connect(d)) {
            write(s, "POST /api/sessions/1/close HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1048576\r\n\r\n");
            Answer a = read(s);
            assertThat(a.status()).isEqualTo(413);
            assertThat(a.body()).contains("\"error\":\"TOO_LARGE\"");
            assertThat(closedByServer(s)).isTrue();
        }
        try (Socket s = connect(d)) {
            // chunked: no length announced, refused once the body passes the cap
            write(s, "POST /api/sessions/1/close HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n");
            String chunk = "x".repeat(512);
            for (int i = 0; i < 3; i++) {
                write(s, Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n");
            }
            assertThat(read(s).status()).isEqualTo(413);
        }
        assertThat(metric("baton_http_requests_refused_total", "reason=\"too_large\"") - before).isEqualTo(2);
        String big = "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "y".repeat(HttpDoor.MAX_HEADER_BYTES)
                + "\r\n\r\n";
        assertThat(call(d, big).status()).isEqualTo(431);
        assertThat(call(d, "GET /" + "z".repeat(HttpDoor.MAX_LINE_BYTES) + " HTTP/1.1\r\n\r\n").status()).isEqualTo(414);
        assertThat(call(d, "NOT HTTP AT ALL\r\n\r\n").status()).isEqualTo(400);
    }

    /**
     * A client that sends its whole oversized body without waiting (as most do without
     * {@code Expect: 100-continue}) still reads the 413: the door stops sending and drops the rest of
     * the body for a moment before it closes. A close with the body unread resets the connection, and
     * the client lost the answer already on its way (the JDK's HTTP client: "header parser received no
     * bytes").
     */
    @Test
    void aClientStillSendingItsOversizedBodyReadsThe413() throws Exception {
        HttpDoor d = door(4, 10_000, 60_000, 512, 1024, 64, server::status);
        try (Socket s = connect(d)) {
            int length = 1 << 20;
            write(s, "POST /api/sessions/1/close HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + length + "\r\n\r\n");
            byte[] chunk = new byte[16 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            OutputStream out = s.getOutputStream();
            for (int sent = 0; sent < length; sent += chunk.length) {
                out.write(chunk); // the answer is refused at the declared length: it is on its way meanwhile
            }
            out.flush();
            Answer a = read(s);
            assertThat(a.status()).isEqualTo(413);
            assertThat(a.body()).contains("\"error\":\"TOO_LARGE\"");
            // an orderly end of the answer (FIN), not a reset: the body's unread bytes did not make the
            // server's close a reset, and the client could go on sending
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            out.write(chunk);
            out.flush();
        }
    }

    /** One handler thread, one queued request: the third request is answered 503 at once, not queued. */
    @Test
    void aFullHandlerPoolAnswers503() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HttpDoor d = door(1, 60_000, 60_000, 512, 1024, 1, () -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return server.status();
        });
        double before = metric("baton_http_requests_refused_total", "reason=\"busy\"");
        Socket first = connect(d);
        write(first, get("/api/cluster"));
        TestWaits.await("the handler thread busy", () -> d.handlers.getActiveCount() == 1);
        Socket second = connect(d);
        write(second, get("/api/cluster"));
        TestWaits.await("a request queued", () -> d.handlers.getQueue().size() == 1);
        Answer third = call(d, get("/health/live"));
        assertThat(third.status()).isEqualTo(503);
        assertThat(third.headers().get("retry-after")).isEqualTo("1");
        assertThat(metric("baton_http_requests_refused_total", "reason=\"busy\"") - before).isEqualTo(1);
        release.countDown();
        assertThat(read(first).status()).isEqualTo(200);
        assertThat(read(second).status()).isEqualTo(200);
        first.close();
        second.close();
    }

    // ---- (5) writes from web pages --------------------------------------------------------------

    private String close(long session, String... headers) {
        StringBuilder b = new StringBuilder("POST /api/sessions/" + session + "/close HTTP/1.1\r\n");
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        return b.append("Content-Length: 2\r\n\r\n{}").toString();
    }

    private boolean open(long session) {
        return server.node().readLocal(new Query.GetSession(session)) != null;
    }

    @Test
    void sessionIdsInPathsAreUnsignedAsBatonPrintsThem() throws Exception {
        HttpDoor d = server.httpDoor();
        String host = "Host: 127.0.0.1:" + d.port();
        Answer max = call(d, "POST /api/sessions/18446744073709551615/close HTTP/1.1\r\n" + host
                + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        assertThat(max.status()).as(max.body()).isEqualTo(404);
        assertThat(max.body()).contains("no session 18446744073709551615");
        Answer negative = call(d, "POST /api/sessions/-1/close HTTP/1.1\r\n" + host
                + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        assertThat(negative.status()).isEqualTo(400);
        assertThat(negative.body()).contains("unsigned");
    }

    @Test
    void crossOriginAndFormPostsCannotCloseASession() throws Exception {
        HttpDoor d = server.httpDoor();
        String host = "Host: 127.0.0.1:" + d.port();
        String self = "Origin: http://127.0.0.1:" + d.port();
        try (BatonClient victim = BatonClient.builder().endpoints(server.apiEndpoint()).build();
             BatonClient other = BatonClient.builder().endpoints(server.apiEndpoint()).build()) {
            victim.locks().acquire("job", Duration.ZERO);
            long id = victim.sessionId();
            double crossBefore = metric("baton_http_requests_refused_total", "reason=\"cross_origin\"");
            double simpleBefore = metric("baton_http_requests_refused_total", "reason=\"simple_request\"");
            List<String[]> forged = List.of(
                    // a page on another site, even with the JSON type (its fetch would need a preflight)
                    new String[] {host, "Origin: http://evil.example", "Content-Type: application/json"},
                    new String[] {host, "Origin: http://127.0.0.1.evil.example:" + d.port(), "X-Baton-Request: 1"},
                    new String[] {host, "Origin: null", "X-Baton-Request: 1"},
                    new String[] {host, "Sec-Fetch-Site: cross-site", "X-Baton-Request: 1"},
                    // simple requests, as an HTML form or a no-preflight fetch sends them
                    new String[] {host, "Content-Type: text/plain"},
                    new String[] {host, self, "Content-Type: application/x-www-form-urlencoded"});
            for (String[] h : forged) {
                Answer a = call(d, close(id, h));
                assertThat(a.status()).as(String.join(", ", h)).isEqualTo(403);
                assertThat(a.body()).contains("\"error\":\"FORBIDDEN\"");
                assertThat(open(id)).as("still open after " + String.join(", ", h)).isTrue();
            }
            assertThat(metric("baton_http_requests_refused_total", "reason=\"cross_origin\"") - crossBefore).isEqualTo(4);
            assertThat(metric("baton_http_requests_refused_total", "reason=\"simple_request\"") - simpleBefore)
                    .isEqualTo(2);
            // A preflight is never approved.
            Answer pre = call(d, "OPTIONS /api/sessions/" + id + "/close HTTP/1.1\r\n" + host + "\r\n"
                    + "Origin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n");
            assertThat(pre.status()).isEqualTo(405);
            assertThat(pre.headers()).doesNotContainKey("access-control-allow-origin");
            assertThat(open(id)).isTrue();

            // The dashboard's way (what Chromium sends for its same-origin fetch): closed.
            Answer ok = call(d, close(id, host, self, "Sec-Fetch-Site: same-origin", "X-Baton-Request: dashboard"));
            assertThat(ok.status()).as(ok.body()).isEqualTo(200);
            assertThat(ok.body()).contains("\"closed\":true");
            assertThat(open(id)).isFalse();
            // curl's way: no Origin, a JSON content type
            other.locks().acquire("job2", Duration.ZERO);
            assertThat(call(d, close(other.sessionId(), host, "Content-Type: application/json")).status()).isEqualTo(200);
            assertThat(open(other.sessionId())).isFalse();
        }
    }
}
