package dev.baton.bench.cluster;

import dev.baton.bench.load.BatonContender;
import dev.baton.bench.load.Keys;
import dev.baton.bench.load.Load;
import dev.baton.client.AccessDeniedException;
import dev.baton.client.BatonClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The set-up of the secured contenders ({@code baton1-java-tls}, {@code baton3-java-tls}) on one real
 * {@code baton server} process: the certificates and token made by {@link ServerProcesses#secured()}
 * are accepted by the server, the load generator's client gets through with them, and the server
 * does ask for the token (so the benchmark measures what it says). A few seconds of load; never a speed.
 * Skipped without {@code openssl}, as the server's TLS tests are.
 */
@Timeout(240)
class SecuredSmokeTest {
    private static ServerProcesses node;

    @BeforeAll
    static void startNode() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(BenchCertificates.OPENSSL),
                "openssl is not installed (Debian package openssl): secured contender test skipped");
        node = new ServerProcesses(1, System.getProperty("java.class.path"), "-Xmx256m", "").secured();
        node.startAll();
        node.awaitServing(); // its status polls go through TLS with the token too
    }

    @AfterAll
    static void stopNode() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void serverIsStartedWithTlsOnBothPortsAndTokens() {
        List<String> cmd = node.command(node.nodes().get(0));
        assertThat(cmd).contains("--tls-cert-file", "--tls-key-file", "--tls-ca-file", "--peer-tls-cert-file",
                "--peer-tls-key-file", "--peer-tls-ca-file", "--auth-token-file");
    }

    @Test
    void javaClientWithCaAndTokenRunsTheLoad() throws Exception {
        Load.Result r = Load.run(new BatonContender("baton1-java-tls", node.apiEndpoints(), node.apiCaFile(),
                node.authToken()), new Load.Config("smoke baton1-java-tls", 4, Keys.uniform(100), 1, 1000, 10, 1000,
                1, 3, false, node.nodes().stream().map(ServerProcesses.Node::pid).toList()));
        System.out.println(r.human());
        assertThat(r.violations()).as("times a key had more than W holders").isZero();
        assertThat(r.errors()).as("errors by kind").isEmpty();
        assertThat(r.stuck()).as("stuck clients").isZero();
        // Pairs done at any time in the run, not in the window: a stall of a loaded machine (seen on CI,
        // with other modules' tests beside) can leave a 2 s window empty; this checks the load works.
        assertThat(r.pairsInRun()).as("acquire + release pairs in the run").isPositive();
    }

    @Test
    void javaClientWithASessionPerPairKeepsItsTlsChannels() throws Exception {
        // A new BatonClient (session) per pair on the client thread's kept TLS channels, the token on every call.
        Load.Result r = Load.run(new BatonContender("baton1-java-tls", node.apiEndpoints(), node.apiCaFile(),
                node.authToken()), new Load.Config("smoke baton1-java-tls per pair", 4, Keys.uniform(100), 1, 1000, 10,
                1000, 1, 3, false, node.nodes().stream().map(ServerProcesses.Node::pid).toList(),
                Load.Connect.PER_PAIR));
        System.out.println(r.human());
        assertThat(r.violations()).as("times a key had more than W holders").isZero();
        assertThat(r.errors()).as("errors by kind").isEmpty();
        assertThat(r.stuck()).as("stuck clients").isZero();
        // Pairs done at any time in the run, not in the window: a stall of a loaded machine (seen on CI,
        // with other modules' tests beside) can leave a 2 s window empty; this checks the load works.
        assertThat(r.pairsInRun()).as("acquire + release pairs in the run").isPositive();
        // Of the pairs counted in the window, all but each thread's first were opened after that thread's
        // previous close, inside the window, so their opens were recorded there.
        assertThat(r.open().getTotalCount()).as("sessions opened in the window")
                .isGreaterThanOrEqualTo(r.pairs() - r.config().clients());
    }

    @Test
    void aClientWithoutTheTokenIsRefused() {
        // TLS alone is not enough: the node asks every call for the token.
        assertThatThrownBy(() -> BatonClient.builder().endpoints(node.apiEndpoints()).tls(node.apiCaFile()).build()
                .close()).isInstanceOf(AccessDeniedException.class);
    }
}
