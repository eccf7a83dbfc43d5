package dev.baton.cli;

import dev.baton.cli.Baton.Run;
import dev.baton.server.TestWaits;
import dev.baton.server.TlsFiles;
import dev.baton.server.node.ApiServer;
import dev.baton.server.grpc.ApiTls;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The commands against nodes in this JVM whose API port speaks TLS only, with certificates made by
 * {@code openssl} for the test: with the CA they work, without it they say the port is TLS-only;
 * with a client certificate against a node that requires one; with TLS and a token file together,
 * where the token's role decides.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CliTlsTest {
    private Path root;
    private TlsFiles files;
    private TlsFiles.Ca ca;
    private ApiServer server;
    private ApiServer mutualServer;
    private ApiServer tokenServer;
    private final String clientToken = AuthTokens.newToken();
    private final String adminToken = AuthTokens.newToken();

    @BeforeAll
    void start() throws Exception {
        root = Files.createTempDirectory("baton-cli-tls");
        files = new TlsFiles(root.resolve("certs"));
        ca = files.ca("baton-test-ca");
        TlsFiles.Leaf first = files.node(ca, "node-1");
        server = start("plain", ApiTls.load(new ApiTls.Config(first.cert(), first.key(), null, null,
                ApiTls.DEFAULT_RELOAD_INTERVAL_MS)), null);
        TlsFiles.Leaf second = files.node(ca, "node-2");
        mutualServer = start("mutual", ApiTls.load(new ApiTls.Config(second.cert(), second.key(), ca.cert(), null,
                ApiTls.DEFAULT_RELOAD_INTERVAL_MS)), null);
        Path tokens = Files.writeString(root.resolve("tokens.txt"), AuthTokens.fileLine(clientToken, "app", "client") + "\n"
                + AuthTokens.fileLine(adminToken, "ops", "client,admin") + "\n");
        TlsFiles.Leaf third = files.node(ca, "node-3");
        tokenServer = start("tokens", ApiTls.load(new ApiTls.Config(third.cert(), third.key(), null, null,
                ApiTls.DEFAULT_RELOAD_INTERVAL_MS)), AuthTokens.load(tokens, 10_000));
    }

    private ApiServer start(String name, ApiTls tls, AuthTokens auth) throws InterruptedException {
        BatonNode.Options o = BatonNode.Options.defaults(root.resolve(name)).withPort(TestWaits.freePort());
        ApiServer.Config config = new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity()).withTls(tls);
        ApiServer s = new ApiServer(auth == null ? config : config.withAuth(auth)).start();
        assertThat(s.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        return s;
    }

    @AfterAll
    void stop() {
        for (ApiServer s : new ApiServer[] {server, mutualServer, tokenServer}) {
            if (s != null) {
                s.close();
            }
        }
    }

    @Test
    void theCliConnectsWithTheCaAndExplainsAPlaintextFailure() {
        Run acquire = Baton.run("pool", "acquire", "cli-tls", "-e", server.apiEndpoint(), "--tls-ca-file", ca.cert().toString());
        assertThat(acquire.code()).as(acquire.err()).isZero();
        assertThat(acquire.out()).contains("LOCKED");
        Run status = Baton.run("status", "-e", server.apiEndpoint(), "--tls-ca-file", ca.cert().toString());
        assertThat(status.code()).as(status.err()).isZero();

        Run plaintext = Baton.run("status", "-e", server.apiEndpoint(), "--timeout-ms", "2000");
        assertThat(plaintext.code()).isEqualTo(1);
        assertThat(plaintext.err()).contains("TLS-only").contains("give --tls-ca-file");
        Run plaintextClient = Baton.run("pool", "acquire", "x", "-e", server.apiEndpoint(), "--timeout-ms", "1000");
        assertThat(plaintextClient.code()).isEqualTo(1);
        assertThat(plaintextClient.err()).contains("TLS-only").contains("give --tls-ca-file");
        Run noKey = Baton.run("pool", "acquire", "x", "-e", server.apiEndpoint(), "--tls-ca-file", ca.cert().toString(),
                "--tls-cert-file", ca.cert().toString());
        assertThat(noKey.code()).isEqualTo(2);
        assertThat(noKey.err()).contains("--tls-cert-file needs --tls-key-file");
    }

    @Test
    void adminWithAClientCertificateOnANodeThatRequiresOne() throws Exception {
        TlsFiles.Leaf app = files.client(ca, "app");
        Run admin = Baton.run("admin", "status", "-e", mutualServer.apiEndpoint(), "--tls-ca-file", ca.cert().toString(),
                "--tls-cert-file", app.cert().toString(), "--tls-key-file", app.key().toString());
        assertThat(admin.code()).as(admin.err()).isZero();
        assertThat(admin.out()).contains("(leader)");
    }

    @Test
    void adminOverTlsWithATokenFileIsRefusedForAClientTokenAndServedForAnAdminOne() throws Exception {
        String ep = tokenServer.apiEndpoint();
        String caFile = ca.cert().toString();
        Path app = Files.writeString(root.resolve("app.token"), clientToken + "\n");
        Path ops = Files.writeString(root.resolve("ops.token"), adminToken + "\n");
        String raft = tokenServer.node().options().endpoint();
        Run remove = Baton.run("admin", "-e", ep, "--tls-ca-file", caFile, "--token-file", app.toString(),
                "remove-member", raft);
        assertThat(remove.code()).as("remove-member with a client token").isEqualTo(1);
        assertThat(remove.err()).contains("PERMISSION_DENIED");
        Run snapshot = Baton.run("admin", "-e", ep, "--tls-ca-file", caFile, "--token-file", app.toString(), "snapshot");
        assertThat(snapshot.code()).as("snapshot with a client token").isEqualTo(1);
        assertThat(snapshot.err()).contains("PERMISSION_DENIED");
        // the same command line with the admin token works: the refusals above were the role's
        Run status = Baton.run("admin", "-e", ep, "--tls-ca-file", caFile, "--token-file", ops.toString(), "status");
        assertThat(status.code()).as(status.err()).isZero();
        assertThat(status.out()).contains("members").contains(raft);
    }
}
