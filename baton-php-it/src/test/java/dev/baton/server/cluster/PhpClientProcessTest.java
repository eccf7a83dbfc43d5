package dev.baton.server.cluster;

import dev.baton.client.BatonClient;
import dev.baton.client.DispatchGroup;
import dev.baton.client.DispatchTarget;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PHP client in clients/php against real {@code baton server} processes over the HTTP/JSON API:
 * its phpunit suite, then three {@code php dispatchChanges.php} processes over 20 targets with the
 * leader killed mid-run. One three-node {@link ProcessCluster} (this class sits in its package to use
 * it) serves both. Skipped, saying why, only when php, its curl extension or phpunit is missing
 * ({@code ./test} installs them). Conditions are polled with generous bounds; durations never decide
 * the outcome.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PhpClientProcessTest {
    /** For a cluster's first leader, and a JVM's start: a loaded 2-core box may take over 30 s. */
    private static final long START_MS = 120_000;
    private static final int TARGETS = 20;
    /** Changes in the feed before the leader is killed, and in all. */
    private static final int FIRST_PART = 100;
    private static final int FEED_END = 300;

    private static Path phpDir;
    private static Path root;
    private static ProcessCluster cluster;

    @BeforeAll
    static void start() throws Exception {
        phpDir = Path.of(System.getProperty("baton.php.dir", "../clients/php")).toAbsolutePath().normalize();
        String missing = missingTools();
        Assumptions.assumeTrue(missing == null, () -> "SKIPPED: " + missing
                + " (./test installs php-cli, php-curl and phpunit; on Debian: apt-get install php-cli php-curl phpunit)");
        root = Files.createTempDirectory("baton-php-it-");
        cluster = new ProcessCluster(root, 3).startAll();
        cluster.awaitLeader(START_MS).orElseThrow(() -> new AssertionError("no leader\n" + cluster.logs()));
    }

    @AfterAll
    static void stop() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
        if (root != null) {
            try (var files = Files.walk(root)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Why the PHP tests cannot run here, or null if they can. */
    private static String missingTools() {
        try {
            if (run(List.of("php", "-r", "exit(extension_loaded('curl') && extension_loaded('json') ? 0 : 3);"), phpDir, Map.of(), 60).exit != 0) {
                return "php's curl extension is not installed";
            }
            if (run(List.of("phpunit", "--version"), phpDir, Map.of(), 60).exit != 0) {
                return "phpunit does not run";
            }
            return null;
        } catch (IOException e) {
            return "php or phpunit is not installed (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    private static String httpEndpoints() {
        return httpEndpoints(0);
    }

    /** The nodes' HTTP ports, starting with node {@code first}: each dispatcher starts on another node. */
    private static String httpEndpoints(int first) {
        List<ProcessCluster.NodeProc> nodes = cluster.nodes();
        return IntStream.range(0, nodes.size()).mapToObj(i -> "127.0.0.1:" + nodes.get((first + i) % nodes.size()).httpPort)
                .collect(Collectors.joining(","));
    }

    @Test
    @Order(1)
    void thePhpunitSuitePassesAgainstRealNodes() throws Exception {
        Ran r = run(List.of("phpunit", "--configuration", "phpunit.xml.dist"), phpDir,
                Map.of("BATON_HTTP_ENDPOINTS", httpEndpoints(), "BATON_REQUIRE_SERVER", "1"), 300);
        System.out.println("---- phpunit\n" + r.output);
        assertThat(r.exit).as("phpunit's exit code; output:\n%s\n%s", r.output, cluster.logs()).isZero();
        // Every server test ran: none skipped for want of a node.
        assertThat(r.output).contains("OK (").doesNotContain("Skipped");
    }

    @Test
    @Order(2)
    void threePhpDispatchersServeEveryTargetWithTheLeaderKilled() throws Exception {
        Path sink = Files.createDirectories(root.resolve("sink"));
        Path feed = root.resolve("feed.txt");
        Files.writeString(feed, ids(1, FIRST_PART));
        List<Process> dispatchers = new ArrayList<>();
        List<Path> outputs = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            Path out = root.resolve("dispatcher" + i + ".out");
            outputs.add(out);
            dispatchers.add(new ProcessBuilder("php", phpDir.resolve("examples/dispatchChanges.php").toString(),
                    "--endpoints", httpEndpoints(i - 1), "--group", "php-dispatch", "--targets", Integer.toString(TARGETS),
                    "--feed", feed.toString(), "--sink", sink.toString(), "--max-time", "300", "--idle-delay", "0.2",
                    "--batch-size", "10", "--dispatch-interval", "0", "--randomness", "5", "--session-ttl", "10000",
                    "--exit-when-done")
                    .redirectErrorStream(true).redirectOutput(out.toFile()).start());
        }
        try {
            // Mid-run: some batches delivered, most of the feed still to come.
            awaitCondition("the dispatchers delivered 30 batches", () -> deliveries(sink) >= 30, dispatchers, outputs);
            ProcessCluster.NodeProc leader = cluster.awaitLeader(START_MS).orElseThrow();
            cluster.kill(leader);
            System.out.println("killed the leader " + leader.id + " after " + deliveries(sink) + " batches");
            Files.writeString(feed, ids(FIRST_PART + 1, FEED_END) + "end\n", StandardOpenOption.APPEND);

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            for (Process p : dispatchers) {
                long left = Math.max(1, deadline - System.nanoTime());
                assertThat(p.waitFor(left, TimeUnit.NANOSECONDS))
                        .as("a dispatcher still runs; outputs:\n%s\n%s", outputs(outputs), cluster.logs()).isTrue();
            }
        } finally {
            for (Process p : dispatchers) {
                p.destroyForcibly();
            }
        }
        String out = outputs(outputs);
        System.out.println("---- dispatchers\n" + out);
        for (Process p : dispatchers) {
            assertThat(p.exitValue()).as("exit code; outputs:\n%s", out).isZero();
        }

        // No target served by two dispatchers at once.
        assertThat(sink.resolve("violations.log")).as("flock violations").doesNotExist();
        for (int t = 1; t <= TARGETS; t++) {
            checkTarget(sink.resolve("client" + t + ".log"), "client" + t);
        }
        // Baton's own state (read over gRPC) agrees: every cursor at the feed's end, nothing locked.
        try (BatonClient java = BatonClient.builder().endpoints(cluster.nodes().stream().filter(ProcessCluster.NodeProc::alive)
                .map(ProcessCluster.NodeProc::api).toArray(String[]::new)).retryFor(Duration.ofSeconds(60)).build()) {
            DispatchGroup g = java.dispatch().get("php-dispatch");
            assertThat(g.head()).isEqualTo(FEED_END);
            assertThat(g.targets()).hasSize(TARGETS);
            for (DispatchTarget target : g.targets()) {
                assertThat(target.seen()).as("cursor of %s", target.id()).isEqualTo(FEED_END);
                assertThat(target.holder()).as("holder of %s", target.id()).isZero();
            }
        }
    }

    /**
     * One target's deliveries ({@code <cursor> <first> <last> <count> <fence> <pid>} per batch): each
     * starts where the stored cursor was, the cursor never goes back, each batch continues the
     * previous one (or repeats it, after a lost release), and the last one reaches the feed's end.
     */
    private static void checkTarget(Path file, String target) throws IOException {
        assertThat(file).as("deliveries of %s", target).exists();
        List<String> lines = Files.readAllLines(file);
        long prevSeen = -1;
        long prevLast = 0;
        long prevFence = 0;
        for (String line : lines) {
            String[] f = line.trim().split(" ");
            long seen = Long.parseLong(f[0]);
            long first = Long.parseLong(f[1]);
            long last = Long.parseLong(f[2]);
            long fence = Long.parseLong(f[4]);
            assertThat(first).as("%s: %s", target, line).isEqualTo(seen + 1);
            assertThat(last).as("%s: %s", target, line).isGreaterThanOrEqualTo(first);
            assertThat(seen).as("%s: the cursor went back: %s after %s", target, line, lines).isGreaterThanOrEqualTo(prevSeen);
            if (prevSeen >= 0) {
                assertThat(seen == prevLast || seen == prevSeen)
                        .as("%s: %s does not continue the previous batch (%s)", target, line, lines).isTrue();
            }
            assertThat(fence).as("%s: fences grow: %s", target, lines).isGreaterThan(prevFence);
            prevSeen = seen;
            prevLast = last;
            prevFence = fence;
        }
        assertThat(prevLast).as("%s caught up: %s", target, lines).isEqualTo(FEED_END);
    }

    private static long deliveries(Path sink) throws IOException {
        long n = 0;
        for (int t = 1; t <= TARGETS; t++) {
            Path f = sink.resolve("client" + t + ".log");
            if (Files.exists(f)) {
                n += Files.readAllLines(f).size();
            }
        }
        return n;
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitCondition(String what, Check check, List<Process> dispatchers, List<Path> outputs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!check.ok()) {
            for (Process p : dispatchers) {
                if (!p.isAlive()) {
                    throw new AssertionError("a dispatcher ended early (exit " + p.exitValue() + ") waiting for: " + what
                            + "\n" + outputs(outputs) + "\n" + cluster.logs());
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what + "\n" + outputs(outputs) + "\n" + cluster.logs());
            }
            Thread.sleep(100);
        }
    }

    private static String ids(int from, int to) {
        return IntStream.rangeClosed(from, to).mapToObj(Integer::toString).collect(Collectors.joining("\n", "", "\n"));
    }

    private static String outputs(List<Path> outputs) throws IOException {
        StringBuilder b = new StringBuilder();
        for (Path p : outputs) {
            b.append("-- ").append(p.getFileName()).append('\n');
            if (Files.exists(p)) {
                b.append(Files.readString(p));
            }
        }
        return b.toString();
    }

    private record Ran(int exit, String output) {}

    private static Ran run(List<String> cmd, Path dir, Map<String, String> env, long timeoutSeconds)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Path out = Files.createTempFile("baton-php-", ".out");
        try {
            Process p = pb.redirectOutput(out.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                return new Ran(-1, Files.readString(out, StandardCharsets.UTF_8) + "\n(killed after " + timeoutSeconds + " s)");
            }
            return new Ran(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
