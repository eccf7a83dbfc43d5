package dev.baton.examples;

import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/** A real single Baton node in the test JVM (SOFAJRaft, on-disk log, gRPC on a free port), as ./baton server. */
final class OneNode implements AutoCloseable {
    final ApiServer server;

    OneNode() {
        try {
            int raft;
            try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
                raft = s.getLocalPort();
            }
            BatonNode.Options o = BatonNode.Options.defaults(Files.createTempDirectory("baton-example").resolve("data"))
                    .withPort(raft);
            server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
            if (server.node().waitForLeader(Duration.ofSeconds(30)).isEmpty()) {
                throw new IllegalStateException("no leader");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    List<String> endpoints() {
        return List.of(server.apiEndpoint());
    }

    @Override
    public void close() {
        server.close();
    }
}
