package dev.baton.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.cli.Baton.Run;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One set of flags for every command that talks to a node: {@code -e/--endpoints} (a list, tried in
 * order), {@code -o json} with 64-bit numbers as JSON numbers, durations with units.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FlagsTest {
    private ApiServer server;
    private String ep;

    @BeforeAll
    void start() throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(Files.createTempDirectory("baton-cli-flags").resolve("data"))
                .withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        ep = server.apiEndpoint();
    }

    @AfterAll
    void stop() {
        server.close();
    }

    @Test
    void adminTakesTheClientCommandsFlags() {
        for (String e : new String[] {"-e", "--endpoints"}) {
            Run r = Baton.run("admin", "status", e, ep, "-o", "json", "--timeout-ms", "30s");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(JsonParser.parseString(r.out()).getAsJsonObject().get("isLeader").getAsBoolean()).isTrue();
        }
        Run old = Baton.run("admin", "status", "--endpoint", ep);
        assertThat(old.code()).as("the old flag is gone").isEqualTo(2);
        Run oldJson = Baton.run("admin", "status", "-e", ep, "--json");
        assertThat(oldJson.code()).as("the old flag is gone").isEqualTo(2);
        Run badTimeout = Baton.run("admin", "status", "-e", ep, "--timeout-ms", "soon");
        assertThat(badTimeout.code()).isEqualTo(2);
        assertThat(badTimeout.err()).contains("--timeout-ms").contains("not a duration");
    }

    @Test
    void clientCommandsTakeTheSameDurations() {
        Run r = Baton.run("status", "-e", ep, "-o", "json", "--timeout-ms", "30s");
        assertThat(r.code()).as(r.err()).isZero();
        Run bad = Baton.run("status", "-e", ep, "--timeout-ms", "soon");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("--timeout-ms").contains("not a duration");
    }

    @Test
    void adminTriesTheNextEndpointWhenOneCannotBeReached() {
        String down = "127.0.0.1:" + TestWaits.freePort();
        Run r = Baton.run("admin", "status", "-e", down + "," + ep, "--timeout-ms", "10s");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("(leader)");
        Run none = Baton.run("admin", "status", "-e", down, "--timeout-ms", "2s");
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err()).contains("UNAVAILABLE").contains("is " + down + " up?");
    }

    @Test
    void jsonNumbersAreNumbers() {
        assertThat(Baton.run("pool", "acquire", "json-numbers", "-e", ep).code()).isZero();
        JsonObject status = JsonParser.parseString(Baton.run("admin", "status", "-e", ep, "-o", "json").out())
                .getAsJsonObject();
        JsonElement term = status.get("term");
        assertThat(term.getAsJsonPrimitive().isNumber()).as("term: %s", term).isTrue();
        assertThat(term.getAsLong()).isPositive();
        JsonElement acquired = status.getAsJsonObject("pools").get("acquired");
        assertThat(acquired.getAsJsonPrimitive().isNumber()).as("pools.acquired: %s", acquired).isTrue();
        assertThat(acquired.getAsLong()).isPositive();
        JsonObject snapshot = JsonParser.parseString(Baton.run("admin", "snapshot", "-e", ep, "-o", "json").out())
                .getAsJsonObject();
        assertThat(snapshot.get("appliedIndex").getAsJsonPrimitive().isNumber()).isTrue();
    }

    @Test
    void durationOptionsOfTheClientCommandsTakeUnits() {
        Run held = Baton.run("lock", "acquire", "units", "-e", ep, "--wait", "2s", "--hold", "100ms");
        assertThat(held.code()).as(held.err()).isZero();
        Run iso = Baton.run("lock", "acquire", "units", "-e", ep, "--wait", "PT2S");
        assertThat(iso.code()).as("ISO-8601 still: %s", iso.err()).isZero();
        Run bad = Baton.run("lock", "acquire", "units", "-e", ep, "--hold", "a while");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("not a duration");
    }

    @Test
    void tokenNewPrintsJson() {
        Run r = Baton.run("token", "new", "app", "client", "-o", "json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonObject json = JsonParser.parseString(r.out()).getAsJsonObject();
        String token = json.get("token").getAsString();
        assertThat(token).matches("[A-Za-z0-9_-]{43}");
        assertThat(json.get("line").getAsString()).isEqualTo(dev.baton.server.security.AuthTokens.sha256Hex(token) + " app client");
    }
}
