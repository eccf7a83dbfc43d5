package dev.baton.dist;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The release tarball without the sources (run by {@code mvn verify} once the tarball is made):
 * unpacked into a directory of its own, {@code bin/baton} reached through a symlink from another
 * directory and run from a third, a client command, then one node started with the shipped
 * {@code conf/}, ready, asked for its status, and stopped with SIGTERM. Then the node's class-data
 * sharing archive: recorded by that stop, used by the next start, and a damaged one (cut short, on
 * which the JVM would crash) left aside by the start after.
 */
class ReleaseTarballCheck {
    private static final Duration READY_WITHIN = Duration.ofSeconds(120);

    @Test
    void unpackedAndLinkedItRunsTheCommandAndANode(@TempDir Path tmp) throws Exception {
        Path tarball = Path.of(System.getProperty("baton.tarball"));
        String version = System.getProperty("baton.version");
        assertThat(tarball).exists();

        Path unpacked = Files.createDirectories(tmp.resolve("opt"));
        assertThat(run(unpacked, Map.of(), "tar", "-xzf", tarball.toString()).code).isZero();
        Path home = unpacked.resolve("baton-" + version);
        for (String f : List.of("bin/baton", "lib/baton.jar", "conf/baton.properties", "conf/jvm.options",
                "systemd/baton.service", "samples/three-hosts/n1.properties", "ops/grafana/baton-dashboard.json",
                "ops/prometheus/baton-alerts.yml", "ops/prometheus/baton-alerts.test.yml", "LICENSE")) {
            assertThat(home.resolve(f)).as(f).isRegularFile();
        }
        assertThat(Files.isExecutable(home.resolve("bin/baton"))).isTrue();

        // A link to a link, as /usr/local/bin/baton -> /opt/baton/bin/baton with /opt/baton -> baton-VERSION.
        Path current = Files.createSymbolicLink(unpacked.resolve("baton"), home);
        Path linkDir = Files.createDirectories(tmp.resolve("usr-local-bin"));
        Path baton = Files.createSymbolicLink(linkDir.resolve("baton"), current.resolve("bin/baton"));
        Path cwd = Files.createDirectories(tmp.resolve("work"));
        Map<String, String> env = Map.of(
                "JAVA_HOME", System.getProperty("java.home"),
                "BATON_CACHE_DIR", tmp.resolve("cache").toString(),
                // RocksDB and Netty extract native libraries into java.io.tmpdir: this test's own.
                "BATON_JAVA_OPTS", "-Xms256m -Xmx256m -Djava.io.tmpdir=" + Files.createDirectories(tmp.resolve("jtmp")));

        Result help = run(cwd, env, baton.toString(), "--help");
        assertThat(help.code).as(help.out).isZero();
        assertThat(help.out).contains("Usage: baton").contains("server");

        List<Integer> ports = freePorts(4);
        Path log = tmp.resolve("node.log");
        Path cache = tmp.resolve("cache");
        Process node = startNode(baton, cwd, env, ports, log);
        try {
            assertThat(waitReady(ports.get(2), node)).as(read(log)).isTrue();
            // bin/baton exec'd the JVM with the shipped conf/: its flags and --config.
            List<String> jvmArgs = arguments(node);
            if (!jvmArgs.isEmpty()) {
                assertThat(jvmArgs).contains("-XX:+AlwaysPreTouch", "-XX:+ExitOnOutOfMemoryError", "--config")
                        .doesNotContain("-Xms1g", "-Xmx1g"); // BATON_JAVA_OPTS's heap replaced the file's
                // no archive yet: this run records one when it exits
                assertThat(jvmArgs).anyMatch(a -> a.startsWith("-XX:ArchiveClassesAtExit=" + cache + "/server-"));
            }
            assertThat(cwd.resolve("data")).isDirectory();

            Result status = run(cwd, env, baton.toString(), "status", "-e", "127.0.0.1:" + ports.get(0));
            assertThat(status.code).as(status.out).isZero();
            assertThat(status.out).contains("leader");
            // The client commands' archive, recorded by a run of its own before the first of them.
            try (var files = Files.list(cache)) {
                assertThat(files.map(f -> f.getFileName().toString())).anyMatch(n -> n.startsWith("cli-") && n.endsWith(".jsa"));
            }

            stop(node, log);
        } finally {
            node.destroyForcibly();
        }
        assertThat(serverFiles(cache, ".part")).as("the archive recorded at the stop").hasSize(1);

        // The next start checks the recorded archive, keeps it (its size in its name) and uses it.
        log = tmp.resolve("node-2.log");
        node = startNode(baton, cwd, env, ports, log);
        Path archive;
        try {
            assertThat(waitReady(ports.get(2), node)).as(read(log)).isTrue();
            assertThat(serverFiles(cache, ".part")).isEmpty();
            assertThat(serverFiles(cache, ".jsa")).hasSize(1);
            archive = serverFiles(cache, ".jsa").get(0);
            assertThat(archive.getFileName().toString()).endsWith("-" + Files.size(archive) + ".jsa");
            List<String> jvmArgs = arguments(node);
            if (!jvmArgs.isEmpty()) {
                assertThat(jvmArgs).contains("-XX:SharedArchiveFile=" + archive)
                        .noneMatch(a -> a.startsWith("-XX:ArchiveClassesAtExit"));
            }
            stop(node, log);
        } finally {
            node.destroyForcibly();
        }

        // An archive cut short (a stop killed while the JVM wrote it, a full disk) would crash the JVM
        // that maps it: the start leaves it aside, runs without, and records a new one.
        archive.toFile().setWritable(true);
        try (var f = new java.io.RandomAccessFile(archive.toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        log = tmp.resolve("node-3.log");
        node = startNode(baton, cwd, env, ports, log);
        try {
            assertThat(waitReady(ports.get(2), node)).as(read(log)).isTrue();
            assertThat(archive).doesNotExist();
            List<String> jvmArgs = arguments(node);
            if (!jvmArgs.isEmpty()) {
                assertThat(jvmArgs).noneMatch(a -> a.startsWith("-XX:SharedArchiveFile"))
                        .anyMatch(a -> a.startsWith("-XX:ArchiveClassesAtExit="));
            }
            stop(node, log);
        } finally {
            node.destroyForcibly();
        }
    }

    private static Process startNode(Path baton, Path cwd, Map<String, String> env, List<Integer> ports, Path log)
            throws IOException {
        ProcessBuilder pb = new ProcessBuilder(baton.toString(), "server", "--data-dir", "data",
                "--api-port", "" + ports.get(0), "--line-port", "" + ports.get(1),
                "--http-port", "" + ports.get(2), "--raft-port", "" + ports.get(3))
                .directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().remove("BATON_JAR");
        pb.environment().remove("BATON_CDS");
        pb.environment().putAll(env);
        return pb.start();
    }

    /** SIGTERM, and the exit of a clean stop. */
    private static void stop(Process node, Path log) throws Exception {
        node.destroy();
        assertThat(node.waitFor(60, TimeUnit.SECONDS)).as(read(log)).isTrue();
        // The JVM's status for SIGTERM once its shutdown hook closed the node (the unit counts it a success).
        assertThat(node.exitValue()).as(read(log)).isIn(0, 143);
        assertThat(read(log)).contains("node n1 stopped");
    }

    /** The JVM's arguments (bin/baton exec'd it: same process), or none where the system does not tell. */
    private static List<String> arguments(Process node) {
        return List.of(node.toHandle().info().arguments().orElse(new String[0]));
    }

    /** The node's archive files in the cache directory whose names end with {@code suffix}. */
    private static List<Path> serverFiles(Path cache, String suffix) throws IOException {
        if (!Files.isDirectory(cache)) {
            return List.of();
        }
        try (var files = Files.list(cache)) {
            return files.filter(f -> f.getFileName().toString().startsWith("server-")
                    && f.getFileName().toString().endsWith(suffix)).toList();
        }
    }

    private static boolean waitReady(int httpPort, Process node) throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/health/ready"))
                .timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + READY_WITHIN.toNanos();
        while (System.nanoTime() < deadline && node.isAlive()) {
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return true;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        return false;
    }

    private static List<Integer> freePorts(int n) throws IOException {
        Set<Integer> ports = new LinkedHashSet<>();
        while (ports.size() < n) {
            try (ServerSocket s = new ServerSocket(0)) {
                ports.add(s.getLocalPort());
            }
        }
        return new ArrayList<>(ports);
    }

    private record Result(int code, String out) {}

    private static Result run(Path cwd, Map<String, String> env, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true);
        pb.environment().remove("BATON_JAR");
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file) : "";
    }
}
