package dev.baton.server.http;

import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.TestCertificates;
import dev.baton.server.security.PemCredentials;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * HTTPS on the HTTP port: with {@code --http-tls-cert-file} and {@code --http-tls-key-file}
 * the dashboard, admin API and metrics are served over TLS to a client that trusts the CA, and a
 * plain-HTTP request gets no answer.
 */
class HttpsTest {
    @TempDir
    Path dir;

    @Test
    void theHttpPortServesTlsToAClientThatTrustsTheCaAndNothingInPlainHttp() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")),
                "openssl is not installed (Debian package openssl; ./test installs it): HTTPS test skipped");
        Path certs = Files.createDirectories(dir.resolve("certs"));
        TestCertificates.ca(certs, "web-ca");
        TestCertificates.leaf(certs, "web-ca", "dashboard");
        PemCredentials.Files3 tls = new PemCredentials.Files3(certs.resolve("dashboard.pem"), "--http-tls-cert-file",
                certs.resolve("dashboard.key"), "--http-tls-key-file", null, null);

        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        ApiServer server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withHttp(HttpDoor.Config.defaults("127.0.0.1", 0).withTls(tls))).start();
        try {
            HttpDoor door = server.httpDoor();
            assertThat(door.scheme()).isEqualTo("https");
            HttpClient client = HttpClient.newBuilder().sslContext(trusting(certs.resolve("web-ca.pem")))
                    .connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> metrics = client.send(HttpRequest.newBuilder(
                    URI.create("https://localhost:" + door.port() + "/metrics")).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("baton_");

            // The same request in plain HTTP gets no HTTP answer: the server wants a TLS handshake.
            try (Socket s = new Socket("127.0.0.1", door.port())) {
                s.setSoTimeout(30_000);
                s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                byte[] head = s.getInputStream().readNBytes(4);
                assertThat(new String(head, StandardCharsets.ISO_8859_1)).isNotEqualTo("HTTP");
            }
            // And a client that does not trust the CA gets no answer either.
            HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            assertThatThrownBy(() -> untrusting.send(HttpRequest.newBuilder(
                    URI.create("https://localhost:" + door.port() + "/metrics")).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString())).isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
        } finally {
            server.close();
        }
    }

    private static SSLContext trusting(Path caPem) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (InputStream in = new FileInputStream(caPem.toFile())) {
            ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }
}
