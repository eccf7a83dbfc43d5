package dev.baton.server.cluster;

import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.StatusResponse;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.server.cluster.ProcessCluster.NodeProc;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Faults beside kill -9, on a 3-node cluster of real {@code baton server} processes: a node (the
 * follower, then the leader) paused with SIGSTOP for longer than the election timeout, and the
 * leader cut off from its peers by iptables (see {@link Isolation}; skipped, with the reason, where
 * that cannot run). Throughout, clients on <b>every</b> node (two PoolCounter line connections per
 * node and one Java client per node) loop acquire + hold 2 ms + release on {@value #KEYS} keys of
 * {@value #WORKERS} workers, and the test checks:
 * <ul>
 *   <li>no key ever has more holders than its workers (a client counts itself a holder from its
 *       grant until just before it releases: inside the real hold), and no fence is granted twice;</li>
 *   <li>during each fault, clients on the nodes that keep a majority still get slots;</li>
 *   <li>after it heals, clients on every node get slots again.</li>
 * </ul>
 * A pause lasts 3 s, or until the majority side has made progress if that takes longer: on a
 * loaded machine it can outlast the session TTL (10 s), and then the paused node's sessions expire
 * and its clients hear {@code ERROR SESSION_LOST} (counted, not a failure: that is what a lease is
 * for). Holds are 2 ms, far inside the TTL, so an expiry never makes a counted hold overlap another.
 * Waits are generous; durations are printed, never asserted. {@code -Dbaton.faults.minutes=N}
 * repeats the fault cycle for N minutes on the same cluster ({@code bench/faults.sh}).
 */
class FaultClusterTest {
    private static final int KEYS = 3;
    private static final int WORKERS = 2;
    private static final long STATUS_DEADLINE_MS = 10_000;
    /** Three default election timeouts. */
    private static final long PAUSE_MS = 3_000;
    /** How long the leader stays cut off, at least. */
    private static final long ISOLATE_MS = 5_000;
    private static final double MINUTES = Double.parseDouble(System.getProperty("baton.faults.minutes", "0"));
    /** Progress slower than this prints who holds the keys. */
    private static final long SLOW_S = 4;

    @TempDir
    Path tmp;

    @Test
    void aFollowerAndTheLeaderPausedLongerThanTheElectionTimeoutNeverOverGrant() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3)) {
            c.startAll();
            try (Load load = Load.start(c)) {
                long until = System.nanoTime() + (long) (MINUTES * 60e9);
                int round = 0;
                do {
                    round++;
                    NodeProc leader = awaitLeader(c);
                    NodeProc follower = c.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
                    pause(c, load, follower, "round " + round + ": follower " + follower.id);
                    NodeProc leader2 = awaitLeader(c);
                    pause(c, load, leader2, "round " + round + ": leader " + leader2.id);
                } while (System.nanoTime() - until < 0);
                load.finish();
                System.out.println("[FaultClusterTest] pause rounds " + round + "; " + load.summary());
                assertThat(load.violations).as("violations\n%s", c.logs()).isEmpty();
            }
        }
    }

    @Test
    void theLeaderCutOffFromItsPeersNeverOverGrants() throws Exception {
        String reason = Isolation.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "SKIPPED: cannot isolate a node here: " + reason);
        ProcessCluster c = new ProcessCluster(tmp, 3);
        Isolation iso = null;
        try {
            iso = Isolation.open(c);
            c.startAll();
            try (Load load = Load.start(c)) {
                long until = System.nanoTime() + (long) (MINUTES * 60e9);
                int round = 0;
                do {
                    round++;
                    NodeProc leader = awaitLeader(c);
                    List<NodeProc> majority = c.nodes().stream().filter(n -> n != leader).toList();
                    long t0 = System.nanoTime();
                    iso.isolate(c, leader);
                    try {
                        NodeProc next = await("a new leader among " + ids(majority) + " with " + leader.id + " cut off",
                                c, () -> majority.stream().filter(n -> leads(c, n)).findFirst());
                        System.out.println("[FaultClusterTest] round " + round + ": " + leader.id + " cut off; "
                                + next.id + " leads after " + ms(t0) + " ms");
                        load.awaitProgress(c, majority, "round " + round + ": while " + leader.id + " is cut off");
                        sleepUntil(t0 + TimeUnit.MILLISECONDS.toNanos(ISOLATE_MS));
                    } catch (AssertionError e) {
                        throw new AssertionError(e.getMessage() + "\nrules:\n" + iso.rules(), e);
                    } finally {
                        iso.heal();
                    }
                    System.out.println("[FaultClusterTest] round " + round + ": healed after " + ms(t0) + " ms");
                    awaitSettled(c);
                    load.awaitProgress(c, c.nodes(), "round " + round + ": after healing");
                } while (System.nanoTime() - until < 0);
                load.finish();
                System.out.println("[FaultClusterTest] isolation rounds " + round + "; " + load.summary());
                assertThat(load.violations).as("violations\n%s", c.logs()).isEmpty();
            }
        } finally {
            c.close(); // first: a user with processes cannot be removed
            if (iso != null) {
                iso.close();
            }
        }
    }

    /** SIGSTOP for at least {@link #PAUSE_MS}, with progress on the others meanwhile; SIGCONT; progress everywhere. */
    private static void pause(ProcessCluster c, Load load, NodeProc n, String what) throws Exception {
        List<NodeProc> others = c.nodes().stream().filter(o -> o != n).toList();
        long t0 = System.nanoTime();
        c.signal(n, "STOP");
        try {
            load.awaitProgress(c, others, what + " paused");
            sleepUntil(t0 + TimeUnit.MILLISECONDS.toNanos(PAUSE_MS));
        } finally {
            c.signal(n, "CONT");
        }
        System.out.println("[FaultClusterTest] " + what + " resumed after " + ms(t0) + " ms");
        awaitSettled(c);
        load.awaitProgress(c, c.nodes(), what + " resumed");
    }

    // ---- the load ----------------------------------------------------------------------------------

    /** Clients on every node; what they saw. */
    private static final class Load implements AutoCloseable {
        final AtomicIntegerArray holders = new AtomicIntegerArray(KEYS);
        final Set<Long> fences = ConcurrentHashMap.newKeySet();
        final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
        /** Line grants per node (line connections stay on their node). */
        final AtomicLongArray lineGrants;
        final AtomicLongArray javaGrants = new AtomicLongArray(1);
        /** Answers other than a grant or a release, and failures: expected under faults, printed. */
        final Map<String, Long> notes = new ConcurrentHashMap<>();
        final List<Thread> threads = new ArrayList<>();
        final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
        final List<BatonClient> clients = new ArrayList<>();
        volatile boolean stop;

        private Load(int nodes) {
            lineGrants = new AtomicLongArray(nodes);
        }

        static Load start(ProcessCluster c) throws InterruptedException {
            awaitSettled(c);
            Load load = new Load(c.nodes().size());
            for (int i = 0; i < c.nodes().size(); i++) {
                NodeProc n = c.node(i);
                int idx = i;
                for (int k = 0; k < 2; k++) {
                    load.spawn("line-" + n.id + "-" + k, () -> load.lineLoop(idx, n.linePort));
                }
                List<String> endpoints = new ArrayList<>(c.apiEndpoints());
                endpoints.remove(n.api());
                endpoints.add(0, n.api());
                BatonClient client = BatonClient.builder().endpoints(endpoints).sessionTtl(Duration.ofSeconds(10))
                        .retryFor(Duration.ofSeconds(30))
                        .onSessionLost(e -> load.note("java: session lost")).build();
                load.clients.add(client);
                load.spawn("java-" + n.id, () -> load.javaLoop(client));
            }
            load.awaitProgress(c, c.nodes(), "start");
            return load;
        }

        private void spawn(String name, Runnable r) {
            Thread t = new Thread(r, "fault-load-" + name);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }

        void note(String what) {
            notes.merge(what, 1L, Long::sum);
        }

        /** Counts a holder of {@code key} for 2 ms; false if interrupted. */
        private boolean hold(int key) {
            int now = holders.incrementAndGet(key);
            if (now > WORKERS) {
                violations.add("key " + key + " has " + now + " holders, workers " + WORKERS);
            }
            try {
                Thread.sleep(2);
                return true;
            } catch (InterruptedException e) {
                return false;
            } finally {
                holders.decrementAndGet(key); // before the release: the counted hold is inside the real one
            }
        }

        private void lineLoop(int node, int port) {
            while (!stop) {
                try (Socket s = new Socket()) {
                    sockets.add(s);
                    s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
                    s.setSoTimeout(60_000);
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    OutputStream out = s.getOutputStream();
                    while (!stop) {
                        int key = ThreadLocalRandom.current().nextInt(KEYS);
                        out.write(("ACQ4ME fault" + key + " " + WORKERS + " 100 5\n").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        String r = in.readLine();
                        if (r == null) {
                            note("line: closed by the server");
                            break;
                        }
                        if (r.equals("LOCKED")) {
                            lineGrants.incrementAndGet(node);
                            if (!hold(key)) {
                                return;
                            }
                            out.write("RELEASE\n".getBytes(StandardCharsets.US_ASCII));
                            out.flush();
                            String rel = in.readLine();
                            if (rel == null) {
                                note("line: closed by the server");
                                break;
                            }
                            if (!rel.equals("RELEASED")) {
                                note("line: RELEASE -> " + rel);
                                if (rel.startsWith("ERROR")) {
                                    break; // the server closes the connection after an ERROR
                                }
                            }
                        } else if (r.equals("TIMEOUT") || r.equals("QUEUE_FULL")) {
                            note("line: " + r);
                        } else if (r.equals("ERROR UNAVAILABLE") || r.equals("ERROR SESSION_LOST")) {
                            note("line: " + r);
                            break;
                        } else {
                            violations.add("line: ACQ4ME answered " + r);
                            break;
                        }
                    }
                } catch (SocketTimeoutException e) {
                    note("line: no answer in 60 s");
                } catch (IOException e) {
                    if (!stop) {
                        note("line: " + e.getClass().getSimpleName());
                        sleep(100);
                    }
                } finally {
                    sockets.removeIf(Socket::isClosed);
                }
            }
        }

        private void javaLoop(BatonClient client) {
            while (!stop) {
                int key = ThreadLocalRandom.current().nextInt(KEYS);
                try {
                    var r = client.pools().acquire("fault" + key, WORKERS, 100, Duration.ofSeconds(5), false);
                    if (r.status() != dev.baton.client.PoolStatus.LOCKED) {
                        note("java: acquire " + r.status());
                        continue;
                    }
                    if (!fences.add(r.fence())) {
                        violations.add("fence " + r.fence() + " granted twice");
                    }
                    javaGrants.incrementAndGet(0);
                    if (!hold(key)) {
                        return;
                    }
                    var rel = client.pools().release("fault" + key, r.fence());
                    if (rel.status() != dev.baton.client.PoolStatus.RELEASED) {
                        note("java: release " + rel.status());
                    }
                } catch (BatonException e) {
                    if (!stop) {
                        note("java: " + e.getClass().getSimpleName() + " " + e.statusCode());
                        sleep(100);
                    }
                } catch (RuntimeException e) {
                    if (!stop) {
                        note("java: " + e);
                        sleep(100);
                    }
                }
            }
        }

        /** Waits until the line clients on each of {@code nodes} got a slot again (3 more grants each). */
        void awaitProgress(ProcessCluster c, List<NodeProc> nodes, String when) throws InterruptedException {
            long[] before = new long[nodes.size()];
            for (int i = 0; i < nodes.size(); i++) {
                before[i] = lineGrants.get(c.nodes().indexOf(nodes.get(i)));
            }
            long t0 = System.nanoTime();
            boolean[] shown = new boolean[1];
            await("line clients on " + ids(nodes) + " get slots (" + when + "); notes so far " + new TreeMap<>(notes),
                    c, () -> {
                        if (!shown[0] && System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(SLOW_S)) {
                            shown[0] = true; // once per wait: who holds the keys (a slot nobody releases shows here)
                            System.out.println("[FaultClusterTest] slow (" + when + "): " + holders(nodes.get(0)));
                        }
                        for (int i = 0; i < nodes.size(); i++) {
                            if (lineGrants.get(c.nodes().indexOf(nodes.get(i))) < before[i] + 3) {
                                return Optional.empty();
                            }
                        }
                        return Optional.of(true);
                    });
            System.out.println("[FaultClusterTest] " + when + ": clients on " + ids(nodes) + " got slots within "
                    + ms(t0) + " ms");
        }

        /** The keys' holders and waiters, from the state as {@code n} reads it (a linearizable read). */
        private static String holders(NodeProc n) {
            try {
                com.google.gson.JsonObject state = com.google.gson.JsonParser.parseString(ClusterTest.dump(n)).getAsJsonObject();
                long now = state.getAsJsonObject("summary").get("lastTime").getAsLong();
                Map<Long, String> owner = new TreeMap<>();
                for (var e : state.getAsJsonArray("sessions")) {
                    String token = e.getAsJsonObject().get("token").getAsString();
                    owner.put(e.getAsJsonObject().get("id").getAsLong(), token.startsWith("line:")
                            ? token.substring(5, token.indexOf(':', 5)) + "-line" : "java");
                }
                StringBuilder b = new StringBuilder();
                for (var e : state.getAsJsonArray("pools")) {
                    var pool = e.getAsJsonObject();
                    b.append(pool.get("key").getAsString()).append(" held by");
                    for (var h : pool.getAsJsonArray("holders")) {
                        long session = h.getAsJsonObject().get("session").getAsLong();
                        b.append(" s").append(session).append('(').append(owner.get(session)).append(", ")
                                .append(now - h.getAsJsonObject().get("since").getAsLong()).append(" ms)");
                    }
                    b.append(", ").append(pool.getAsJsonArray("waitMe").size()).append(" waiting; ");
                }
                return b.toString();
            } catch (Exception e) {
                return "(no state: " + e + ")";
            }
        }

        String summary() {
            return "line grants per node " + lineGrants + ", java grants " + javaGrants.get(0) + ", other answers "
                    + new TreeMap<>(notes);
        }

        void finish() throws InterruptedException {
            stop = true;
            for (Socket s : sockets) {
                try {
                    s.close();
                } catch (IOException e) {
                    // it is closing anyway
                }
            }
            for (Thread t : threads) {
                t.interrupt();
                t.join(60_000);
            }
        }

        @Override
        public void close() throws InterruptedException {
            finish();
            for (BatonClient client : clients) {
                try {
                    client.close();
                } catch (RuntimeException e) {
                    // the cluster may be gone already
                }
            }
        }
    }

    // ---- waiting -----------------------------------------------------------------------------------

    /** A status poll: generous, because a cold node on a loaded 2-core box can take seconds to answer its first. */
    private static Optional<StatusResponse> status(ProcessCluster c, NodeProc n) {
        return c.status(n, STATUS_DEADLINE_MS);
    }

    private static boolean leads(ProcessCluster c, NodeProc n) {
        return status(c, n).map(s -> s.getIsLeader() && !s.getLeaderApiAddress().isEmpty()).orElse(false);
    }

    private static NodeProc awaitLeader(ProcessCluster c) throws InterruptedException {
        return await("a leader that has announced its address", c,
                () -> c.nodes().stream().filter(n -> leads(c, n)).findFirst());
    }

    /** Every node answers, names the same leader, and that node says it leads. */
    private static void awaitSettled(ProcessCluster c) throws InterruptedException {
        await("every node to agree on a leader", c, () -> {
            String leader = null;
            for (NodeProc n : c.nodes()) {
                Optional<StatusResponse> st = status(c, n);
                if (st.isEmpty() || st.get().getLeaderRaftAddress().isEmpty()
                        || (leader != null && !leader.equals(st.get().getLeaderRaftAddress()))) {
                    return Optional.empty();
                }
                leader = st.get().getLeaderRaftAddress();
            }
            String l = leader;
            return c.nodes().stream().filter(n -> n.raft().equals(l) && leads(c, n)).findFirst();
        });
    }

    private static <T> T await(String what, ProcessCluster c, java.util.function.Supplier<Optional<T>> cond)
            throws InterruptedException {
        return ClusterWaits.await(what, cond, () -> "(whole logs in " + keepLogs(c) + ")\n" + c.logs());
    }

    /** Copies every node's log out of the test's temp dir (deleted after the test); where to. */
    private static Path keepLogs(ProcessCluster c) {
        try {
            Path dir = java.nio.file.Files.createTempDirectory("baton-fault-logs-");
            for (NodeProc n : c.nodes()) {
                if (java.nio.file.Files.exists(n.log())) {
                    java.nio.file.Files.copy(n.log(), dir.resolve(n.id + ".log"));
                }
            }
            return dir;
        } catch (IOException e) {
            return Path.of("(not kept: " + e + ")");
        }
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left = nanos - System.nanoTime();
        if (left > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long ms(long t0) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    private static String ids(List<NodeProc> nodes) {
        return nodes.stream().map(n -> n.id).toList().toString();
    }
}
