package dev.baton.examples;

import dev.baton.server.node.ApiServer;
import dev.baton.server.grpc.ApiTls;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An example runs unchanged against a node with TLS and tokens: the same program, as its own
 * process, given the CA and the token in the environment ({@code BATON_TLS_CA_FILE},
 * {@code BATON_TOKEN}) that the client reads with {@code securityFromEnvironment()}; without the
 * token it is refused.
 */
class SecuredNodeExampleTest {
    private static final Path OPENSSL = Path.of("/usr/bin/openssl");

    @Test
    void theStampedeExampleRunsOnANodeWithTlsAndTokensGivenTheEnvironment(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(OPENSSL), "needs /usr/bin/openssl to make a certificate");
        // One self-signed certificate for 127.0.0.1: the node serves it, the client trusts it.
        run(dir, List.of(OPENSSL.toString(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", "node.key", "-out", "node.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "extendedKeyUsage=serverAuth,clientAuth"), Map.of());
        String token = AuthTokens.newToken();
        Files.writeString(dir.resolve("tokens"), AuthTokens.fileLine(token, "examples", "client") + "\n");

        int raft;
        try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            raft = s.getLocalPort();
        }
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(raft);
        try (ApiServer server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withTls(ApiTls.load(new ApiTls.Config(dir.resolve("node.pem"), dir.resolve("node.key"))))
                .withAuth(AuthTokens.load(dir.resolve("tokens"), 10_000))).start()) {
            assertThat(server.node().waitForLeader(Duration.ofSeconds(30))).isPresent();
            List<String> example = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), Stampede.class.getName(),
                    "--endpoints", server.apiEndpoint(), "--threads", "10", "--render-ms", "200");

            Result secured = run(dir, example, Map.of("BATON_TLS_CA_FILE", dir.resolve("node.pem").toString(),
                    "BATON_TOKEN", token));
            assertThat(secured.code()).as(secured.output()).isZero();
            assertThat(secured.output()).contains("10 of 10 callers got a page");

            // Without the token the node refuses the example (at once: a refusal is not retried).
            Result noToken = run(dir, example, Map.of("BATON_TLS_CA_FILE", dir.resolve("node.pem").toString()));
            assertThat(noToken.code()).isNotZero();
            assertThat(noToken.output()).contains("UNAUTHENTICATED");
        }
    }

    record Result(int code, String output) {}

    private static Result run(Path dir, List<String> command, Map<String, String> env)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("BATON_"));
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
