package dev.baton.server.testing;

import dev.baton.client.BatonClient;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * One real Baton node inside the test JVM (SOFAJRaft with its on-disk log in a temp directory, gRPC on
 * a free loopback port), the leader of its own one-node cluster once {@link #start()} returns. For the
 * tests of modules built on the client: the Spring modules take it from baton-server's test jar.
 */
public final class InProcessNode implements AutoCloseable {
    private final ApiServer server;

    private InProcessNode(ApiServer server) {
        this.server = server;
    }

    public static InProcessNode start() {
        // A free port may be taken between the check and the Raft bind: try again on another.
        for (int attempt = 1; ; attempt++) {
            try {
                BatonNode.Options o = BatonNode.Options.defaults(Files.createTempDirectory("baton-test-"))
                        .withPort(freePort());
                ApiServer server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000,
                        UnaryOperator.identity())).start();
                InProcessNode node = new InProcessNode(server);
                node.awaitLeader();
                return node;
            } catch (IllegalStateException e) {
                if (attempt == 3 || !String.valueOf(e.getMessage()).contains("cannot start Raft node")) {
                    throw e;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private void awaitLeader() {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!server.node().isLeader()) {
            if (System.nanoTime() > deadline) {
                close();
                throw new AssertionError("the test node did not become leader");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    /** The node's gRPC endpoint, {@code host:port}. */
    public String endpoint() {
        return server.apiEndpoint();
    }

    /** A new client of the node. */
    public BatonClient client() {
        return BatonClient.builder().endpoints(endpoint()).retryFor(Duration.ofSeconds(30)).build();
    }

    private static int freePort() {
        return dev.baton.server.TestPorts.free();
    }

    @Override
    public void close() {
        server.close();
    }
}
