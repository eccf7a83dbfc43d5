package dev.baton.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code baton server} as a real process that cannot start, or starts quietly: a port in use is
 * named with its option, a bad {@code --config} key is named, neither leaves anything on disk, and
 * a healthy single-node start prints Baton's own lines and nothing else.
 */
class StartupErrorsProcessTest {

    @ParameterizedTest(name = "{0} in use")
    @ValueSource(strings = {"--api-port", "--line-port", "--http-port", "--raft-port"})
    void aPortInUseIsNamedWithItsOptionAndNothingIsCreated(String option, @TempDir Path tmp) throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            Map<String, Integer> ports = freePorts();
            ports.put(option, port);
            Path data = tmp.resolve("parent").resolve("data");
            Result r = run(tmp, data, ports);
            assertThat(r.exitCode).as(r.output).isNotZero();
            assertThat(r.output).contains(option + " " + port + " is in use").contains("Address already in use");
            assertThat(tmp.resolve("parent")).as("a failed start leaves no data directory").doesNotExist();
        }
    }

    @Test
    void anUnknownConfigKeyIsAnErrorNamingItAndNothingIsCreated(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("node.properties");
        Files.writeString(config, "node-id=n1\napi_port=7540\n");
        Path data = tmp.resolve("data");
        Result r = run(tmp, data, freePorts(), "--config", config.toString());
        assertThat(r.exitCode).as(r.output).isEqualTo(2);
        assertThat(r.output).contains("unknown key api_port").contains("api-port");
        assertThat(data).doesNotExist();
    }

    @Test
    void aMissingConfigFileIsAnError(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("data");
        Result r = run(tmp, data, freePorts(), "--config", tmp.resolve("nope.properties").toString());
        assertThat(r.exitCode).as(r.output).isEqualTo(2);
        assertThat(r.output).contains("nope.properties").contains("no such file");
        assertThat(data).doesNotExist();
    }

    @Test
    void aDefaultStartPrintsOnlyBatonsOwnLines(@TempDir Path tmp) throws Exception {
        Map<String, Integer> ports = freePorts();
        Process p = new ProcessBuilder(command(tmp, tmp.resolve("data"), ports)).redirectErrorStream(true).start();
        BlockingQueue<String> lines = drain(p);
        List<String> seen = new ArrayList<>();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            boolean led = false;
            while (!led && System.nanoTime() < deadline) {
                String l = lines.poll(1, TimeUnit.SECONDS);
                if (l != null) {
                    seen.add(l);
                    led = l.contains("leader is");
                }
            }
            assertThat(led).as("started and elected itself: %s", seen).isTrue();
            Thread.sleep(2_000); // whatever the engine logs right after the election
        } finally {
            p.toHandle().destroy(); // SIGTERM
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        Thread.sleep(500);
        lines.drainTo(seen);
        assertThat(seen).as("every line of a healthy start is Baton's own").allSatisfy(l ->
                assertThat(l).startsWith("baton server: "));
    }

    // ---- helpers --------------------------------------------------------------------------------

    private record Result(int exitCode, String output) {
    }

    /** Four ports, never one twice (the system may hand out a port again as soon as it is closed). */
    private static Map<String, Integer> freePorts() {
        Map<String, Integer> ports = new LinkedHashMap<>();
        for (String o : List.of("--api-port", "--line-port", "--http-port", "--raft-port")) {
            ports.put(o, TestWaits.freePort());
        }
        return ports;
    }

    private static List<String> command(Path tmp, Path data, Map<String, Integer> ports, String... extra)
            throws IOException {
        Files.createDirectories(tmp.resolve("jtmp"));
        List<String> cmd = new ArrayList<>(NodeJvm.java());
        cmd.addAll(List.of(
                "-Djava.io.tmpdir=" + tmp.resolve("jtmp"), "-cp", System.getProperty("java.class.path"),
                ServerCommand.class.getName(), "--data-dir", data.toString()));
        ports.forEach((option, port) -> cmd.addAll(List.of(option, Integer.toString(port))));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    /** Runs a server that is expected to exit on its own (generously: a loaded machine starts JVMs slowly). */
    private static Result run(Path tmp, Path data, Map<String, Integer> ports, String... extra) throws Exception {
        Process p = new ProcessBuilder(command(tmp, data, ports, extra)).redirectErrorStream(true).start();
        java.util.concurrent.CompletableFuture<String> out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        boolean exited = p.waitFor(180, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        String output = out.get(30, TimeUnit.SECONDS);
        assertThat(exited).as("the server should have exited; it printed %s", output).isTrue();
        return new Result(p.exitValue(), output);
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
}
