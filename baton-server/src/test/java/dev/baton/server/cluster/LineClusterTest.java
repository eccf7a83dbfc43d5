package dev.baton.server.cluster;

import dev.baton.server.TestWaits;
import dev.baton.server.cluster.ProcessCluster.NodeProc;
import dev.baton.server.line.LineClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PoolCounter door on a 3-node cluster of real {@code baton server} processes: keys are
 * cluster-wide whichever node a connection reaches, and a node that dies (kill -9) takes its
 * connections with it; their slots are released by session expiry and reach a waiter on another
 * node. The hand-over time is printed, not asserted: timing never decides a test.
 */
class LineClusterTest {
    private static final long TTL_MS = 3_000;

    @TempDir
    Path tmp;

    @Test
    void clientsOnDifferentNodesShareAKeyAndADeadNodesSlotPassesToAWaiterElsewhere() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3, "--session-ttl", Long.toString(TTL_MS)).startAll()) {
            NodeProc leader = c.awaitLeader(120_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            List<NodeProc> followers = c.nodes().stream().filter(n -> n != leader).toList();
            NodeProc f1 = followers.get(0);
            NodeProc f2 = followers.get(1);
            c.awaitStatus(f1);
            c.awaitStatus(f2);
            // /health/leader, for a balancer that sends clients to the leader only: 200 there, 503 on a
            // follower, which names the leader's API port once its address book has it
            TestWaits.await("the leader's /health/leader to answer 200", () -> {
                java.net.http.HttpResponse<String> r = tryGet(leader, "/health/leader");
                return r != null && r.statusCode() == 200;
            });
            for (NodeProc f : followers) {
                TestWaits.await(f.id + "'s /health/leader to name the leader", () -> {
                    java.net.http.HttpResponse<String> r = tryGet(f, "/health/leader");
                    if (r == null) {
                        return false; // its HTTP port opens last
                    }
                    assertThat(r.statusCode()).as(f.id + ": " + r.body()).isEqualTo(503);
                    assertThat(r.body()).contains("\"status\":\"not leader\"");
                    return r.body().contains(":" + leader.apiPort + "\"");
                });
            }
            try (LineClient a = new LineClient(f1.linePort);
                 LineClient b = new LineClient(f2.linePort);
                 LineClient l = new LineClient(leader.linePort)) {
                assertThat(a.call("ACQ4ME shared 1 5 60")).isEqualTo("LOCKED");
                b.send("ACQ4ME shared 1 5 60");
                b.assertNothingPending();
                l.send("ACQ4ANY shared 1 5 60");
                l.assertNothingPending();
                assertThat(a.call("ACQ4ME shared 1 5 0")).isEqualTo("TIMEOUT"); // held, seen from every node
                assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
                // poolcounterd's order across three connections, now across three nodes
                assertThat(l.read()).isEqualTo("DONE");
                assertThat(b.read()).isEqualTo("LOCKED");
                assertThat(a.call("STATS processing_workers")).isEqualTo("processing_workers: 1");

                l.send("ACQ4ME shared 1 5 60");
                l.assertNothingPending();
                long killed = System.nanoTime();
                c.kill(f2); // b's node, holding the slot
                assertThat(b.closedByServer()).as("the dead node's connection is gone").isTrue();
                assertThat(l.read()).isEqualTo("LOCKED");
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                System.out.println("[LineClusterTest] slot of a killed node's client reached a waiter on another node"
                        + " after " + ms + " ms (session TTL " + TTL_MS + " ms)");
                assertThat(a.call("ACQ4ME shared 1 5 0")).isEqualTo("TIMEOUT");
                assertThat(l.call("RELEASE")).isEqualTo("RELEASED");
                assertThat(a.call("ACQ4ME shared 1 5 0")).isEqualTo("LOCKED");
            }
        }
    }

    /**
     * Connections on all three nodes hammer two keys with waits, DONEs and RELEASEs sent while
     * waiting. Whatever the interleaving, each connection must read a legal sequence of replies in
     * order (a follower answers straight from the leader, so an answer overtaking the outcome of an
     * earlier wait would show up here as an impossible sequence), and a key never has two holders.
     */
    @Test
    void repliesStayInOrderOnEveryNodeUnderContention() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            c.awaitLeader(120_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            for (NodeProc n : c.nodes()) {
                c.awaitStatus(n);
            }
            int threads = 6;
            java.util.concurrent.atomic.AtomicIntegerArray holders = new java.util.concurrent.atomic.AtomicIntegerArray(2);
            java.util.concurrent.ConcurrentLinkedQueue<String> problems = new java.util.concurrent.ConcurrentLinkedQueue<>();
            java.util.concurrent.atomic.AtomicLong[] seen = new java.util.concurrent.atomic.AtomicLong[4];
            for (int i = 0; i < seen.length; i++) {
                seen[i] = new java.util.concurrent.atomic.AtomicLong();
            }
            List<Thread> workers = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int port = c.node(t % 3).linePort;
                long seed = t;
                workers.add(new Thread(() -> {
                    java.util.Random rnd = new java.util.Random(seed);
                    try (LineClient lc = new LineClient(port)) {
                        for (int i = 0; i < 150 && problems.isEmpty(); i++) {
                            int k = rnd.nextInt(2);
                            boolean any = rnd.nextInt(3) == 0;
                            String acq = (any ? "ACQ4ANY" : "ACQ4ME") + " hot" + k + " 1 100 30";
                            if (rnd.nextInt(4) == 0) {
                                // RELEASE right behind the acquire: cancels the wait, or releases what it got
                                lc.sendRaw(acq + "\nRELEASE\n");
                                String first = lc.read();
                                String second = switch (first) {
                                    case "RELEASED" -> null;
                                    case "LOCKED" -> "RELEASED";
                                    case "DONE", "TIMEOUT", "QUEUE_FULL" -> "NOT_LOCKED";
                                    default -> "?";
                                };
                                if ("?".equals(second)) {
                                    problems.add("cancel path read " + first);
                                } else if (second != null && !second.equals(lc.read())) {
                                    problems.add("cancel path: " + first + " not followed by " + second);
                                }
                                seen[3].incrementAndGet();
                                continue;
                            }
                            String r = lc.call(acq);
                            if (r.equals("DONE") && any) {
                                seen[2].incrementAndGet();
                                continue;
                            }
                            if (!r.equals("LOCKED")) {
                                problems.add(acq + " -> " + r);
                                continue;
                            }
                            seen[any ? 1 : 0].incrementAndGet();
                            if (holders.incrementAndGet(k) > 1) {
                                problems.add("two holders of hot" + k);
                            }
                            Thread.sleep(rnd.nextInt(3));
                            holders.decrementAndGet(k);
                            String rel = lc.call("RELEASE");
                            if (!rel.equals("RELEASED")) {
                                problems.add("RELEASE -> " + rel);
                            }
                        }
                        lc.assertNothingPending();
                    } catch (Throwable e) {
                        problems.add(e.toString());
                    }
                }));
            }
            workers.forEach(Thread::start);
            for (Thread w : workers) {
                w.join(300_000);
            }
            System.out.println("[LineClusterTest] locked as ACQ4ME " + seen[0] + ", as ACQ4ANY " + seen[1]
                    + ", DONE " + seen[2] + ", release-while-waiting rounds " + seen[3]);
            assertThat(problems).isEmpty();
            try (LineClient lc = new LineClient(c.node(0).linePort)) {
                TestWaits.await("every key to be free", () -> lc.call("STATS hashtable_entries")
                        .equals("hashtable_entries: 0"));
            }
        }
    }

    /**
     * A connection per request (MediaWiki's connect, acquire, release, close) on all three nodes, so
     * followers hand sessions on from one connection to the next (the door's shelf), mixed with
     * connections that close while their acquire is waiting or granted (whose sessions must be
     * closed, not handed on). A key never has two holders, every reply is legal, and at the end
     * nothing is held or waited for.
     */
    @Test
    void connectionsPerRequestOnEveryNodeNeverShareASlot() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            NodeProc leader = c.awaitLeader(60_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            for (NodeProc n : c.nodes()) {
                c.awaitStatus(n);
            }
            java.util.concurrent.atomic.AtomicIntegerArray holders = new java.util.concurrent.atomic.AtomicIntegerArray(2);
            java.util.concurrent.ConcurrentLinkedQueue<String> problems = new java.util.concurrent.ConcurrentLinkedQueue<>();
            java.util.concurrent.atomic.AtomicLong pairs = new java.util.concurrent.atomic.AtomicLong();
            List<Thread> workers = new java.util.ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int port = c.node(t % 3).linePort;
                long seed = 100 + t;
                workers.add(new Thread(() -> {
                    java.util.Random rnd = new java.util.Random(seed);
                    for (int i = 0; i < 80 && problems.isEmpty(); i++) {
                        int k = rnd.nextInt(2);
                        boolean any = rnd.nextInt(4) == 0;
                        // A wait shorter than the client's read timeout (30 s): a slot held too long shows
                        // as "-> TIMEOUT", not as a read that gave up at the moment the reply was due.
                        String acq = (any ? "ACQ4ANY" : "ACQ4ME") + " churn" + k + " 1 100 20";
                        try (LineClient lc = new LineClient(port)) {
                            if (rnd.nextInt(5) == 0) {
                                lc.send(acq); // and gone, waiting or granted: the session must be closed
                                continue;
                            }
                            String r = lc.call(acq);
                            if (r.equals("DONE") && any) {
                                continue;
                            }
                            if (!r.equals("LOCKED")) {
                                problems.add(acq + " -> " + r);
                                continue;
                            }
                            if (holders.incrementAndGet(k) > 1) {
                                problems.add("two holders of churn" + k);
                            }
                            Thread.sleep(rnd.nextInt(2));
                            holders.decrementAndGet(k);
                            String rel = lc.call("RELEASE");
                            if (!rel.equals("RELEASED")) {
                                problems.add("RELEASE -> " + rel);
                            }
                            pairs.incrementAndGet();
                        } catch (Throwable e) {
                            problems.add(e.toString());
                        }
                    }
                }));
            }
            workers.forEach(Thread::start);
            for (Thread w : workers) {
                w.join(300_000);
            }
            System.out.println("[LineClusterTest] connection-per-request pairs " + pairs);
            assertThat(problems).isEmpty();
            for (NodeProc n : c.nodes()) {
                if (n != leader) { // the follower's door handed sessions on, through the forwarding path
                    assertThat(metric(n, "baton_line_sessions_reused_total")).as("sessions reused on " + n.id).isPositive();
                }
            }
            try (LineClient lc = new LineClient(c.node(0).linePort)) {
                TestWaits.await("every key to be free", () -> lc.call("STATS hashtable_entries")
                        .equals("hashtable_entries: 0"));
            }
        }
    }

    private static java.net.http.HttpResponse<String> get(NodeProc n, String path) {
        try {
            return java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(n.http() + path))
                            .timeout(java.time.Duration.ofSeconds(30)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The answer, or null if the node's HTTP port cannot be reached (yet). */
    private static java.net.http.HttpResponse<String> tryGet(NodeProc n, String path) {
        try {
            return get(n, path);
        } catch (java.io.UncheckedIOException e) {
            return null;
        }
    }

    private static double metric(NodeProc n, String name) throws Exception {
        java.net.http.HttpResponse<String> r = get(n, "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + name + "(\\{[^}]*})? (\\S+)$").matcher(r.body());
        assertThat(m.find()).as(name + " in /metrics of " + n.id).isTrue();
        return Double.parseDouble(m.group(2));
    }
}
