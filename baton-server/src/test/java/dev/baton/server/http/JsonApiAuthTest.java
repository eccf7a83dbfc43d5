package dev.baton.server.http;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.server.TestWaits;
import dev.baton.server.grpc.ApiErrors;
import dev.baton.server.metrics.BatonMetrics;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.security.AuthTokens;
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
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP/JSON API on a node with bearer tokens: the same tokens, roles and session ownership as
 * the gRPC port, checked by the gRPC port's own interceptor behind the in-process channel, and
 * no header but {@code Authorization} reaching it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JsonApiAuthTest {
    private static final String CLIENT_TOKEN = AuthTokens.newToken();
    private static final String OTHER_CLIENT_TOKEN = AuthTokens.newToken();
    private static final String READ_TOKEN = AuthTokens.newToken();
    private static final String ADMIN_TOKEN = AuthTokens.newToken();

    private ApiServer server;
    private String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-json-api-tokens");
        Path tokenFile = dir.resolve("tokens");
        Files.writeString(tokenFile, AuthTokens.fileLine(CLIENT_TOKEN, "app", "client") + "\n"
                + AuthTokens.fileLine(OTHER_CLIENT_TOKEN, "other-app", "client") + "\n"
                + AuthTokens.fileLine(READ_TOKEN, "monitor", "read") + "\n"
                + AuthTokens.fileLine(ADMIN_TOKEN, "ops", "admin") + "\n");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        HttpDoor.Config h = new HttpDoor.Config("127.0.0.1", 0, 2, BatonMetrics.Limits.DEFAULTS, 1_000, 10);
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withHttp(h).withAuth(AuthTokens.load(tokenFile, 50))).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(60))).isPresent();
        base = "http://127.0.0.1:" + server.httpDoor().port();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private HttpResponse<String> post(String path, String json, String token, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonObject body(HttpResponse<String> r) {
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    private static void assertRefused(HttpResponse<String> r, int http, String status) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(http);
        assertThat(body(r).get("status").getAsString()).as(r.body()).isEqualTo(status);
        assertThat(body(r).get("error").getAsString()).as(r.body()).isEqualTo(status);
    }

    @Test
    void aTokenWithTheMethodsRoleIsNeeded() throws Exception {
        HttpResponse<String> none = post("/v1/Sessions/Open", "{}", null);
        assertRefused(none, 401, "UNAUTHENTICATED");
        assertThat(none.headers().firstValue("WWW-Authenticate")).isPresent();
        assertRefused(post("/v1/Sessions/Open", "{}", AuthTokens.newToken()), 401, "UNAUTHENTICATED");
        assertRefused(post("/v1/Admin/Status", "{}", null), 401, "UNAUTHENTICATED");
        // read: Admin.Status yes, the client methods no; client: the reverse; admin: a snapshot
        assertThat(post("/v1/Admin/Status", "{}", READ_TOKEN).statusCode()).isEqualTo(200);
        assertRefused(post("/v1/Sessions/Open", "{}", READ_TOKEN), 403, "PERMISSION_DENIED");
        assertRefused(post("/v1/Admin/Status", "{}", CLIENT_TOKEN), 403, "PERMISSION_DENIED");
        assertRefused(post("/v1/Admin/Snapshot", "{}", READ_TOKEN), 403, "PERMISSION_DENIED");
        assertThat(post("/v1/Admin/Snapshot", "{}", ADMIN_TOKEN).statusCode()).isEqualTo(200);
        HttpResponse<String> opened = post("/v1/Sessions/Open", "{}", CLIENT_TOKEN);
        assertThat(opened.statusCode()).as(opened.body()).isEqualTo(200);
    }

    @Test
    void aSessionIsItsOpenersAsOverGrpc() throws Exception {
        String session = body(post("/v1/Sessions/Open", "{}", CLIENT_TOKEN)).get("session").getAsString();
        String acquire = "{\"session\":\"" + session + "\",\"requestId\":\"1\",\"key\":\"mine\",\"workers\":1,"
                + "\"maxQueue\":1}";
        assertRefused(post("/v1/Pools/Acquire", acquire, OTHER_CLIENT_TOKEN), 403, "PERMISSION_DENIED");
        HttpResponse<String> own = post("/v1/Pools/Acquire", acquire, CLIENT_TOKEN);
        assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
        assertThat(body(own).get("status").getAsString()).isEqualTo("POOL_LOCKED");
    }

    @Test
    void noHeaderButTheTokenReachesTheServices() throws Exception {
        // The members' secret header, sent over HTTP, is not passed on: still a plain unauthenticated call.
        assertRefused(post("/v1/Admin/Status", "{}", null, "baton-cluster-secret-bin", "AAAA",
                "baton-cluster-secret", "x"), 401, "UNAUTHENTICATED");
    }

    @Test
    void theApiUsesTheGrpcPortsMetadataKeys() {
        assertThat(JsonApi.ERROR_KEY.name()).isEqualTo(ApiErrors.ERROR_KEY.name());
        assertThat(JsonApi.LEADER_KEY.name()).isEqualTo(ApiErrors.LEADER_KEY.name());
    }
}
