package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;

import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonUnavailableException;
import dev.baton.server.TestWaits;
import dev.baton.server.TlsFiles;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TLS on the gRPC API port of real nodes in this JVM (SOFAJRaft, gRPC on loopback), with
 * certificates made by {@code openssl} for the test: the Java client with the right CA gets a pool
 * slot, a plaintext client and a client trusting another CA are refused with a clear
 * error, a node with a client CA refuses clients without a certificate (mutual TLS), and a
 * certificate replaced on disk is served to new connections without a restart.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiTlsTest {
    private Path root;
    private TlsFiles files;
    private TlsFiles.Ca ca;
    private TlsFiles.Ca otherCa;
    /** The server's certificate and key files, replaced by the rotation test. */
    private Path certFile;
    private Path keyFile;
    private ApiServer server;
    private ApiServer mutualServer;

    @BeforeAll
    void start() throws Exception {
        root = Files.createTempDirectory("baton-api-tls");
        files = new TlsFiles(root.resolve("certs"));
        ca = files.ca("baton-test-ca");
        otherCa = files.ca("other-ca");
        TlsFiles.Leaf first = files.node(ca, "node-1");
        certFile = root.resolve("api.pem");
        keyFile = root.resolve("api.key");
        Files.copy(first.cert(), certFile);
        Files.copy(first.key(), keyFile);
        // A short reload interval, for the rotation test.
        server = start("plain", ApiTls.load(new ApiTls.Config(certFile, keyFile, null, null, 200)));
        TlsFiles.Leaf second = files.node(ca, "node-2");
        mutualServer = start("mutual", ApiTls.load(new ApiTls.Config(second.cert(), second.key(), ca.cert(), null,
                ApiTls.DEFAULT_RELOAD_INTERVAL_MS)));
    }

    private ApiServer start(String name, ApiTls tls) throws InterruptedException {
        BatonNode.Options o = BatonNode.Options.defaults(root.resolve(name)).withPort(TestWaits.freePort());
        ApiServer s = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withTls(tls)).start();
        assertThat(s.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        return s;
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
        if (mutualServer != null) {
            mutualServer.close();
        }
    }

    @Test
    void aClientTrustingTheCaGetsASlot() {
        try (BatonClient c = BatonClient.builder().endpoints(server.apiEndpoint()).tls(ca.cert()).build()) {
            assertThat(c.pools().acquire("tls", 1, 5, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            assertThat(c.pools().release("tls").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        }
    }

    @Test
    void aCertificateForAnotherHostIsRefused() throws Exception {
        // Only the handshake matters: a gRPC server without services, serving a certificate of the right CA.
        TlsFiles.Leaf elsewhere = files.nodeElsewhere(ca, "elsewhere");
        io.grpc.Server bare = io.grpc.Grpc.newServerBuilderForPort(0,
                ApiTls.load(new ApiTls.Config(elsewhere.cert(), elsewhere.key())).serverCredentials()).build().start();
        try {
            assertThatThrownBy(() -> BatonClient.builder().endpoints("127.0.0.1:" + bare.getPort()).tls(ca.cert())
                    .retryFor(Duration.ofSeconds(1)).build().close())
                    .isInstanceOf(BatonUnavailableException.class)
                    .hasMessageContaining("TLS: the node's certificate is not trusted")
                    .hasMessageContaining("127.0.0.1");
        } finally {
            bare.shutdownNow();
        }
    }

    @Test
    void theClientBuilderRefusesTlsOptionsThatDoNotGoTogether() throws Exception {
        TlsFiles.Leaf app = files.client(ca, "lonely-app");
        assertThatThrownBy(() -> BatonClient.builder().endpoints(server.apiEndpoint())
                .tlsClientCertificate(app.cert(), app.key()).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("needs tls(caFile)");
        assertThatThrownBy(() -> BatonClient.builder().endpoints(server.apiEndpoint()).tls(ca.cert())
                .channelFactory(a -> io.grpc.ManagedChannelBuilder.forTarget(a).usePlaintext().build()).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("channelFactory");
    }

    @Test
    void aPlaintextClientIsRefusedWithAClearError() {
        assertThatThrownBy(() -> BatonClient.builder().endpoints(server.apiEndpoint()).retryFor(Duration.ofSeconds(1))
                .build().close())
                .isInstanceOf(BatonUnavailableException.class)
                .hasMessageContaining("is its API port TLS-only? A plaintext client cannot use it");
    }

    @Test
    void aClientTrustingAnotherCaIsRefused() {
        assertThatThrownBy(() -> BatonClient.builder().endpoints(server.apiEndpoint()).tls(otherCa.cert())
                .retryFor(Duration.ofSeconds(1)).build().close())
                .isInstanceOf(BatonUnavailableException.class)
                .hasMessageContaining("TLS: the node's certificate is not trusted");
    }

    @Test
    void withAClientCaOnlyClientsWithACertificateOfItAreServed() throws Exception {
        assertThatThrownBy(() -> BatonClient.builder().endpoints(mutualServer.apiEndpoint()).tls(ca.cert())
                .retryFor(Duration.ofSeconds(1)).build().close())
                .as("no client certificate").isInstanceOf(BatonUnavailableException.class)
                .hasMessageContaining("TLS: the node requires a client certificate");
        TlsFiles.Leaf stranger = files.client(otherCa, "stranger");
        assertThatThrownBy(() -> BatonClient.builder().endpoints(mutualServer.apiEndpoint()).tls(ca.cert())
                .tlsClientCertificate(stranger.cert(), stranger.key()).retryFor(Duration.ofSeconds(1)).build().close())
                .as("a client certificate of another CA").isInstanceOf(BatonUnavailableException.class)
                .hasMessageContaining("TLS: the node requires a client certificate");

        TlsFiles.Leaf app = files.client(ca, "app");
        try (BatonClient c = BatonClient.builder().endpoints(mutualServer.apiEndpoint()).tls(ca.cert())
                .tlsClientCertificate(app.cert(), app.key()).build()) {
            assertThat(c.pools().acquire("mtls", 1, 5, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            assertThat(c.pools().release("mtls").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        }
    }

    @Test
    void aReplacedCertificateIsServedToNewConnections() throws Exception {
        BigInteger before = servedCertificate(server).getSerialNumber();
        assertThat(before).isEqualTo(serial(certFile));
        TlsFiles.Leaf next = files.node(ca, "node-1-renewed");
        // As an operator would: the key first, then the certificate, each replaced whole.
        replace(next.key(), keyFile);
        replace(next.cert(), certFile);
        BigInteger expected = serial(certFile);
        TestWaits.await("the new certificate on a new connection",
                () -> servedCertificate(server).getSerialNumber().equals(expected));
        assertThat(servedCertificate(server).getSubjectX500Principal().getName()).contains("node-1-renewed");
        try (BatonClient c = BatonClient.builder().endpoints(server.apiEndpoint()).tls(ca.cert()).build()) {
            assertThat(c.pools().acquire("renewed", 1, 5, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        }
    }

    private static void replace(Path from, Path to) throws Exception {
        Path tmp = to.resolveSibling(to.getFileName() + ".new");
        Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static BigInteger serial(Path pem) throws Exception {
        try (var in = Files.newInputStream(pem)) {
            return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
        }
    }

    /** The certificate a new TLS connection to {@code s}'s API port is shown (verified against the CA). */
    private X509Certificate servedCertificate(ApiServer s) {
        try {
            KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
            trusted.load(null, null);
            try (var in = Files.newInputStream(ca.cert())) {
                trusted.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trusted);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            try (SSLSocket socket = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", s.apiPort())) {
                SSLParameters p = socket.getSSLParameters();
                p.setApplicationProtocols(new String[] {"h2"}); // as a gRPC client
                socket.setSSLParameters(p);
                socket.startHandshake();
                return (X509Certificate) socket.getSession().getPeerCertificates()[0];
            }
        } catch (Exception e) {
            throw new AssertionError("TLS handshake with " + s.apiEndpoint() + " failed", e);
        }
    }
}
