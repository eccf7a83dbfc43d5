package dev.baton.server.http;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.client.BatonClient;
import dev.baton.core.command.Query;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.security.AuthTokens.Role;
import dev.baton.server.raft.BatonNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Bearer tokens on the HTTP port of one real node with {@code --auth-token-file}: the admin JSON
 * API refuses a request without a token or with an unknown one (401) and a token without the
 * endpoint's role (403), changing nothing; {@code /metrics} and {@code /health/*} are open unless
 * {@code --http-open} closes them; a token added to the file works after the reload; refusals are
 * counted by port; and every endpoint has its role in the one table.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpAuthTest {
    private static final String CLIENT_TOKEN = AuthTokens.newToken();
    private static final String READ_TOKEN = AuthTokens.newToken();
    private static final String ADMIN_TOKEN = AuthTokens.newToken();

    private Path tokenFile;
    private ApiServer server;
    private String base;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-http-auth");
        tokenFile = dir.resolve("tokens");
        Files.writeString(tokenFile, AuthTokens.fileLine(CLIENT_TOKEN, "app", "client") + "\n"
                + AuthTokens.fileLine(READ_TOKEN, "monitor", "read") + "\n"
                + AuthTokens.fileLine(ADMIN_TOKEN, "ops", "admin") + "\n");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withHttp(HttpDoor.Config.defaults("127.0.0.1", 0)).withAuth(AuthTokens.load(tokenFile, 50))).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        base = "http://127.0.0.1:" + server.httpDoor().port();
    }

    @AfterAll
    void stop() {
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

    /** Another door on the same node and tokens (or none), with this config. */
    private String door(HttpDoor.Config config, AuthTokens tokens) {
        HttpDoor d = new HttpDoor(config, server.router(), server.metrics(), server::status,
                api -> server.statusOf(api, 1_000), tokens).start(timer);
        closeAfter.add(d);
        return "http://127.0.0.1:" + d.port();
    }

    /** A client session holding lock {@code lock}, through the gRPC port with a client token. */
    private BatonClient sessionHolding(String lock) {
        BatonClient c = BatonClient.builder().endpoints(server.apiEndpoint()).authToken(CLIENT_TOKEN).build();
        closeAfter.add(c);
        c.locks().acquire(lock, Duration.ZERO);
        return c;
    }

    private boolean sessionExists(long id) {
        return server.node().readLocal(new Query.GetSession(id)) != null;
    }

    private HttpResponse<String> send(String url, String method, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (method.equals("POST")) {
            b.header(SameOrigin.HEADER, "test").POST(HttpRequest.BodyPublishers.noBody());
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path, String token) throws Exception {
        return send(base + path, "GET", token);
    }

    private HttpResponse<String> closeSession(long id, String token) throws Exception {
        return send(base + "/api/sessions/" + Long.toUnsignedString(id) + "/close", "POST", token);
    }

    private static JsonObject json(HttpResponse<String> r) {
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    private static void assertRefused(HttpResponse<String> r, int status, String code) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type")).hasValue(HttpDoor.JSON);
        JsonObject body = json(r);
        assertThat(body.get("error").getAsString()).isEqualTo(code);
        assertThat(body.get("message").getAsString()).isNotBlank();
        if (status == 401) {
            assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
        } else {
            assertThat(r.headers().firstValue("WWW-Authenticate")).isEmpty();
        }
    }

    private double refused(String port, String reason) {
        return HttpDoorTest.sample(server.metrics().scrape(), "baton_auth_refused_total",
                "port=\"" + port + "\"", "reason=\"" + reason + "\"");
    }

    // ---- the admin JSON API --------------------------------------------------------------------

    @Test
    void withoutATokenTheApiIsRefused401AndNothingChanges() throws Exception {
        BatonClient victim = sessionHolding("no-token");
        long applied = server.node().lastAppliedIndex();
        double before = refused("http", "unauthenticated");

        HttpResponse<String> r = closeSession(victim.sessionId(), null);
        assertRefused(r, 401, "UNAUTHENTICATED");
        assertThat(json(r).get("message").getAsString()).contains("Authorization: Bearer");
        for (String path : List.of("/api/cluster", "/api/pools", "/api/pools/x", "/api/sessions", "/api/dispatch",
                "/api/dispatch-history", "/api/dispatch/g", "/api/events", "/api/queues", "/api/queues/q")) {
            assertRefused(get(path, null), 401, "UNAUTHENTICATED");
        }
        // Not a bearer token at all: the same.
        HttpResponse<String> basic = http.send(HttpRequest.newBuilder(URI.create(base + "/api/cluster"))
                .header("Authorization", "Basic dXNlcjpwYXNz").build(), HttpResponse.BodyHandlers.ofString());
        assertRefused(basic, 401, "UNAUTHENTICATED");

        assertThat(sessionExists(victim.sessionId())).as("the session is still open").isTrue();
        assertThat(server.node().lastAppliedIndex()).as("nothing written").isLessThanOrEqualTo(applied + 2);
        assertThat(refused("http", "unauthenticated")).isEqualTo(before + 12);
    }

    @Test
    void anUnknownTokenIsRefused401() throws Exception {
        BatonClient victim = sessionHolding("unknown-token");
        HttpResponse<String> r = get("/api/cluster", AuthTokens.newToken());
        assertRefused(r, 401, "UNAUTHENTICATED");
        assertThat(json(r).get("message").getAsString()).isEqualTo("unknown token");
        assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"baton\", error=\"invalid_token\"");
        assertRefused(closeSession(victim.sessionId(), "not-a-token"), 401, "UNAUTHENTICATED");
        assertThat(sessionExists(victim.sessionId())).isTrue();
    }

    @Test
    void aReadTokenReadsButCannotCloseASession() throws Exception {
        BatonClient victim = sessionHolding("read-token");
        double before = refused("http", "permission_denied");
        HttpResponse<String> cluster = get("/api/cluster", READ_TOKEN);
        assertThat(cluster.statusCode()).as(cluster.body()).isEqualTo(200);
        assertThat(json(cluster).has("members")).isTrue();
        assertThat(get("/api/sessions", READ_TOKEN).body()).contains(Long.toUnsignedString(victim.sessionId()));

        HttpResponse<String> r = closeSession(victim.sessionId(), READ_TOKEN);
        assertRefused(r, 403, "PERMISSION_DENIED");
        assertThat(json(r).get("message").getAsString())
                .isEqualTo("the token 'monitor' lacks the role 'admin' that POST /api/sessions/{id}/close needs");
        assertThat(sessionExists(victim.sessionId())).as("the session is still open").isTrue();
        // A client token is for the gRPC client services, not for reading the admin API.
        assertRefused(get("/api/pools", CLIENT_TOKEN), 403, "PERMISSION_DENIED");
        assertThat(refused("http", "permission_denied")).isEqualTo(before + 2);
    }

    @Test
    void anAdminTokenReadsAndClosesASession() throws Exception {
        BatonClient victim = sessionHolding("admin-token");
        assertThat(get("/api/pools", ADMIN_TOKEN).statusCode()).isEqualTo(200);
        // The scheme is case-insensitive (RFC 7235).
        HttpResponse<String> lower = http.send(HttpRequest.newBuilder(URI.create(base + "/api/events"))
                .header("Authorization", "bearer " + ADMIN_TOKEN).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(lower.statusCode()).isEqualTo(200);
        HttpResponse<String> r = closeSession(victim.sessionId(), ADMIN_TOKEN);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(json(r).get("closed").getAsBoolean()).isTrue();
        assertThat(sessionExists(victim.sessionId())).isFalse();
        assertThat(server.node().readLocal(new Query.GetLock("admin-token"))).as("released").isNull();
    }

    @Test
    void theSameOriginRuleStillAppliesToAnAdminToken() throws Exception {
        BatonClient victim = sessionHolding("same-origin");
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/api/sessions/"
                        + victim.sessionId() + "/close")).header("Authorization", "Bearer " + ADMIN_TOKEN)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
        assertThat(json(r).get("error").getAsString()).isEqualTo("FORBIDDEN");
        assertThat(sessionExists(victim.sessionId())).isTrue();
    }

    @Test
    void theDashboardPageLoadsWithoutAToken() throws Exception {
        assertThat(get("/dashboard/", null).statusCode()).isEqualTo(200);
        assertThat(get("/dashboard/app.js", null).statusCode()).isEqualTo(200);
        assertThat(get("/", null).statusCode()).isEqualTo(302);
        // No such path: nothing is served, so nothing asks for a token.
        assertThat(get("/api/nothing", null).statusCode()).isEqualTo(404);
    }

    // ---- /metrics and /health ------------------------------------------------------------------

    @Test
    void metricsAndHealthAreOpenByDefault() throws Exception {
        for (String path : List.of("/metrics", "/health/live", "/health/ready", "/health/leader")) {
            assertThat(get(path, null).statusCode()).as(path).isEqualTo(200);
        }
    }

    @Test
    void httpOpenNoneAsksATokenWithTheRoleReadForMetricsAndHealth() throws Exception {
        String closed = door(HttpDoor.Config.defaults("127.0.0.1", 0).withOpen(Set.of()), server.tokenAuth().tokens());
        for (String path : List.of("/metrics", "/health/live", "/health/ready", "/health/leader")) {
            assertRefused(send(closed + path, "GET", null), 401, "UNAUTHENTICATED");
            assertRefused(send(closed + path, "GET", CLIENT_TOKEN), 403, "PERMISSION_DENIED");
            assertThat(send(closed + path, "GET", READ_TOKEN).statusCode()).as(path).isEqualTo(200);
        }
        // Only health open: metrics needs the token.
        String healthOnly = door(HttpDoor.Config.defaults("127.0.0.1", 0).withOpen(Set.of(HttpDoor.OpenPath.HEALTH)),
                server.tokenAuth().tokens());
        assertThat(send(healthOnly + "/health/live", "GET", null).statusCode()).isEqualTo(200);
        assertRefused(send(healthOnly + "/metrics", "GET", null), 401, "UNAUTHENTICATED");
    }

    @Test
    void theHttpOpenOptionIsParsedWithClearErrors() {
        assertThat(HttpDoor.OpenPath.parse("metrics,health", "--http-open"))
                .containsExactlyInAnyOrder(HttpDoor.OpenPath.METRICS, HttpDoor.OpenPath.HEALTH);
        assertThat(HttpDoor.OpenPath.parse(" Health ", "--http-open")).containsExactly(HttpDoor.OpenPath.HEALTH);
        assertThat(HttpDoor.OpenPath.parse("none", "--http-open")).isEmpty();
        assertThat(HttpDoor.OpenPath.DEFAULT).isEqualTo(HttpDoor.OpenPath.parse("metrics,health", "--http-open"));
        assertThatThrownBy(() -> HttpDoor.OpenPath.parse("metrics,dashboard", "--http-open"))
                .hasMessage("--http-open takes a comma list of metrics and health, or none, got 'dashboard' in"
                        + " 'metrics,dashboard'");
        assertThatThrownBy(() -> HttpDoor.OpenPath.parse("none,metrics", "--http-open"))
                .hasMessageContaining("(none alone)");
        assertThatThrownBy(() -> HttpDoor.OpenPath.parse("metrics,metrics", "--http-open"))
                .hasMessageContaining("metrics twice");
        assertThatThrownBy(() -> HttpDoor.OpenPath.parse("", "--http-open")).hasMessageContaining("got nothing");
        assertThatThrownBy(() -> HttpDoor.OpenPath.parse("metrics,", "--http-open")).hasMessageContaining("got ''");
    }

    // ---- reload, metrics, no tokens ------------------------------------------------------------

    @Test
    void aTokenAddedToTheFileIsAcceptedAfterTheReload() throws Exception {
        String added = AuthTokens.newToken();
        assertRefused(get("/api/cluster", added), 401, "UNAUTHENTICATED");
        Files.writeString(tokenFile, AuthTokens.fileLine(added, "new-monitor", "read") + "\n", StandardOpenOption.APPEND);
        TestWaits.await("the added token accepted on the HTTP port", () -> {
            try {
                return get("/api/cluster", added).statusCode() == 200;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void refusalsAreCountedPerPort() throws Exception {
        double http = refused("http", "unauthenticated");
        double api = refused("api", "unauthenticated");
        assertRefused(get("/api/queues", null), 401, "UNAUTHENTICATED");
        assertThat(refused("http", "unauthenticated")).isEqualTo(http + 1);
        assertThat(refused("api", "unauthenticated")).as("the gRPC port's count").isEqualTo(api);
        assertThat(server.metrics().scrape()).contains("baton_auth_refused_total{").contains("port=\"api\"");
    }

    @Test
    void withoutTokensNothingIsAskedFor() throws Exception {
        String open = door(HttpDoor.Config.defaults("127.0.0.1", 0).withOpen(Set.of()), null);
        assertThat(send(open + "/api/cluster", "GET", null).statusCode()).isEqualTo(200);
        assertThat(send(open + "/metrics", "GET", null).statusCode()).isEqualTo(200);
        assertThat(send(open + "/api/cluster", "GET", "whatever").statusCode()).as("a token is ignored").isEqualTo(200);
    }

    // ---- the table -----------------------------------------------------------------------------

    @Test
    void everyEndpointHasItsAccessDecidedAndEveryChangeNeedsAdmin() {
        assertThat(HttpAuth.ACCESS.keySet()).as("endpoints without an entry in HttpAuth.ACCESS")
                .containsExactlyInAnyOrder(Endpoint.values());
        for (Endpoint e : Endpoint.values()) {
            if (!e.isRead()) {
                assertThat(HttpAuth.ACCESS.get(e).role()).as(e.label).isEqualTo(Role.ADMIN);
            }
            if (e.label.startsWith("GET /api/")) {
                assertThat(HttpAuth.ACCESS.get(e).role()).as(e.label).isNotNull();
                assertThat(HttpAuth.ACCESS.get(e).openable()).as(e.label).isNull();
            }
        }
    }

    @Test
    void anEndpointMissingFromTheTableIsRefusedEvenToAnAdmin() throws Exception {
        Map<Endpoint, HttpAuth.Access> withoutQueues = new EnumMap<>(HttpAuth.ACCESS);
        withoutQueues.remove(Endpoint.API_QUEUES);
        HttpAuth auth = new HttpAuth(server.tokenAuth().tokens(), HttpDoor.OpenPath.DEFAULT, new SimpleMeterRegistry(),
                withoutQueues);
        HttpDoor.Reply r = auth.refusal(Endpoint.API_QUEUES, "Bearer " + ADMIN_TOKEN);
        assertThat(r).isNotNull();
        assertThat(r.status()).isEqualTo(403);
        assertThat(new String(r.body(), java.nio.charset.StandardCharsets.UTF_8))
                .contains("GET /api/queues has no role assigned on this node");
        assertThat(auth.refusal(Endpoint.API_EVENTS, "Bearer " + ADMIN_TOKEN)).isNull();
    }

    @Test
    void everyPathResolvesToTheEndpointItsLabelNames() {
        for (Endpoint e : Endpoint.values()) {
            String[] methodAndPath = e.label.split(" ", 2);
            String path = methodAndPath[1].replaceAll("\\{[a-z]+\\}", "x");
            assertThat(Endpoint.resolve(methodAndPath[0], path)).as(e.label).isEqualTo(e);
        }
        assertThat(Endpoint.resolve("HEAD", "/metrics")).isEqualTo(Endpoint.METRICS);
        assertThat(Endpoint.resolve("POST", "/api/sessions")).isNull();
        assertThat(Endpoint.resolve("GET", "/api/sessions/1/close")).isNull();
        assertThat(Endpoint.resolve("DELETE", "/api/pools")).isNull();
    }
}
