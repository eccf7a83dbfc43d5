package dev.baton.server.cluster;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.client.BatonClient;
import dev.baton.client.LimitExceededException;
import dev.baton.server.ServerCommand;
import dev.baton.server.NodeJvm;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A flood of large enqueues against a real {@code baton server} process with a small heap: 64 KiB
 * enqueues into one queue. Without a state budget the payloads alone outgrow the 256 MiB heap
 * (5 000 × 64 KiB = 320 MiB): the node died of {@code OutOfMemoryError} or lingered half-alive.
 * With the budget sized for the heap ({@code maxStateBytes} = 64 MiB, a quarter of it, as
 * docs/core.md advises) the flood is refused with LIMIT_EXCEEDED, the node stays ready and serves
 * other clients, stops on SIGTERM, and restarts from its data directory (loading a snapshot of
 * the full state and replaying the log after it) into the same state. On today's main the flood
 * is never refused: the 5 000 enqueues do not fit the heap.
 */
class StateBudgetProcessTest {
    private static final long BUDGET = 64L << 20;

    private record Node(Process process, int api, int http) {}

    private static Node start(Path dir, int raft, int api, int line, int http) throws IOException {
        Files.createDirectories(dir.resolve("jtmp"));
        List<String> cmd = new ArrayList<>(NodeJvm.java());
        cmd.addAll(List.of(
                "-Xmx256m", "-XX:+ExitOnOutOfMemoryError", "-Djava.io.tmpdir=" + dir.resolve("jtmp"),
                "-cp", System.getProperty("java.class.path"), ServerCommand.class.getName(),
                "--node-id", "n1", "--data-dir", dir.resolve("data").toString(),
                "--raft-port", Integer.toString(raft), "--api-port", Integer.toString(api),
                "--line-port", Integer.toString(line), "--http-port", Integer.toString(http),
                "--limit", "maxStateBytes=" + BUDGET));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("out.log").toFile())).start();
        return new Node(p, api, http);
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void awaitReady(Node n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (true) {
            assertThat(n.process().isAlive()).as("the server process is alive").isTrue();
            try {
                if (get(n.http(), "/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            assertThat(System.nanoTime()).as("ready within 3 minutes").isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private static long gauge(String metrics, String name) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ") || (name.contains("{") && line.startsWith(name))) {
                return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no " + name + " in the metrics");
    }

    private static int stop(Process p) throws InterruptedException {
        p.toHandle().destroy(); // SIGTERM
        assertThat(p.waitFor(90, TimeUnit.SECONDS)).as("stopped by SIGTERM within 90 s").isTrue();
        return p.exitValue();
    }

    @Test
    void theFloodIsRefusedAtTheBudgetAndTheNodeStaysHealthyStopsAndRestarts(@TempDir Path dir) throws Exception {
        int raft = ProcessCluster.freePort();
        int api = ProcessCluster.freePort();
        int line = ProcessCluster.freePort();
        int http = ProcessCluster.freePort();
        Node n = start(dir, raft, api, line, http);
        int stored = 0;
        String refusal = null;
        long usedBytes;
        try {
            awaitReady(n);
            byte[] payload = new byte[65_536];
            try (BatonClient flood = BatonClient.builder().endpoints("127.0.0.1:" + api)
                    .retryFor(Duration.ofSeconds(60)).build()) {
                for (int i = 0; i < 5_000 && refusal == null; i++) {
                    try {
                        flood.queues().enqueue("flood", "item-" + i, payload, List.of());
                        stored++;
                    } catch (LimitExceededException e) {
                        refusal = e.getMessage();
                    }
                }
            }
            assertThat(refusal).as("refused before 5 000 items").isNotNull().contains("state budget full");
            assertThat(stored).as("items stored").isBetween(900, 1_024);
            assertThat(n.process().isAlive()).isTrue();

            // healthy: ready, metrics, and another client's pool acquire still works
            assertThat(get(http, "/health/ready").statusCode()).isEqualTo(200);
            String metrics = get(http, "/metrics").body();
            assertThat(gauge(metrics, "baton_state_bytes_limit")).isEqualTo(BUDGET);
            usedBytes = gauge(metrics, "baton_state_bytes");
            assertThat(gauge(metrics, "baton_commands_rejected_total{code=\"LIMIT_EXCEEDED\"")).as("refusals counted")
                    .isEqualTo(1);
            assertThat(usedBytes).isBetween(BUDGET - (70L << 10), BUDGET);
            try (BatonClient other = BatonClient.builder().endpoints("127.0.0.1:" + api)
                    .retryFor(Duration.ofSeconds(60)).build()) {
                assertThat(other.pools().acquire("page", 1, 5, Duration.ZERO, false).status())
                        .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
                assertThat(other.pools().release("page").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
            }
            // a snapshot of the full state, then more entries after it: the restart loads the
            // snapshot (the whole file in memory next to the state rebuilt from it) and replays the rest
            ManagedChannel admin = ManagedChannelBuilder.forTarget("127.0.0.1:" + api).usePlaintext().build();
            try {
                AdminGrpc.newBlockingStub(admin).withDeadlineAfter(120, TimeUnit.SECONDS)
                        .snapshot(SnapshotRequest.getDefaultInstance());
            } finally {
                admin.shutdownNow();
            }
            try (BatonClient more = BatonClient.builder().endpoints("127.0.0.1:" + api)
                    .retryFor(Duration.ofSeconds(60)).build()) {
                for (int i = 0; i < 20; i++) {
                    assertThat(more.pools().acquire("after-snapshot", 1, 5, Duration.ZERO, false).status())
                            .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
                    more.pools().release("after-snapshot");
                }
            }
        } finally {
            if (n.process().isAlive()) {
                stop(n.process());
            }
        }
        assertThat(Files.readString(dir.resolve("out.log"))).contains("node n1 stopped")
                .doesNotContain("OutOfMemoryError");

        // restart from the data directory: the log replays the flood into the same state, within the heap
        Node again = start(dir, raft, api, line, http);
        try {
            awaitReady(again);
            try (BatonClient c = BatonClient.builder().endpoints("127.0.0.1:" + api)
                    .retryFor(Duration.ofSeconds(60)).build()) {
                // the same items, counted the same (give or take the sessions open at either reading)
                String metrics = get(http, "/metrics").body();
                assertThat(gauge(metrics, "baton_state_bytes")).isBetween(usedBytes - 4096, usedBytes + 4096);
                assertThat(c.pools().acquire("page", 1, 5, Duration.ZERO, false).status())
                        .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
                // a full queue still drains: claims run at the budget (their answers may take it over)
                var claimed = c.queues().claim("flood", 1);
                assertThat(claimed.items()).hasSize(1);
                assertThat(claimed.items().get(0).id()).isEqualTo("item-0");
                assertThat(claimed.items().get(0).payload().length).isEqualTo(65_536);
                try {
                    c.queues().enqueue("flood", "one-more", new byte[65_536], List.of());
                    throw new AssertionError("the budget is still full after the restart");
                } catch (LimitExceededException expected) {
                    assertThat(expected.getMessage()).contains("state budget full");
                }
            }
        } finally {
            if (again.process().isAlive()) {
                stop(again.process());
            }
        }
        assertThat(Files.readString(dir.resolve("out.log"))).doesNotContain("OutOfMemoryError");
    }
}
