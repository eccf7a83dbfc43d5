package dev.baton.server.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Descriptors;
import dev.baton.api.v1.BatonProto;
import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.server.TestWaits;
import dev.baton.server.metrics.BatonMetrics;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP/JSON API ({@code POST /v1/<Service>/<Method>}) of one real node without tokens: every
 * method of the proto is routed, the status codes and error bodies, long-polls, idempotent
 * retries, the bound on calls in flight, the streaming mappings, and one session driven through
 * gRPC and HTTP/JSON in turn. (Tokens: {@link JsonApiAuthTest}.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JsonApiTest {
    /** Small, so that the bound is reached with a few long-polls. */
    private static final int MAX_CALLS = 4;
    private static final int MAX_BODY = 64 * 1024;

    private ApiServer server;
    private String base;
    private ManagedChannel grpc;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final AtomicLong requestIds = new AtomicLong(100);

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-json-api-test");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        HttpDoor.Config h = new HttpDoor.Config("127.0.0.1", 0, 2, BatonMetrics.Limits.DEFAULTS, 1_000, 10)
                .withApiBounds(MAX_CALLS, MAX_BODY);
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withHttp(h)).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(60))).isPresent();
        base = "http://127.0.0.1:" + server.httpDoor().port();
        grpc = ManagedChannelBuilder.forTarget(server.apiEndpoint()).usePlaintext().build();
    }

    @AfterAll
    void stop() {
        if (grpc != null) {
            grpc.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
    }

    // ---- helpers --------------------------------------------------------------------------------

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(90));
    }

    private HttpResponse<String> post(String path, String json) throws Exception {
        return http.send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> postAsync(String path, String json) {
        return http.sendAsync(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonObject body(HttpResponse<String> r) {
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    private JsonObject ok(String path, String json) throws Exception {
        HttpResponse<String> r = post(path, json);
        assertThat(r.statusCode()).as("%s %s: %s", path, json, r.body()).isEqualTo(200);
        return body(r);
    }

    private static void assertError(HttpResponse<String> r, int http, String status, String error) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(http);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
        JsonObject b = body(r);
        assertThat(b.get("status").getAsString()).as(r.body()).isEqualTo(status);
        assertThat(b.get("code").getAsInt()).as(r.body()).isEqualTo(io.grpc.Status.Code.valueOf(status).value());
        assertThat(b.get("error").getAsString()).as(r.body()).isEqualTo(error);
        assertThat(b.has("message")).isTrue();
    }

    private String openSession() throws Exception {
        JsonObject s = ok("/v1/Sessions/Open", "{\"ttlMs\":\"30000\"}");
        assertThat(s.get("session").isJsonPrimitive() && s.get("session").getAsJsonPrimitive().isString())
                .as("64-bit integers are strings: %s", s).isTrue();
        assertThat(s.get("existing").getAsBoolean()).as("default values are included: %s", s).isFalse();
        return s.get("session").getAsString();
    }

    private long nextId() {
        return requestIds.incrementAndGet();
    }

    private String acquire(String session, String key, long timeoutMs) {
        return "{\"session\":\"" + session + "\",\"requestId\":\"" + nextId() + "\",\"key\":\"" + key
                + "\",\"workers\":1,\"maxQueue\":10,\"timeoutMs\":\"" + timeoutMs + "\"}";
    }

    private String release(String session, String key) {
        return "{\"session\":\"" + session + "\",\"requestId\":\"" + nextId() + "\",\"key\":\"" + key + "\"}";
    }

    private int waiting(String key) throws Exception {
        return ok("/v1/Pools/Get", "{\"key\":\"" + key + "\"}").get("waiting").getAsInt();
    }

    // ---- the route table ------------------------------------------------------------------------

    @Test
    void everyMethodOfTheProtoIsServedAndNothingElse() throws Exception {
        int methods = 0;
        for (Descriptors.ServiceDescriptor s : BatonProto.getDescriptor().getServices()) {
            for (Descriptors.MethodDescriptor m : s.getMethods()) {
                methods++;
                String path = "/v1/" + s.getName() + "/" + m.getName();
                // "{}" is the default request: mostly refused by the method itself (a 404 of the
                // method, an unknown session, is fine), never "no such method"
                HttpResponse<String> r = post(path, "{}");
                assertThat(r.statusCode()).as("%s answered %s", path, r.body()).isNotIn(405, 415, 501);
                if (r.statusCode() != 200) {
                    assertThat(body(r).get("status").getAsString()).as("%s: %s", path, r.body()).isNotEmpty();
                    assertThat(body(r).get("error").getAsString()).as("%s: %s", path, r.body())
                            .isNotEqualTo("UNKNOWN_METHOD");
                }
            }
        }
        assertThat(server.httpDoor().jsonApi().table()).hasSize(methods);
        for (String path : List.of("/v1/ForwardLink/Link", "/v1/Forward/Announce", "/v1/Forward/KeepAlive",
                "/v1/Pools/Nope", "/v1/Nope/Acquire", "/v1/pools/acquire", "/v1/baton.v1.Pools/Acquire", "/v1/",
                "/v1/Pools/Acquire/extra")) {
            assertError(post(path, "{}"), 404, "NOT_FOUND", "UNKNOWN_METHOD");
        }
    }

    /**
     * Every {@code baton_call Service/Method '<json>'} example of docs/http-api.md is a request the
     * API reads (its names and fields are the proto's), each run on a session of its own.
     */
    @Test
    void theExamplesOfTheDocsAreRequestsOfTheApi() throws Exception {
        Path doc = dev.baton.server.OpsFiles.dir().resolveSibling("docs").resolve("http-api.md");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^baton_call (\\S+) '(.*)'$")
                .matcher(Files.readString(doc));
        int examples = 0;
        while (m.find()) {
            examples++;
            String json = m.group(2).replace("\"session\":\"42\"", "\"session\":\"" + openSession() + "\"");
            HttpResponse<String> r = post("/v1/" + m.group(1), json);
            assertThat(r.statusCode()).as("%s %s: %s", m.group(1), json, r.body()).isNotIn(404, 405, 415, 501);
            if (r.statusCode() == 400) {
                assertThat(body(r).get("message").getAsString()).as("%s %s", m.group(1), json)
                        .doesNotStartWith("the body is not");
            }
        }
        assertThat(examples).isGreaterThan(20);
    }

    // ---- status codes ---------------------------------------------------------------------------

    @Test
    void badRequestsAreRefusedAndChangeNothing() throws Exception {
        int before = ok("/v1/Sessions/List", "").getAsJsonArray("sessions").size();
        assertError(post("/v1/Sessions/Open", "{\"ttlMs\": "), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
        assertError(post("/v1/Sessions/Open", "[1,2]"), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
        assertError(post("/v1/Sessions/Open", "{\"ttlMs\":\"1000\",\"colour\":\"red\"}"), 400, "INVALID_ARGUMENT",
                "INVALID_ARGUMENT");
        assertError(post("/v1/Sessions/Open", "{\"ttlMs\":\"-5\"}"), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
        assertThat(ok("/v1/Sessions/List", "{}").getAsJsonArray("sessions")).as("no session opened").hasSize(before);

        assertError(post("/v1/Pools/Acquire", acquire("987654321", "k", 0)), 400, "FAILED_PRECONDITION",
                "UNKNOWN_SESSION");
        // snake_case names and numbers for 64-bit fields are accepted too
        String s = openSession();
        JsonObject got = ok("/v1/Pools/Acquire", "{\"session\":" + s + ",\"request_id\":" + nextId()
                + ",\"key\":\"snake\",\"workers\":1,\"max_queue\":1}");
        assertThat(got.get("status").getAsString()).isEqualTo("POOL_LOCKED");
        assertThat(got.get("fence").getAsString()).isNotEqualTo("0");
    }

    @Test
    void writesNeedJsonAndPost() throws Exception {
        HttpResponse<String> plain = http.send(request("/v1/Admin/Status").header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertError(plain, 403, "PERMISSION_DENIED", "FORBIDDEN");
        HttpResponse<String> marked = http.send(request("/v1/Admin/Status").header("Content-Type", "text/plain")
                .header("X-Baton-Request", "1").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(marked, 415, "INVALID_ARGUMENT", "UNSUPPORTED_MEDIA_TYPE");
        HttpResponse<String> bare = http.send(request("/v1/Admin/Status").header("X-Baton-Request", "1")
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(bare.statusCode()).as("no content type, the header, no body: the default request").isEqualTo(200);
        HttpResponse<String> crossSite = http.send(request("/v1/Admin/Status").header("Content-Type", "application/json")
                .header("Origin", "https://evil.example").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(crossSite, 403, "PERMISSION_DENIED", "FORBIDDEN");
        HttpResponse<String> get = http.send(request("/v1/Admin/Status").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(get.statusCode()).isEqualTo(405);
        assertThat(get.headers().firstValue("Allow")).contains("POST");
    }

    @Test
    void aBodyOverTheLimitIs413() throws Exception {
        String big = "{\"clientToken\":\"" + "x".repeat(MAX_BODY) + "\"}";
        HttpResponse<String> r = post("/v1/Sessions/Open", big);
        assertError(r, 413, "RESOURCE_EXHAUSTED", "TOO_LARGE");
        // a body a little under the limit is read (and refused by the core for its over-long token)
        String near = "{\"clientToken\":\"" + "x".repeat(MAX_BODY - 100) + "\"}";
        assertThat(post("/v1/Sessions/Open", near).statusCode()).isEqualTo(400);
        // the other endpoints keep their own, smaller limit
        HttpResponse<String> admin = http.send(request("/api/sessions/1/close").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(HttpDoor.Config.DEFAULT_MAX_BODY_BYTES + 1)))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(admin.statusCode()).isEqualTo(413);
    }

    // ---- long-polls -----------------------------------------------------------------------------

    @Test
    void aWaitingAcquireIsAnsweredWhenTheHolderReleases() throws Exception {
        String holder = openSession();
        String waiter = openSession();
        assertThat(ok("/v1/Pools/Acquire", acquire(holder, "poll", 0)).get("status").getAsString())
                .isEqualTo("POOL_LOCKED");
        CompletableFuture<HttpResponse<String>> waiting = postAsync("/v1/Pools/Acquire", acquire(waiter, "poll", 120_000));
        TestWaits.await("the waiter queued", () -> {
            try {
                return waiting("poll") == 1;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(waiting).as("no answer while the slot is held").isNotDone();
        assertThat(ok("/v1/Pools/Release", release(holder, "poll")).get("status").getAsString())
                .isEqualTo("POOL_RELEASED");
        HttpResponse<String> granted = waiting.get(60, TimeUnit.SECONDS);
        assertThat(granted.statusCode()).isEqualTo(200);
        assertThat(body(granted).get("status").getAsString()).isEqualTo("POOL_LOCKED");

        // a wait whose timeout passes: the TIMEOUT outcome, as over gRPC
        String late = openSession();
        JsonObject timedOut = ok("/v1/Pools/Acquire", acquire(late, "poll", 200));
        assertThat(timedOut.get("status").getAsString()).isEqualTo("POOL_TIMEOUT");
        JsonObject lockTimeout = ok("/v1/Locks/Acquire", "{\"session\":\"" + holder + "\",\"requestId\":\"" + nextId()
                + "\",\"name\":\"poll-lock\"}");
        assertThat(lockTimeout.get("status").getAsString()).isEqualTo("LOCK_LOCKED");
        JsonObject busy = ok("/v1/Locks/Acquire", "{\"session\":\"" + late + "\",\"requestId\":\"" + nextId()
                + "\",\"name\":\"poll-lock\",\"timeoutMs\":\"150\"}");
        assertThat(busy.get("status").getAsString()).isEqualTo("LOCK_TIMEOUT");
    }

    @Test
    void aClientThatGoesAwayCancelsItsCall() throws Exception {
        String holder = openSession();
        String waiter = openSession();
        assertThat(ok("/v1/Pools/Acquire", acquire(holder, "gone", 0)).get("status").getAsString())
                .isEqualTo("POOL_LOCKED");
        String json = acquire(waiter, "gone", 120_000);
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.httpDoor().port())) {
            byte[] body = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            socket.getOutputStream().write(("POST /v1/Pools/Acquire HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().write(body);
            socket.getOutputStream().flush();
            TestWaits.await("the waiter queued", () -> {
                try {
                    return waiting("gone") == 1;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        } // closed: the call is cancelled and its slot freed
        TestWaits.await("no call in flight", () -> server.httpDoor().jsonApi().inFlight() == 0);
        // As over gRPC, the wait itself stays until its timeout or a release, which withdraws it.
        assertThat(waiting("gone")).isEqualTo(1);
        assertThat(ok("/v1/Pools/Release", release(waiter, "gone")).get("status").getAsString())
                .isEqualTo("POOL_RELEASED");
        assertThat(waiting("gone")).isZero();
    }

    @Test
    void theSameRequestIdTwiceGivesTheSameAnswerAndOneGrant() throws Exception {
        String s = openSession();
        String req = "{\"session\":\"" + s + "\",\"requestId\":\"7\",\"key\":\"twice\",\"workers\":3,\"maxQueue\":3}";
        JsonObject first = ok("/v1/Pools/Acquire", req);
        JsonObject again = ok("/v1/Pools/Acquire", req);
        assertThat(again).isEqualTo(first);
        JsonObject pool = ok("/v1/Pools/Get", "{\"key\":\"twice\"}");
        assertThat(pool.get("processing").getAsInt()).as("one grant: %s", pool).isEqualTo(1);
        // the same id for another command is refused
        String other = "{\"session\":\"" + s + "\",\"requestId\":\"7\",\"key\":\"other\",\"workers\":3,\"maxQueue\":3}";
        assertError(post("/v1/Pools/Acquire", other), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
    }

    // ---- the bound on calls in flight ------------------------------------------------------------

    @Test
    void callsBeyondTheBoundAre429UntilSomeEnd() throws Exception {
        String holder = openSession();
        assertThat(ok("/v1/Locks/Acquire", "{\"session\":\"" + holder + "\",\"requestId\":\"" + nextId()
                + "\",\"name\":\"crowded\"}").get("status").getAsString()).isEqualTo("LOCK_LOCKED");
        List<String> waiters = new ArrayList<>();
        List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
        for (int i = 0; i < MAX_CALLS; i++) {
            waiters.add(openSession());
        }
        for (String w : waiters) {
            polls.add(postAsync("/v1/Locks/Acquire", "{\"session\":\"" + w + "\",\"requestId\":\"" + nextId()
                    + "\",\"name\":\"crowded\",\"timeoutMs\":\"120000\"}"));
        }
        TestWaits.await("every call slot taken", () -> server.httpDoor().jsonApi().inFlight() == MAX_CALLS);
        HttpResponse<String> refused = post("/v1/Admin/Status", "{}");
        assertError(refused, 429, "RESOURCE_EXHAUSTED", "LIMIT_EXCEEDED");
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
        assertThat(polls).allMatch(f -> !f.isDone());
        // The waits end (their sessions close, over gRPC), and the port serves again.
        SessionsGrpc.SessionsBlockingStub sessions = SessionsGrpc.newBlockingStub(grpc)
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        for (String w : waiters) {
            sessions.close(CloseSessionRequest.newBuilder().setSession(Long.parseUnsignedLong(w)).build());
        }
        for (CompletableFuture<HttpResponse<String>> f : polls) {
            HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.body()).isNotEqualTo(200).isNotEqualTo(429);
        }
        TestWaits.await("the slots are free", () -> server.httpDoor().jsonApi().inFlight() == 0);
        assertThat(post("/v1/Admin/Status", "{}").statusCode()).isEqualTo(200);
        String metrics = server.metrics().scrape();
        assertThat(metrics).contains("baton_http_api_in_flight").contains("baton_http_api_calls_total{")
                .containsPattern("baton_http_api_calls_total\\{[^}]*method=\"Status\"[^}]*status=\"RESOURCE_EXHAUSTED\"")
                .contains("baton_http_requests_refused_total{").contains("reason=\"api_calls\"");
    }

    // ---- streaming methods ----------------------------------------------------------------------

    @Test
    void keepAliveAnswersTheAckAndOptionallyWaitsForEvents() throws Exception {
        String s = openSession();
        JsonObject kept = ok("/v1/Sessions/KeepAlive", "{\"session\":\"" + s + "\"}");
        JsonArray events = kept.getAsJsonArray("events");
        assertThat(events).isNotEmpty();
        JsonObject ack = events.get(0).getAsJsonObject().getAsJsonObject("ack");
        assertThat(ack.get("session").getAsString()).isEqualTo(s);
        assertThat(ack.get("ttlMs").getAsString()).isEqualTo("30000");

        assertError(post("/v1/Sessions/KeepAlive", "{\"session\":\"987654321\"}"), 400, "FAILED_PRECONDITION",
                "UNKNOWN_SESSION");
        assertError(post("/v1/Sessions/KeepAlive", "{}"), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
        assertError(post("/v1/Sessions/KeepAlive?waitMs=soon", "{\"session\":\"" + s + "\"}"), 400,
                "INVALID_ARGUMENT", "INVALID_ARGUMENT");

        // held open until an event comes: an event completed elsewhere
        CompletableFuture<HttpResponse<String>> poll = postAsync("/v1/Sessions/KeepAlive?waitMs=30000",
                "{\"session\":\"" + s + "\"}");
        TestWaits.await("the keep-alive waits", () -> server.httpDoor().jsonApi().inFlight() == 1);
        String other = openSession();
        ok("/v1/Events/Begin", "{\"session\":\"" + other + "\",\"requestId\":\"" + nextId() + "\",\"name\":\"ev\"}");
        ok("/v1/Events/Complete", "{\"session\":\"" + other + "\",\"requestId\":\"" + nextId() + "\",\"name\":\"ev\"}");
        HttpResponse<String> got = poll.get(60, TimeUnit.SECONDS);
        assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
        assertThat(got.body()).contains("\"ack\"").contains("\"eventCompleted\"");
    }

    @Test
    void callsStreamAnswersEveryCall() throws Exception {
        String s = openSession();
        JsonObject r = ok("/v1/Calls/Stream", "{\"calls\":["
                + "{\"callId\":\"1\",\"poolAcquire\":" + acquire(s, "batch", 0) + "},"
                + "{\"callId\":\"2\",\"lockAcquire\":{\"session\":\"" + s + "\",\"requestId\":\"" + nextId()
                + "\",\"name\":\"batch-lock\"}},"
                + "{\"callId\":\"3\",\"poolRelease\":" + release("987654321", "batch") + "}]}");
        JsonArray replies = r.getAsJsonArray("replies");
        assertThat(replies).hasSize(3);
        for (var e : replies) {
            JsonObject reply = e.getAsJsonObject();
            switch (reply.get("callId").getAsString()) {
                case "1" -> assertThat(reply.getAsJsonObject("pool").get("status").getAsString()).isEqualTo("POOL_LOCKED");
                case "2" -> assertThat(reply.getAsJsonObject("lock").get("status").getAsString()).isEqualTo("LOCK_LOCKED");
                case "3" -> assertThat(reply.getAsJsonObject("error").get("batonError").getAsString())
                        .isEqualTo("UNKNOWN_SESSION");
                default -> throw new AssertionError(reply);
            }
        }
        assertThat(ok("/v1/Calls/Stream", "{\"calls\":[]}").getAsJsonArray("replies")).isEmpty();
        assertError(post("/v1/Calls/Stream", "{\"calls\":[],\"more\":1}"), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
    }

    @Test
    void backupAnswersTheFileBytes() throws Exception {
        HttpResponse<byte[]> r = http.send(request("/v1/Admin/Backup").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).contains("application/octet-stream");
        assertThat(r.body().length).isPositive();
        assertThat(r.headers().firstValueAsLong("Content-Length")).hasValue(r.body().length);
    }

    // ---- one session, two ports ------------------------------------------------------------------

    @Test
    void oneSessionThroughGrpcAndHttpInTurnIsOneState() throws Exception {
        SessionsGrpc.SessionsBlockingStub sessions = SessionsGrpc.newBlockingStub(grpc)
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        PoolsGrpc.PoolsBlockingStub pools = PoolsGrpc.newBlockingStub(grpc).withDeadlineAfter(30, TimeUnit.SECONDS);
        // open over HTTP
        String s = openSession();
        long session = Long.parseUnsignedLong(s);
        // acquire over gRPC
        PoolReply got = pools.acquire(PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1)
                .setKey("mixed").setWorkers(1).setMaxQueue(1).build());
        assertThat(got.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        // the holder, over HTTP
        JsonObject pool = ok("/v1/Pools/Get", "{\"key\":\"mixed\"}");
        assertThat(pool.getAsJsonArray("holders")).hasSize(1);
        JsonObject holder = pool.getAsJsonArray("holders").get(0).getAsJsonObject();
        assertThat(holder.get("session").getAsString()).isEqualTo(s);
        assertThat(holder.get("fence").getAsString()).isEqualTo(Long.toUnsignedString(got.getFence()));
        // the gRPC request id again, over HTTP: the same answer
        JsonObject retried = ok("/v1/Pools/Acquire", "{\"session\":\"" + s + "\",\"requestId\":\"1\",\"key\":\"mixed\","
                + "\"workers\":1,\"maxQueue\":1}");
        assertThat(retried.get("fence").getAsString()).isEqualTo(Long.toUnsignedString(got.getFence()));
        // release over HTTP, seen over gRPC
        JsonObject released = ok("/v1/Pools/Release", "{\"session\":\"" + s + "\",\"requestId\":\"2\",\"key\":\"mixed\"}");
        assertThat(released.get("status").getAsString()).isEqualTo("POOL_RELEASED");
        assertThat(PoolsGrpc.newBlockingStub(grpc).withDeadlineAfter(30, TimeUnit.SECONDS)
                .get(dev.baton.api.v1.GetPoolRequest.newBuilder().setKey("mixed").build()).getExists()).isFalse();
        // keep alive over both
        assertThat(ok("/v1/Sessions/KeepAlive", "{\"session\":\"" + s + "\"}").toString()).contains("\"ack\"");
        LinkedBlockingQueue<Object> streamed = new LinkedBlockingQueue<>();
        StreamObserver<KeepAliveRequest> keepAlive = SessionsGrpc.newStub(grpc).keepAlive(new StreamObserver<>() {
            @Override
            public void onNext(SessionEvent e) {
                streamed.add(e);
            }

            @Override
            public void onError(Throwable t) {
                streamed.add(t);
            }

            @Override
            public void onCompleted() {
                streamed.add("completed");
            }
        });
        keepAlive.onNext(KeepAliveRequest.newBuilder().setSession(session).build());
        Object first = streamed.poll(30, TimeUnit.SECONDS);
        assertThat(first).isInstanceOf(SessionEvent.class);
        assertThat(((SessionEvent) first).getAck().getSession()).isEqualTo(session);
        keepAlive.onCompleted();
        // close over gRPC; over HTTP the session is gone
        sessions.close(CloseSessionRequest.newBuilder().setSession(session).setRequestId(3).build());
        assertError(post("/v1/Pools/Acquire", "{\"session\":\"" + s + "\",\"requestId\":\"4\",\"key\":\"mixed\","
                + "\"workers\":1,\"maxQueue\":1}"), 400, "FAILED_PRECONDITION", "UNKNOWN_SESSION");
        assertError(post("/v1/Sessions/KeepAlive", "{\"session\":\"" + s + "\"}"), 400, "FAILED_PRECONDITION",
                "UNKNOWN_SESSION");
    }
}
