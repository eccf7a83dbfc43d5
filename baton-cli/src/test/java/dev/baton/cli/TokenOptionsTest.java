package dev.baton.cli;

import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --auth-token-file} of {@code baton server} (a malformed file stops the start, naming the
 * line, before anything is written; also as a {@code --config} key) and {@code --token-file} of the
 * client and admin commands against a node that requires tokens.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenOptionsTest {
    private final String clientToken = AuthTokens.newToken();
    private final String readToken = AuthTokens.newToken();
    private Path dir;
    private ApiServer server;

    record Run(int code, String out, String err) {}

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("baton-token-cli");
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(clientToken, "app", "client") + "\n"
                + AuthTokens.fileLine(readToken, "monitor", "read") + "\n");
        Files.writeString(dir.resolve("client.token"), clientToken + "\n");
        Files.writeString(dir.resolve("read.token"), "  " + readToken + "  \nsecond line ignored\n");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withAuth(AuthTokens.load(tokens, 10_000))).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
    }

    @AfterAll
    void stop() {
        server.close();
    }

    /** Runs {@code baton <args>}, capturing what it prints. */
    private static synchronized Run baton(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int code = Baton.exec(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void aMalformedTokenFileStopsTheStartNamingTheLine() throws Exception {
        Path bad = dir.resolve("bad-tokens");
        Files.writeString(bad, "# tokens\n" + AuthTokens.fileLine(clientToken, "app", "client") + "\n"
                + AuthTokens.sha256Hex("x") + " app superuser\n");
        Path data = dir.resolve("never-created");
        Run r = baton("server", "--data-dir", data.toString(), "--auth-token-file", bad.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains(bad.toString() + " line 3").contains("unknown role 'superuser'");
        assertThat(data).doesNotExist();

        Path config = dir.resolve("baton.properties");
        Files.writeString(config, "auth-token-file=" + bad + "\nauth-reload-interval-ms=5000\ndata-dir=" + data + "\n");
        Run viaConfig = baton("server", "--config", config.toString());
        assertThat(viaConfig.code()).isEqualTo(2);
        assertThat(viaConfig.err()).contains(" line 3").doesNotContain("unknown key");
        assertThat(data).doesNotExist();
    }

    @Test
    void clientCommandsSendTheTokenOfTokenFile() {
        String ep = server.apiEndpoint();
        Run none = baton("pool", "acquire", "cli-page", "-e", ep, "--timeout-ms", "60000");
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err()).contains("UNAUTHENTICATED").contains("--token-file").doesNotContain("\tat ");

        Run acquired = baton("pool", "acquire", "cli-page", "-e", ep, "--token-file", dir.resolve("client.token").toString());
        assertThat(acquired.code()).as(acquired.err()).isZero();

        Run status = baton("status", "-e", ep, "--token-file", dir.resolve("client.token").toString());
        assertThat(status.code()).isEqualTo(1);
        assertThat(status.err()).contains("PERMISSION_DENIED").contains("'read'").doesNotContain("\tat ");
    }

    @Test
    void adminCommandsSendTheTokenOfTokenFile() {
        String ep = server.apiEndpoint();
        Run none = baton("admin", "status", "-e", ep);
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err()).contains("UNAUTHENTICATED").doesNotContain("\tat ")
                .as("the code said once").doesNotContain("[UNAUTHENTICATED]");

        Run read = baton("admin", "status", "-e", ep, "--token-file", dir.resolve("read.token").toString());
        assertThat(read.code()).as(read.err()).isZero();
        assertThat(read.out()).contains("(leader)");

        Run snapshot = baton("admin", "snapshot", "-e", ep, "--token-file", dir.resolve("read.token").toString());
        assertThat(snapshot.code()).isEqualTo(1);
        assertThat(snapshot.err()).contains("PERMISSION_DENIED").contains("'admin'");

        Run missing = baton("admin", "status", "-e", ep, "--token-file", dir.resolve("nope").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("cannot read the token file");
    }

    @Test
    void tokenNewRefusesAnUnknownRole() {
        Run r = baton("token", "new", "app", "client,root");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("unknown role 'root'");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void tokenNewLimitsATokenToKeyPrefixes() {
        Run r = baton("token", "new", "tenant-a", "client", "enwiki:,dewiki:");
        assertThat(r.code()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines).hasSize(2);
        assertThat(lines[1]).isEqualTo(AuthTokens.sha256Hex(lines[0].strip()) + " tenant-a client enwiki:,dewiki:");
        Run admin = baton("token", "new", "ops", "admin", "enwiki:");
        assertThat(admin.code()).isEqualTo(2);
        assertThat(admin.err()).contains("may have only the client role");
    }
}
