package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;

import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.server.TestWaits;
import dev.baton.server.TlsFiles;
import dev.baton.server.raft.BatonNode;
import io.grpc.Status;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A caller that proves itself with a client certificate instead of a token: on a node with mutual
 * TLS and a token file, a {@code -} line names the certificate's common name and gives it roles and
 * key prefixes; a certificate of the right CA whose name is not in the file gets nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClientCertificateAuthTest {
    private TlsFiles.Ca ca;
    private TlsFiles files;
    private ApiServer server;

    @BeforeAll
    void start() throws Exception {
        TlsFiles.assumeOpenssl();
        Path root = Files.createTempDirectory("baton-cert-auth");
        files = new TlsFiles(root.resolve("certs"));
        ca = files.ca("baton-test-ca");
        TlsFiles.Leaf node = files.node(ca, "node-1");
        Path tokens = root.resolve("tokens");
        Files.writeString(tokens, "# callers by certificate\n- crawler-7 client c:\n");
        BatonNode.Options o = BatonNode.Options.defaults(root.resolve("data")).withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withTls(ApiTls.load(new ApiTls.Config(node.cert(), node.key(), ca.cert(), null,
                        ApiTls.DEFAULT_RELOAD_INTERVAL_MS)))
                .withAuth(AuthTokens.load(tokens, 10_000))).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private BatonClient client(TlsFiles.Leaf certificate) {
        return BatonClient.builder().endpoints(server.apiEndpoint()).tls(ca.cert())
                .tlsClientCertificate(certificate.cert(), certificate.key()).retryFor(Duration.ofSeconds(5)).build();
    }

    @Test
    void aCertificateNamedInTheTokenFileActsWithItsRolesAndPrefixes() throws Exception {
        try (BatonClient c = client(files.client(ca, "crawler-7"))) {
            assertThat(c.pools().acquire("c:robots.txt", 1, 1, Duration.ZERO, false).status())
                    .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            assertThatThrownBy(() -> c.pools().acquire("d:robots.txt", 1, 1, Duration.ZERO, false))
                    .isInstanceOfSatisfying(BatonException.class,
                            e -> assertThat(e.statusCode()).isEqualTo(Status.Code.PERMISSION_DENIED))
                    .hasMessageContaining("'crawler-7' may only touch names starting with c:");
        }
        assertThat(server.node().readLocal(new dev.baton.core.command.Query.GetPool("d:robots.txt"))).isNull();
    }

    @Test
    void aCertificateOfTheRightCaWhoseNameIsNotInTheFileIsRefused() throws Exception {
        TlsFiles.Leaf stranger = files.client(ca, "stranger");
        // The client opens its session as it is built: that is the first call refused.
        assertThatThrownBy(() -> client(stranger).close())
                .isInstanceOfSatisfying(BatonException.class,
                        e -> assertThat(e.statusCode()).isEqualTo(Status.Code.UNAUTHENTICATED))
                .hasMessageContaining("'stranger' is not in the token file");
        assertThat(server.node().readLocal(new dev.baton.core.command.Query.ListSessions(1_000)).sessions())
                .extracting(dev.baton.core.command.View.Session::token).noneMatch(t -> t != null && t.startsWith("stranger"));
    }

    @Test
    void theCommonNameIsTheMostSpecificCnOfTheSubject() {
        assertThat(TokenAuth.commonName("CN=crawler-7,OU=bots,O=Example")).isEqualTo("crawler-7");
        assertThat(TokenAuth.commonName("O=Example")).isNull();
        assertThat(TokenAuth.commonName("not a name")).isNull();
    }
}
