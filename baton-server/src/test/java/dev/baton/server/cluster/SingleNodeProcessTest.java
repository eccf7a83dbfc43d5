package dev.baton.server.cluster;

import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.server.ServerCommand;
import dev.baton.server.NodeJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import dev.baton.server.line.LineClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code baton server} with no arguments at all, as a user first runs it: a single node on
 * 127.0.0.1 with the default ports (7530 gRPC, 7531 PoolCounter, 7532 HTTP, 7533 Raft) and its data in {@code ./baton-data};
 * a client acquires and releases; the server stops on SIGTERM and restarts with its state.
 */
class SingleNodeProcessTest {

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket(port, 50, InetAddress.getByName("127.0.0.1"))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Process start(Path cwd) throws IOException {
        Files.createDirectories(cwd.resolve("jtmp"));
        List<String> cmd = new ArrayList<>(NodeJvm.java());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ServerCommand.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(cwd.resolve("out.log").toFile()));
        pb.environment().put("JAVA_TOOL_OPTIONS", "-Djava.io.tmpdir=" + cwd.resolve("jtmp"));
        return pb.start();
    }

    private static void stop(Process p) throws InterruptedException {
        p.toHandle().destroy(); // SIGTERM
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    @Test
    void startsWithNoArgumentsServesAClientAndKeepsItsStateAcrossARestart(@TempDir Path cwd) throws Exception {
        assumeTrue(free(7530) && free(7531) && free(7532) && free(7533),
                "the default ports 7530, 7531, 7532 and 7533 are not all free on this machine");
        Set<Long> lost = ConcurrentHashMap.newKeySet();
        Process p = start(cwd);
        try (BatonClient client = BatonClient.builder().endpoints("127.0.0.1:7530").retryFor(Duration.ofSeconds(60))
                .onSessionLost(e -> lost.add(e.sessionId())).build()) {
            assertThat(client.pools().acquire("page", 1, 5, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            assertThat(client.pools().release("page").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
            try (LineClient pc = new LineClient(7531)) { // poolcounterd's port, on by default
                assertThat(pc.call("ACQ4ME page 1 5 0")).isEqualTo("LOCKED");
                assertThat(client.pools().acquire("page", 1, 5, Duration.ZERO, false).status())
                        .isEqualTo(dev.baton.client.PoolStatus.TIMEOUT); // one pool, whichever door
                assertThat(pc.call("RELEASE")).isEqualTo("RELEASED");
            }
            // The HTTP port is on by default too: ready (leader known, everything applied), and metrics.
            var http = java.net.http.HttpClient.newHttpClient();
            var ready = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                    "http://127.0.0.1:7532/health/ready")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            var metrics = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                    "http://127.0.0.1:7532/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.body()).contains("baton_pool_acquires_total{node=\"n1\",result=\"locked\"} 2.0");
            var held = client.locks().acquire("m", Duration.ZERO);
            assertThat(held.status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);
            client.dispatch().init("feed", Map.of("enwiki", "enwiki_db"));
            client.dispatch().advance("feed", 77);
            assertThat(Files.isDirectory(cwd.resolve("baton-data").resolve("log"))).isTrue();

            stop(p);
            // the JVM's usual 143 for SIGTERM, after the shutdown hook closed the node
            assertThat(Files.readString(cwd.resolve("out.log"))).contains("node n1 stopped");
            p = start(cwd);

            // The same session (a restart renews every lease) still holds the lock with its fence.
            var lock = client.locks().get("m");
            assertThat(lock.holder()).isEqualTo(client.sessionId());
            assertThat(lock.fence()).isEqualTo(held.fence());
            assertThat(client.dispatch().get("feed").head()).isEqualTo(77);
            assertThat(client.locks().release("m", held.fence()).status()).isEqualTo(dev.baton.client.LockStatus.UNLOCKED);
        } finally {
            stop(p);
        }
        assertThat(lost).isEmpty();
        assertThat(Files.readString(cwd.resolve("out.log"))).contains("serving gRPC on 127.0.0.1:7530")
                .contains("PoolCounter on 127.0.0.1:7531").contains("HTTP on 127.0.0.1:7532");
    }
}
