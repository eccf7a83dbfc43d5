package dev.baton.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code baton server} as a real process: starts, elects itself, stops on SIGTERM, restarts on its data. */
class ServerProcessTest {

    @Test
    void startsStopsOnSigtermAndRestartsOnTheSameDataDir(@TempDir Path tmp) throws Exception {
        int port = dev.baton.server.TestPorts.free();
        Path data = tmp.resolve("data");
        for (int run = 0; run < 2; run++) {
            Process p = start(tmp, data, port);
            BlockingQueue<String> lines = drain(p);
            assertThat(awaitLine(lines, "leader is 127.0.0.1:" + port + " (this node)"))
                    .as("run %d output", run).isTrue();
            p.toHandle().destroy(); // SIGTERM (Process.destroy() would also close our end of its output)
            boolean exited = p.waitFor(60, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
            }
            assertThat(exited).as("exited on SIGTERM; output after the leader line: %s", new ArrayList<>(lines)).isTrue();
            List<String> seen = new ArrayList<>();
            assertThat(awaitLine(lines, "node n1 stopped", seen)).as("exit %d, output after SIGTERM: %s", p.exitValue(), seen).isTrue();
            assertThat(Files.list(data.resolve("log")).count()).isPositive();
        }
    }

    @Test
    void badPeersAreRefusedWithAClearError(@TempDir Path tmp) throws Exception {
        Process p = new ProcessBuilder(command(tmp.resolve("d"), 7533, "--node-id", "n9", "--peers",
                "n1=127.0.0.1:1,n2=127.0.0.1:2")).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(out).contains("--node-id n9 is not among --peers");
    }

    private static Process start(Path tmp, Path data, int port) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command(data, port)).redirectErrorStream(true);
        // a per-run tmp dir: RocksDB extracts its native library there, and a killed JVM leaves it behind
        Files.createDirectories(tmp.resolve("jtmp"));
        pb.environment().put("JAVA_TOOL_OPTIONS", "-Djava.io.tmpdir=" + tmp.resolve("jtmp"));
        return pb.start();
    }

    private static int freePort() {
        return dev.baton.server.TestPorts.free();
    }

    private static List<String> command(Path data, int port, String... extra) {
        List<String> cmd = new ArrayList<>(NodeJvm.java());
        cmd.addAll(List.of(
                "-cp", System.getProperty("java.class.path"), ServerCommand.class.getName(),
                "--data-dir", data.toString(), "--raft-port", Integer.toString(port),
                "--api-port", Integer.toString(freePort()), "--line-port", Integer.toString(freePort()),
                "--http-port", Integer.toString(freePort())));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    private static BlockingQueue<String> drain(Process p) {
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    q.add(line);
                }
            } catch (IOException ignored) {
                // process gone
            }
        });
        t.setDaemon(true);
        t.start();
        return q;
    }

    /** Waits (generously) for an output line containing {@code text}. */
    private static boolean awaitLine(BlockingQueue<String> lines, String text) throws InterruptedException {
        return awaitLine(lines, text, new ArrayList<>());
    }

    private static boolean awaitLine(BlockingQueue<String> lines, String text, List<String> seen)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120); // a loaded machine starts JVMs slowly
        while (System.nanoTime() < deadline) {
            String l = lines.poll(1, TimeUnit.SECONDS);
            if (l != null) {
                seen.add(l);
                if (l.contains(text)) {
                    return true;
                }
            }
        }
        return false;
    }
}
