package dev.baton.bench.cluster;

import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.api.v1.StatusResponse;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Leader fail-over as a client sees it: a 3-node durable cluster of real {@code baton server}
 * processes; {@code --clients} threads (each its own {@link BatonClient} and session, endpoints = all
 * three nodes) loop acquire + release on their own pool key (W = 1, timeout 10 s, zero hold time).
 * Each trial kills the leader with SIGKILL ({@code kill -9}) and measures, from the signal:
 * <ul>
 *   <li><b>client</b>: until the first acquire that completes successfully after the killed process is
 *       confirmed gone (any thread; calls in flight at the kill are retried by the client with the same
 *       request id, 20 ms doubling to 1 s backoff with jitter);</li>
 *   <li><b>election</b>: until a surviving node reports itself leader ({@code Admin.Status}, polled
 *       every 10 ms) with a known API address.</li>
 * </ul>
 * The killed node is then restarted on its data; the next trial starts once all three nodes agree on
 * the leader and have caught up, plus a pause. Errors the client throws (after its own retries) are
 * counted.
 *
 * <p>{@code --fault stop} pauses the leader with SIGSTOP instead (for {@code --stop-ms}, then SIGCONT:
 * it comes back as a follower): the case of a long GC pause or a frozen VM, where no connection is
 * reset and calls in flight to the leader simply get no answer. A success that completes within 100 ms
 * of the SIGSTOP is not counted (it was decided before the pause: no election is that fast).
 *
 * <p>{@code --client line} measures PoolCounter line clients on the <b>followers</b> instead: before
 * each trial {@code --clients} connections (spread over the two nodes that do not lead, so every write
 * is forwarded) loop {@code ACQ4ME} (W = 1, timeout 10 s) + {@code RELEASE} on their own key. A
 * connection that the server closes (it answers {@code ERROR UNAVAILABLE} after its 10 s of retries)
 * is counted as an error and reconnects.
 */
public final class FailoverBench {
    private FailoverBench() {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        int trials = a.integer("trials", 20);
        int nClients = a.integer("clients", 4);
        long pauseMs = a.lng("pause-ms", 3000);
        String serverCp = a.str("server-cp", System.getProperty("java.class.path"));
        String serverJvm = a.str("server-jvm", ServerProcesses.SHIPPED_JVM);
        String serverArgs = a.str("server-args", "");
        String clientKind = a.str("client", "java");
        String fault = a.str("fault", "kill");
        long stopMs = a.lng("stop-ms", 5000);
        boolean keep = a.flag("keep"); // keep the nodes' dirs (data and out.log) and print where
        a.checkNoneUnknown();
        if (!clientKind.equals("java") && !clientKind.equals("line")) {
            throw new IllegalArgumentException("--client is java or line, got " + clientKind);
        }
        if (!fault.equals("kill") && !fault.equals("stop")) {
            throw new IllegalArgumentException("--fault is kill or stop, got " + fault);
        }
        boolean line = clientKind.equals("line");
        boolean pause = fault.equals("stop");
        System.out.println(Machine.header());
        System.out.println("# FailoverBench trials=" + trials + " clients=" + nClients + " client=" + clientKind
                + " fault=" + (pause ? "SIGSTOP for " + stopMs + " ms" : "kill -9") + " servers: " + serverJvm + " "
                + serverArgs);

        ServerProcesses procs = new ServerProcesses(3, serverCp, serverJvm, serverArgs);
        if (line) {
            procs.withLinePorts();
        }
        List<Thread> lineThreads = new ArrayList<>();
        ServerProcesses.Node paused = null;
        List<BatonClient> clients = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        Map<String, Long> problems = new ConcurrentHashMap<>();
        AtomicLong firstSuccess = new AtomicLong();
        AtomicLong pairs = new AtomicLong();
        volatileStop = false;
        try {
            procs.startAll();
            if (procs.awaitLeader(180_000).isEmpty() || !procs.awaitSettled(0, 180_000)) { // a loaded box starts slowly
                throw new IllegalStateException("cluster did not start\n" + procs.logs(30));
            }
            Machine.sleep(1000);
            if (!line) {
                clients.addAll(ClusterBench.openClients(procs.apiEndpoints(), nClients, new AtomicLong()));
            }
            for (int i = 0; i < clients.size(); i++) {
                BatonClient c = clients.get(i);
                String key = "failover-" + i;
                Thread t = new Thread(() -> loop(c, key, firstSuccess, pairs, problems), "probe-" + i);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
            if (!line) {
                Machine.sleep(10_000); // warm-up
            }

            List<Double> clientMs = new ArrayList<>();
            List<Double> electionMs = new ArrayList<>();
            System.out.println("| trial | " + (pause ? "paused" : "killed") + " | new leader | election ms | client ms | load (1 min) |");
            System.out.println("|---:|---|---|---:|---:|---|");
            for (int trial = 1; trial <= trials; trial++) {
                ServerProcesses.Node leader = procs.awaitLeader(30_000).orElseThrow(
                        () -> new IllegalStateException("no leader before trial\n" + procs.logs(30)));
                long term0 = procs.status(leader, 2000).map(StatusResponse::getTerm).orElse(0L);
                if (line) {
                    // Fresh connections on the two followers of this trial's leader.
                    lineStop = false;
                    List<ServerProcesses.Node> followers = procs.nodes().stream().filter(n -> n != leader).toList();
                    for (int i = 0; i < nClients; i++) {
                        ServerProcesses.Node at = followers.get(i % followers.size());
                        String key = "failover-" + trial + "-" + i;
                        Thread t = new Thread(() -> lineLoop(at.linePort, key, firstSuccess, pairs, problems),
                                "line-probe-" + i);
                        t.setDaemon(true);
                        lineThreads.add(t);
                        t.start();
                    }
                    Machine.sleep(trial == 1 ? 10_000 : 2_000); // warm-up
                }
                double load = Machine.load1();
                armed = false;
                firstSuccess.set(0);
                long tKill = System.nanoTime();
                if (pause) {
                    paused = leader;
                    procs.signal(leader, "STOP");
                    armedAfter = tKill + TimeUnit.MILLISECONDS.toNanos(100); // decided before the pause
                } else {
                    procs.kill(leader);
                    armedAfter = System.nanoTime(); // the killed process is gone: no reply can come from it now
                }
                armed = true;
                long election = -1;
                String newLeader = "?";
                long client = -1;
                long giveUp = tKill + TimeUnit.SECONDS.toNanos(60);
                while ((election < 0 || client < 0) && System.nanoTime() - giveUp < 0) {
                    if (client < 0 && firstSuccess.get() != 0) {
                        client = firstSuccess.get() - tKill;
                    }
                    if (election < 0) {
                        for (ServerProcesses.Node n : procs.nodes()) {
                            if (n == leader) {
                                continue;
                            }
                            Optional<StatusResponse> st = procs.status(n, 200);
                            if (st.isPresent() && st.get().getIsLeader() && st.get().getTerm() > term0
                                    && !st.get().getLeaderApiAddress().isEmpty()) {
                                election = System.nanoTime() - tKill;
                                newLeader = n.id;
                                break;
                            }
                        }
                    }
                    Machine.sleep(10);
                }
                double e = election / 1e6;
                double c = client / 1e6;
                if (election >= 0) {
                    electionMs.add(e);
                }
                if (client >= 0) {
                    clientMs.add(c);
                }
                System.out.printf("| %d | %s | %s | %s | %s | %.1f |%n", trial, leader.id, newLeader,
                        election < 0 ? "none in 60 s" : String.format("%.0f", e),
                        client < 0 ? "none in 60 s" : String.format("%.0f", c), load);

                if (line) {
                    lineStop = true;
                    for (Thread t : lineThreads) {
                        t.join(60_000);
                    }
                    lineThreads.clear();
                }
                if (pause) {
                    // Resume the paused node (it comes back as a follower) and let the cluster settle.
                    Machine.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(tKill - System.nanoTime()) + stopMs));
                    procs.signal(leader, "CONT");
                    paused = null;
                } else {
                    // Restart the killed node on its data and let the cluster settle.
                    procs.start(leader);
                }
                long target = procs.status(procs.awaitLeader(30_000).orElseThrow(), 2000)
                        .map(StatusResponse::getAppliedIndex).orElse(0L);
                if (!procs.awaitSettled(target, 60_000)) {
                    System.out.println("# cluster did not settle after trial " + trial + "\n" + procs.logs(20));
                }
                Machine.sleep(pauseMs);
            }
            volatileStop = true;
            for (Thread t : threads) {
                t.join(20_000);
            }
            System.out.println();
            System.out.println("| | trials | median ms | mean ms | min ms | max ms |");
            System.out.println("|---|---:|---:|---:|---:|---:|");
            System.out.println(summary("election (Admin.Status)", electionMs));
            System.out.println(summary("client (" + clientKind + (line ? ", on followers" : "") + "): "
                    + (pause ? "SIGSTOP" : "kill") + " -> next successful acquire", clientMs));
            System.out.println("# acquire+release pairs completed during the run: " + pairs.get());
            System.out.println("# client errors (after the client's own retries): "
                    + (problems.isEmpty() ? "none" : new TreeMap<>(problems)));
        } finally {
            volatileStop = true;
            lineStop = true;
            if (paused != null) {
                procs.signal(paused, "CONT");
            }
            for (BatonClient c : clients) {
                try {
                    c.close();
                } catch (RuntimeException ignored) {
                    // best effort
                }
            }
            procs.close(keep);
            if (keep) {
                System.out.println("# node dirs kept in " + procs.root());
            }
        }
        System.exit(0);
    }

    private static volatile boolean volatileStop;
    /** Ends the line connections of the current trial. */
    private static volatile boolean lineStop;
    /** Set after the kill: the first acquire completing after {@link #armedAfter} is recorded. */
    private static volatile boolean armed;
    private static volatile long armedAfter;

    private static String summary(String what, List<Double> xs) {
        if (xs.isEmpty()) {
            return "| " + what + " | 0 | | | | |";
        }
        List<Double> s = new ArrayList<>(xs);
        s.sort(Double::compare);
        double median = s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
        double mean = s.stream().mapToDouble(Double::doubleValue).average().orElse(0);
        return String.format("| %s | %d | %.0f | %.0f | %.0f | %.0f |", what, s.size(), median, mean, s.get(0),
                s.get(s.size() - 1));
    }

    private static void loop(BatonClient c, String key, AtomicLong firstSuccess, AtomicLong pairs,
                             Map<String, Long> problems) {
        while (!volatileStop) {
            PoolReply r;
            try {
                r = c.pools().acquire(key, 1, 100, Duration.ofSeconds(10), false);
            } catch (BatonException e) {
                problems.merge("acquire " + e.getClass().getSimpleName() + " " + e.statusCode(), 1L, Long::sum);
                try {
                    c.pools().release(key);
                } catch (BatonException ignored) {
                    // nothing held, or still unavailable
                }
                continue;
            }
            if (r.status() != PoolStatus.LOCKED) {
                problems.merge("acquire status " + r.status(), 1L, Long::sum);
                continue;
            }
            long now = System.nanoTime();
            if (armed && now - armedAfter > 0) {
                firstSuccess.compareAndSet(0, now);
            }
            try {
                var rel = c.pools().release(key, r.fence());
                if (rel.status() != PoolStatus.RELEASED) {
                    problems.merge("release status " + rel.status(), 1L, Long::sum);
                } else {
                    pairs.incrementAndGet();
                }
            } catch (BatonException e) {
                problems.merge("release " + e.getClass().getSimpleName() + " " + e.statusCode(), 1L, Long::sum);
            }
        }
    }

    /**
     * One line connection to a follower: {@code ACQ4ME key 1 10 10} + {@code RELEASE} until the trial
     * ends. Any other answer is counted; a connection the server closes is counted and reopened.
     */
    private static void lineLoop(int port, String key, AtomicLong firstSuccess, AtomicLong pairs,
                                 Map<String, Long> problems) {
        byte[] acquire = ("ACQ4ME " + key + " 1 10 10\n").getBytes(StandardCharsets.US_ASCII);
        byte[] release = "RELEASE\n".getBytes(StandardCharsets.US_ASCII);
        while (!lineStop && !volatileStop) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setTcpNoDelay(true);
                s.setSoTimeout(60_000);
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                OutputStream out = s.getOutputStream();
                while (!lineStop && !volatileStop) {
                    out.write(acquire);
                    out.flush();
                    String r = in.readLine();
                    if (r == null) {
                        problems.merge("line: connection closed by the server", 1L, Long::sum);
                        break;
                    }
                    if (!r.equals("LOCKED")) {
                        problems.merge("line: ACQ4ME -> " + r, 1L, Long::sum);
                        continue;
                    }
                    long now = System.nanoTime();
                    if (armed && now - armedAfter > 0) {
                        firstSuccess.compareAndSet(0, now);
                    }
                    out.write(release);
                    out.flush();
                    r = in.readLine();
                    if (r == null) {
                        problems.merge("line: connection closed by the server", 1L, Long::sum);
                        break;
                    }
                    if (r.equals("RELEASED")) {
                        pairs.incrementAndGet();
                    } else {
                        problems.merge("line: RELEASE -> " + r, 1L, Long::sum);
                    }
                }
            } catch (IOException e) {
                problems.merge("line: " + e.getClass().getSimpleName(), 1L, Long::sum);
                Machine.sleep(50);
            }
        }
    }
}
