package dev.baton.server.cluster;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.MemberRequest;
import dev.baton.server.cluster.ProcessCluster.NodeProc;
import dev.baton.server.line.LineClient;
import io.grpc.ManagedChannelBuilder;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Wall-clock steps on real {@code baton server} processes, made with libfaketime (Debian package
 * {@code faketime}; {@code ./test} installs it): each node runs with {@code LD_PRELOAD} of the
 * library and re-reads its clock offset from a file every second ({@code FAKETIME_CACHE_DURATION=1},
 * cheaper than {@code FAKETIME_NO_CACHE=1}, which reads it on every call), so a running JVM can be
 * stepped (the test waits until the node's own clock shows the step); the monotonic clock is left alone
 * ({@code FAKETIME_DONT_FAKE_MONOTONIC=1}), as a real {@code date -s} or NTP step leaves it.
 *
 * <p>A client holds a key of one worker for the whole test; other clients wait for it with a
 * timeout of {@value #TIMEOUT_S} s while the leader's wall clock is stepped back 10 minutes,
 * forward 1 hour, or the lead passes to a node whose clock is 30 s behind. Every wait must end with
 * {@code TIMEOUT} (never {@code LOCKED}: the key never has two holders) no earlier than its
 * timeout − {@value #EARLY_BOUND_MS} ms and no later than its timeout + {@value #LATE_BOUND_MS} ms,
 * measured by the test's own monotonic clock; the holder's session never expires. The bounds are
 * about the correctness of time (before the fix a step back froze waits for the size of the step,
 * a step forward ended them at once, a leader change to a node behind froze them for the skew),
 * generous enough for a loaded box.
 * Skipped with a message where libfaketime is not installed or the JVM does not run under it.
 */
class ClockStepProcessTest {
    private static final int TIMEOUT_S = 5;
    /** No wait may end earlier than its timeout minus this (a loaded box only makes waits later). */
    private static final long EARLY_BOUND_MS = 2_000;
    /**
     * No wait may end later than its timeout plus this. Generous because a box running many JVMs at
     * once answers seconds late (seen: 3 s late with no step at all, at a load of 40 on 2 cores),
     * yet far below what bent time did before: a step back froze waits for the size of the step
     * (10 minutes), a leader change to a node 30 s behind for 30 s.
     */
    private static final long LATE_BOUND_MS = 10_000;
    private static final String KEY = "clock-key";

    private static Path libfaketime;

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void findLibfaketime() throws Exception {
        List<Path> candidates = new ArrayList<>();
        for (Path dir : List.of(Path.of("/usr/lib"), Path.of("/usr/local/lib"))) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.walk(dir, 3)) {
                    s.filter(p -> p.getFileName().toString().equals("libfaketime.so.1")).forEach(candidates::add);
                }
            }
        }
        Assumptions.assumeFalse(candidates.isEmpty(),
                "libfaketime is not installed (Debian package faketime; ./test installs it): clock-step tests skipped");
        libfaketime = candidates.get(0);
        // The JVM must start under it (it does with the monotonic clock left alone).
        Path rc = Files.createTempFile("faketime", ".rc");
        Files.writeString(rc, "-600\n");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-version").redirectErrorStream(true);
        pb.environment().putAll(fakeEnv(rc));
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        boolean ok = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        Files.deleteIfExists(rc);
        Assumptions.assumeTrue(ok, "the JVM does not start under " + libfaketime + ": " + new String(out));
    }

    private static java.util.Map<String, String> fakeEnv(Path rc) {
        return java.util.Map.of("LD_PRELOAD", libfaketime.toString(), "FAKETIME_TIMESTAMP_FILE", rc.toString(),
                "FAKETIME_CACHE_DURATION", "1", "FAKETIME_DONT_FAKE_MONOTONIC", "1", "NO_FAKE_STAT", "1",
                // libfaketime turns its "monotonic fix" on by itself on this glibc, and with it every timed
                // wait in the JVM returns at once: an idle node burnt 2 cores (20 s of CPU in 10 s, against
                // 1 s without libfaketime), so three nodes starved each other on 2 cores, lost and
                // re-elected leaders every few seconds and answered waits 10 s late or UNAVAILABLE.
                "FAKETIME_FORCE_MONOTONIC_FIX", "0");
    }

    @Test
    void aStepBackOf10MinutesAndForwardOf1HourOnTheLeaderBendNoWait() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 1)) {
            NodeProc n = c.node(0);
            Path rc = fake(n, 0);
            c.start(n);
            c.awaitLeader(600_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            try (LineClient holder = new LineClient(n.linePort);
                 LineClient w1 = new LineClient(n.linePort);
                 LineClient w2 = new LineClient(n.linePort)) {
                assertThat(holder.call("ACQ4ME " + KEY + " 1 100 60")).isEqualTo("LOCKED");
                List<LineClient> waiters = List.of(w1, w2);

                waitRound("before any step", c, waiters, () -> {});

                step(rc, n, -600);
                waitRound("after a step back of 10 minutes", c, waiters, () -> {});
                // a wait in progress while the clock steps back
                waitRound("across a step back of 10 more minutes", c, waiters, () -> step(rc, n, -1200));

                // a wait in progress while the clock steps forward 1 h (from 20 min behind)
                waitRound("across a step forward of 1 hour", c, waiters, () -> step(rc, n, 2400));
                waitRound("after a step forward of 1 hour", c, waiters, () -> {});

                // the cluster time kept to the real time: the node's clock is now 40 min ahead of it
                awaitSkewWarning(c, n);
                assertThat(skewSeconds(n)).isBetween(-2400.0 - 60, -2400.0 + 60);
                assertThat(Files.readString(n.log())).contains("Cluster time is");

                assertThat(holder.call("RELEASE")).as("the holder's session never expired").isEqualTo("RELEASED");
                assertThat(metric(n, "baton_sessions_expired_total")).isZero();
            }
        }
    }

    @Test
    void aLeaderChangeToANode30sBehindBendsNoWait() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3)) {
            List<Path> rcs = new ArrayList<>();
            for (NodeProc n : c.nodes()) {
                rcs.add(fake(n, 0));
            }
            c.startAll();
            c.awaitLeader(600_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            for (NodeProc n : c.nodes()) {
                c.awaitStatus(n);
            }
            // On a loaded machine the first leader may still be settling (or lose the lead): the holder
            // retries as a client would, and the roles are read once it holds the key.
            try (LineClient holder = holdKey(c)) {
            NodeProc leader = c.awaitLeader(600_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            NodeProc behind = c.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
            NodeProc other = c.nodes().stream().filter(n -> n != leader && n != behind).findFirst().orElseThrow();
            step(rcs.get(c.nodes().indexOf(behind)), behind, -30);
            try (LineClient w1 = new LineClient(leader.linePort);
                 LineClient w2 = new LineClient(behind.linePort);
                 LineClient w3 = new LineClient(other.linePort)) {
                List<LineClient> waiters = List.of(w1, w2, w3);
                waitRound("before the leader change", c, waiters, () -> {});

                waitRound("across a leader change to a node 30 s behind", c, waiters, () -> {
                    var stub = AdminGrpc.newBlockingStub(channel(leader)).withDeadlineAfter(60, TimeUnit.SECONDS);
                    stub.transferLeader(MemberRequest.newBuilder().setRaftAddress(behind.raft()).build());
                    awaitLeader(c, behind);
                });
                waitRound("with the node 30 s behind leading", c, waiters, () -> {});

                assertThat(holder.call("RELEASE")).as("the holder's session never expired").isEqualTo("RELEASED");
                for (NodeProc n : c.nodes()) {
                    assertThat(metric(n, "baton_sessions_expired_total")).as(n.id).isZero();
                }
            }
            }
        }
    }

    /** A line connection holding {@link #KEY} (workers 1), retried while the cluster is not ready. */
    private static LineClient holdKey(ProcessCluster c) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        String last = null;
        while (System.nanoTime() < deadline) {
            for (NodeProc n : c.nodes()) {
                LineClient client = new LineClient(n.linePort);
                try {
                    last = client.call("ACQ4ME " + KEY + " 1 100 120");
                    if ("LOCKED".equals(last)) {
                        return client;
                    }
                } catch (RuntimeException e) {
                    last = e.toString();
                }
                client.close();
            }
            Thread.sleep(500);
        }
        throw new AssertionError("no node granted the key in 300 s; last answer " + last + "\n" + c.logs());
    }

    // ---- a round of waits ------------------------------------------------------------------------

    /**
     * Each waiter asks for the held key with {@value #TIMEOUT_S} s; once all are queued, {@code during}
     * runs (a clock step, a leader change); every answer must be TIMEOUT within the timeout ± the bound.
     */
    private void waitRound(String label, ProcessCluster c, List<LineClient> waiters, Step during) throws Exception {
        List<Long> sent = new ArrayList<>();
        for (LineClient w : waiters) {
            sent.add(System.nanoTime());
            w.send("ACQ4ME " + KEY + " 1 100 " + TIMEOUT_S);
        }
        for (LineClient w : waiters) {
            w.assertNothingPending(); // queued: the wait is in the log
        }
        // The readers start before the step: an answer is timed when it arrives, however long the step takes.
        List<CompletableFuture<Reply>> replies = new ArrayList<>();
        ExecutorService readers = Executors.newCachedThreadPool(); // one thread per waiter: arrival times count
        try {
            for (LineClient w : waiters) {
                replies.add(CompletableFuture.supplyAsync(() -> new Reply(w.read(), System.nanoTime()), readers));
            }
        } finally {
            readers.shutdown();
        }
        during.run();
        List<String> outcomes = new ArrayList<>();
        for (int i = 0; i < waiters.size(); i++) {
            Reply r;
            try {
                r = replies.get(i).get(120, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError(label + ": waiter " + i + " got no answer: " + e + "\n" + c.logs(), e);
            }
            String reply = r.line();
            long ms = TimeUnit.NANOSECONDS.toMillis(r.atNanos() - sent.get(i));
            outcomes.add(reply + " after " + ms + " ms");
            assertThat(reply).as(label + ": the key has one worker and its holder still holds it").isEqualTo("TIMEOUT");
            assertThat(ms).as(label + ": waiter " + i + " with a timeout of " + TIMEOUT_S + " s")
                    .isBetween(TIMEOUT_S * 1000L - EARLY_BOUND_MS, TIMEOUT_S * 1000L + LATE_BOUND_MS);
        }
        System.out.println("[ClockStepProcessTest] " + label + ": " + outcomes);
    }

    private record Reply(String line, long atNanos) {}

    @FunctionalInterface
    private interface Step {
        void run() throws Exception;
    }

    // ---- clocks ----------------------------------------------------------------------------------

    /** Runs the node under libfaketime with its offset in a file (seconds); returns the file. */
    private Path fake(NodeProc n, long offsetSeconds) throws IOException {
        Files.createDirectories(n.dir);
        Path rc = n.dir.resolve("faketime.rc");
        writeOffset(rc, offsetSeconds);
        n.env.putAll(fakeEnv(rc));
        return rc;
    }

    private static void writeOffset(Path rc, long offsetSeconds) throws IOException {
        Path t = rc.resolveSibling(rc.getFileName() + ".tmp");
        Files.writeString(t, (offsetSeconds >= 0 ? "+" : "") + offsetSeconds + "\n");
        Files.move(t, rc, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Steps the node's wall clock to real time + offset and waits until the node's own clock says so. */
    private void step(Path rc, NodeProc n, long offsetSeconds) throws Exception {
        writeOffset(rc, offsetSeconds);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            long nodeNow = jsonLong(get(n, "/api/cluster"), "now");
            long off = nodeNow - System.currentTimeMillis();
            if (Math.abs(off - offsetSeconds * 1000) < 5_000) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(n.id + "'s clock is " + off + " ms off, not " + offsetSeconds + " s: "
                        + "libfaketime does not step it");
            }
            Thread.sleep(100);
        }
    }

    private void awaitSkewWarning(ProcessCluster c, NodeProc n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!get(n, "/api/cluster").contains("\"clockSkewWarning\":true")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no clock skew warning on " + n.id + "\n" + c.logs());
            }
            Thread.sleep(200);
        }
    }

    private double skewSeconds(NodeProc n) throws Exception {
        return metric(n, "baton_clock_skew_seconds");
    }

    // ---- plumbing --------------------------------------------------------------------------------

    private static void awaitLeader(ProcessCluster c, NodeProc n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (true) {
            Optional<NodeProc> l = c.awaitLeader(1_000);
            if (l.isPresent() && l.get() == n) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(n.id + " did not take the lead\n" + c.logs());
            }
        }
    }

    private static io.grpc.ManagedChannel channel(NodeProc n) {
        if (n.channel == null) {
            n.channel = ManagedChannelBuilder.forTarget(n.api()).usePlaintext().build();
        }
        return n.channel;
    }

    private String get(NodeProc n, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(n.http() + path))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path).isEqualTo(200);
        return r.body();
    }

    private double metric(NodeProc n, String name) throws Exception {
        Matcher m = Pattern.compile("(?m)^" + name + "(\\{[^}]*})? (\\S+)$").matcher(get(n, "/metrics"));
        assertThat(m.find()).as(name + " in /metrics of " + n.id).isTrue();
        return Double.parseDouble(m.group(2));
    }

    private static long jsonLong(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":(-?\\d+)").matcher(json);
        assertThat(m.find()).as(field + " in " + json).isTrue();
        return Long.parseLong(m.group(1));
    }
}
