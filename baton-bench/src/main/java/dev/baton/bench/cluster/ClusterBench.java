package dev.baton.bench.cluster;

import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.PoolTotals;
import dev.baton.api.v1.StatusResponse;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.ProposalBatcher;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * Acquire + release throughput and acquire latency of a 3-node durable Baton cluster on loopback,
 * driven through the Java client ({@link BatonClient}, blocking calls).
 *
 * <p>Each client thread has its own {@code BatonClient}, hence its own session, gRPC channels and
 * request-id window: a session may hold at most 4 pool slots (the default {@code maxSlotsPerSession})
 * and keeps at most 49 writes in flight, so sharing clients between many threads would measure those
 * limits rather than the server. A thread loops: pick a key (uniformly at random among {@code keys}),
 * {@code pools().acquire(key, workers, maxQueue=100000, timeout=10 s, ACQ4ME)}, and at once (zero hold
 * time) {@code poolRelease(key, fence)}. A contended key makes the acquire wait in the server's queue;
 * the acquire latency includes that wait. Closed loop: every thread has one call outstanding.
 *
 * <p>Before the cells, a pre-warm ({@code --prewarm} s, not reported) runs the highest thread count
 * on 1 000 keys so that the JIT has compiled the hot paths of every JVM. A cell (threads x keys x
 * workers) runs a warm-up, then a measurement window. A pair counts when
 * its release completes inside the window; an acquire's latency is recorded when it completes inside
 * the window (HdrHistogram, microseconds). Errors (exceptions) and acquire outcomes other than
 * {@code POOL_LOCKED} are counted over the whole cell, warm-up included. Raft entries are the leader's
 * {@code applied_index} delta over the window ({@code Admin.Status}; it also counts the few
 * timer-driven entries); with {@code --in-process} the leader's {@code BatonNode.batcherStats()}
 * gives entries and commands proposed through the batcher as well. After each cell the pool totals
 * must show nothing held or waiting.
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.baton.bench.cluster.ClusterBench --server-cp baton.jar}
 * (see docs/benchmark-history.md, "Server", for every option).
 */
public final class ClusterBench {
    private static final int MAX_QUEUE = 100_000;

    private ClusterBench() {}

    /** The cluster under test: server processes, in-process servers, or endpoints given. */
    private interface Cluster extends AutoCloseable {
        /** API endpoints, the leader's first. */
        List<String> endpoints();

        /** The leader's applied index (Admin.Status), or -1. */
        long leaderApplied();

        /** The leader's batcher counters, in-process only. */
        Optional<ProposalBatcher.Stats> batcher();

        /** CPU ms used so far by each server process (in-process: empty). */
        Map<String, Long> serverCpu();

        @Override
        void close();
    }

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        List<Integer> threadsList = a.ints("threads", "1,8,64,256");
        List<Integer> keysList = a.ints("keys", "1,1000");
        List<Integer> workersList = a.ints("workers", "1,4");
        int warmup = a.integer("warmup", 10);
        int measure = a.integer("measure", 15);
        int reps = a.integer("reps", 1);
        int prewarm = a.integer("prewarm", 30);
        long timeoutMs = a.lng("timeout-ms", 10_000);
        String serverCp = a.str("server-cp", System.getProperty("java.class.path"));
        String serverJvm = a.str("server-jvm", ServerProcesses.SHIPPED_JVM);
        String serverArgs = a.str("server-args", "");
        boolean inProcess = a.flag("in-process");
        directExecutor = a.flag("client-direct-executor");
        String out = a.str("out", "");
        boolean keep = a.flag("keep");
        a.checkNoneUnknown();

        System.out.println(Machine.header());
        System.out.println("# ClusterBench threads=" + threadsList + " keys=" + keysList + " workers=" + workersList
                + " warmup=" + warmup + "s measure=" + measure + "s reps=" + reps + " timeout=" + timeoutMs + "ms"
                + (inProcess ? " in-process" : " processes: " + serverJvm + " " + serverArgs));
        int maxThreads = threadsList.stream().mapToInt(Integer::intValue).max().orElse(1);

        List<String> rows = new ArrayList<>();
        try (Cluster cluster = inProcess ? inProcessCluster() : processCluster(serverCp, serverJvm, serverArgs, keep)) {
            System.out.println("# endpoints (leader first) " + cluster.endpoints());
            AtomicLong sessionsLost = new AtomicLong();
            List<BatonClient> clients = openClients(cluster.endpoints(), maxThreads, sessionsLost);
            try {
                int cell = 0;
                if (prewarm > 0) {
                    // A fresh JVM (servers and this one) is still JIT-compiling for tens of seconds; a light
                    // first cell would pay for it. Warm every path once at the highest concurrency.
                    Row w = runCell(cluster, clients, 0, maxThreads, 1000, 4, prewarm - 1, 1, timeoutMs, sessionsLost);
                    System.out.println("# pre-warm " + prewarm + " s at " + maxThreads + " threads, 1000 keys, W=4: "
                            + String.format("%,.0f", w.pairsPerSec()) + " pairs/s in its last second; problems: "
                            + (w.problems().isEmpty() ? "none" : w.problems()));
                }
                System.out.println(Row.HEADER);
                for (int rep = 1; rep <= reps; rep++) {
                    for (int keys : keysList) {
                        for (int workers : workersList) {
                            for (int threads : threadsList) {
                                Row r = runCell(cluster, clients.subList(0, threads), ++cell, threads, keys, workers,
                                        warmup, measure, timeoutMs, sessionsLost);
                                System.out.println(r.markdown());
                                rows.add(r.csv());
                            }
                        }
                    }
                }
            } finally {
                ExecutorService closer = Executors.newFixedThreadPool(16);
                for (BatonClient c : clients) {
                    closer.execute(c::close);
                }
                closer.shutdown();
                closer.awaitTermination(60, TimeUnit.SECONDS);
            }
        }
        if (!out.isEmpty()) {
            try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(Path.of(out)))) {
                w.println(Row.CSV_HEADER);
                rows.forEach(w::println);
            }
            System.out.println("# wrote " + out);
        }
        System.exit(0); // gRPC and client threads are daemons, but do not wait for stragglers
    }

    /** {@code --client-direct-executor}: the clients' channels run callbacks on the transport thread. */
    private static boolean directExecutor;

    static List<BatonClient> openClients(List<String> endpoints, int n, AtomicLong lost) throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(16);
        List<Future<BatonClient>> fs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            BatonClient.Builder b = BatonClient.builder();
            if (directExecutor) {
                b.channelFactory(address -> io.grpc.ManagedChannelBuilder.forTarget(address).usePlaintext()
                        .maxInboundMessageSize(256 << 20).directExecutor().build());
            }
            fs.add(ex.submit(() -> b.endpoints(endpoints)
                    .onSessionLost(e -> {
                        lost.incrementAndGet();
                        System.err.println("# session lost: " + e.getMessage());
                    })
                    .build()));
        }
        List<BatonClient> out = new ArrayList<>();
        for (Future<BatonClient> f : fs) {
            out.add(f.get());
        }
        ex.shutdown();
        return out;
    }

    /** One load thread's counters. */
    private static final class Worker implements Runnable {
        final BatonClient client;
        final String[] keys;
        final int workers;
        final Duration timeout;
        final long measureStart;
        final long measureEnd;
        final Histogram acquire = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
        final Histogram release = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
        final Map<String, Long> problems = new TreeMap<>();
        long pairs;

        Worker(BatonClient client, String[] keys, int workers, Duration timeout, long measureStart, long measureEnd) {
            this.client = client;
            this.keys = keys;
            this.workers = workers;
            this.timeout = timeout;
            this.measureStart = measureStart;
            this.measureEnd = measureEnd;
        }

        private void problem(String what) {
            problems.merge(what, 1L, Long::sum);
        }

        private boolean inWindow(long t) {
            return t - measureStart >= 0 && t - measureEnd < 0;
        }

        @Override
        public void run() {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            while (System.nanoTime() - measureEnd < 0) {
                String key = keys.length == 1 ? keys[0] : keys[rnd.nextInt(keys.length)];
                long t0 = System.nanoTime();
                PoolReply got;
                try {
                    got = client.pools().acquire(key, workers, MAX_QUEUE, timeout, false);
                } catch (BatonException e) {
                    problem("acquire " + e.getClass().getSimpleName() + " " + e.statusCode()
                            + (e.errorCode() == null ? "" : "/" + e.errorCode()));
                    releaseQuietly(key);
                    continue;
                }
                long t1 = System.nanoTime();
                if (got.status() != PoolStatus.LOCKED) {
                    problem("acquire status " + got.status());
                    continue;
                }
                if (inWindow(t1)) {
                    acquire.recordValue(Math.min((t1 - t0) / 1000, acquire.getHighestTrackableValue()));
                }
                PoolReply rel;
                try {
                    rel = client.pools().release(key, got.fence());
                } catch (BatonException e) {
                    problem("release " + e.getClass().getSimpleName() + " " + e.statusCode()
                            + (e.errorCode() == null ? "" : "/" + e.errorCode()));
                    continue;
                }
                long t2 = System.nanoTime();
                if (rel.status() != PoolStatus.RELEASED) {
                    problem("release status " + rel.status());
                } else if (inWindow(t2)) {
                    release.recordValue(Math.min((t2 - t1) / 1000, release.getHighestTrackableValue()));
                    pairs++;
                }
            }
        }

        /** After a failed acquire the outcome is unknown: give back whatever the session may hold on the key. */
        private void releaseQuietly(String key) {
            try {
                client.pools().release(key);
            } catch (BatonException ignored) {
                // nothing held, or the cluster is still unavailable
            }
        }
    }

    record Row(int cell, int threads, int keys, int workers, double pairsPerSec, Histogram acq, Histogram rel,
               double entriesPerSec, double cmdsPerEntryFromIndex, double batcherEntriesPerSec,
               double batcherCmdsPerEntry, long errors, String problems, String load, String cpu, double cpuCores,
               long lost) {
        static final String HEADER = "| threads | keys | W | pairs/s | acquire p50 ms | p99 ms | p99.9 ms | max ms "
                + "| release p50 ms | entries/s (applied idx) | cmds/entry | batcher entries/s | batcher cmds/entry "
                + "| errors+non-LOCKED | load (1 min) | CPU cores: bench, servers | CPU ms/pair |\n"
                + "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|";
        static final String CSV_HEADER = "cell,threads,keys,workers,pairs_per_s,acq_p50_us,acq_p99_us,acq_p999_us,acq_max_us,"
                + "acq_mean_us,rel_p50_us,rel_p99_us,entries_per_s,cmds_per_entry,batcher_entries_per_s,"
                + "batcher_cmds_per_entry,problems,load1,cpu,cpu_cores,sessions_lost";

        private static String ms(long us) {
            return String.format("%.2f", us / 1000.0);
        }

        String markdown() {
            return String.format("| %d | %d | %d | %,.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
                    threads, keys, workers, pairsPerSec,
                    ms(acq.getValueAtPercentile(50)), ms(acq.getValueAtPercentile(99)),
                    ms(acq.getValueAtPercentile(99.9)), ms(acq.getMaxValue()), ms(rel.getValueAtPercentile(50)),
                    entriesPerSec < 0 ? "–" : String.format("%,.0f", entriesPerSec),
                    cmdsPerEntryFromIndex < 0 ? "–" : String.format("%.1f", cmdsPerEntryFromIndex),
                    batcherEntriesPerSec < 0 ? "–" : String.format("%,.0f", batcherEntriesPerSec),
                    batcherCmdsPerEntry < 0 ? "–" : String.format("%.1f", batcherCmdsPerEntry),
                    problems.isEmpty() ? "0" : problems + (lost > 0 ? "; sessions lost " + lost : ""),
                    load, cpu, pairsPerSec <= 0 ? "–" : String.format("%.2f", cpuCores * 1000 / pairsPerSec));
        }

        String csv() {
            return String.join(",", Integer.toString(cell), Integer.toString(threads), Integer.toString(keys),
                    Integer.toString(workers), String.format("%.1f", pairsPerSec),
                    Long.toString(acq.getValueAtPercentile(50)), Long.toString(acq.getValueAtPercentile(99)),
                    Long.toString(acq.getValueAtPercentile(99.9)), Long.toString(acq.getMaxValue()),
                    String.format("%.0f", acq.getMean()),
                    Long.toString(rel.getValueAtPercentile(50)), Long.toString(rel.getValueAtPercentile(99)),
                    String.format("%.1f", entriesPerSec), String.format("%.2f", cmdsPerEntryFromIndex),
                    String.format("%.1f", batcherEntriesPerSec), String.format("%.2f", batcherCmdsPerEntry),
                    '"' + problems + '"', load, '"' + cpu + '"', String.format("%.3f", cpuCores), Long.toString(lost));
        }
    }

    static Row runCell(Cluster cluster, List<BatonClient> clients, int cell, int threads, int keys, int workers,
                       int warmupS, int measureS, long timeoutMs, AtomicLong sessionsLost) throws Exception {
        String[] names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "c" + cell + "-k" + i;
        }
        long lostBefore = sessionsLost.get();
        long start = System.nanoTime();
        long mStart = start + TimeUnit.SECONDS.toNanos(warmupS);
        long mEnd = mStart + TimeUnit.SECONDS.toNanos(measureS);
        List<Worker> ws = new ArrayList<>();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Worker w = new Worker(clients.get(i), names, workers, Duration.ofMillis(timeoutMs), mStart, mEnd);
            ws.add(w);
            Thread t = new Thread(w, "load-" + i);
            t.setDaemon(true);
            ts.add(t);
        }
        ts.forEach(Thread::start);

        // Sample the leader's counters at the window's edges.
        sleepUntil(mStart);
        long idx0 = cluster.leaderApplied();
        Optional<ProposalBatcher.Stats> b0 = cluster.batcher();
        Map<String, Long> cpu0 = cluster.serverCpu();
        long self0 = Machine.cpuMillis(ProcessHandle.current().pid());
        long wall0 = System.nanoTime();
        double loadStart = Machine.load1();
        sleepUntil(mEnd);
        long idx1 = cluster.leaderApplied();
        Optional<ProposalBatcher.Stats> b1 = cluster.batcher();
        Map<String, Long> cpu1 = cluster.serverCpu();
        long self1 = Machine.cpuMillis(ProcessHandle.current().pid());
        double wallMs = (System.nanoTime() - wall0) / 1e6;
        double loadEnd = Machine.load1();

        for (Thread t : ts) {
            t.join(TimeUnit.MILLISECONDS.toMillis(timeoutMs + 30_000));
            if (t.isAlive()) {
                System.err.println("# " + t.getName() + " still running after the cell: stuck call?");
            }
        }

        Histogram acq = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
        Histogram rel = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
        long pairs = 0;
        Map<String, Long> problems = new TreeMap<>();
        for (Worker w : ws) {
            acq.add(w.acquire);
            rel.add(w.release);
            pairs += w.pairs;
            w.problems.forEach((k, v) -> problems.merge(k, v, Long::sum));
        }
        long errors = problems.values().stream().mapToLong(Long::longValue).sum();

        // Nothing may be left held or waiting.
        PoolTotals totals = clients.get(0).pools().totals();
        if (totals.processing() != 0 || totals.waiting() != 0) {
            problems.merge("left over: processing=" + totals.processing() + " waiting=" + totals.waiting(), 1L,
                    Long::sum);
        }

        double secs = measureS;
        double pairsPerSec = pairs / secs;
        double entriesPerSec = idx0 < 0 || idx1 < 0 ? -1 : (idx1 - idx0) / secs;
        double cmdsPerEntry = entriesPerSec <= 0 ? -1 : 2.0 * pairs / (idx1 - idx0);
        double bEntries = -1;
        double bCmds = -1;
        if (b0.isPresent() && b1.isPresent()) {
            long de = b1.get().entriesProposed() - b0.get().entriesProposed();
            long dc = b1.get().commandsProposed() - b0.get().commandsProposed();
            bEntries = de / secs;
            bCmds = de == 0 ? 0 : (double) dc / de;
        }
        StringBuilder cpu = new StringBuilder(String.format("%.2f", (self1 - self0) / wallMs));
        double cores = (self1 - self0) / wallMs;
        for (Map.Entry<String, Long> e : cpu1.entrySet()) {
            Long before = cpu0.get(e.getKey());
            if (before != null && before >= 0 && e.getValue() >= 0) {
                cpu.append(String.format(", %s %.2f", e.getKey(), (e.getValue() - before) / wallMs));
                cores += (e.getValue() - before) / wallMs;
            }
        }
        StringBuilder probs = new StringBuilder();
        problems.forEach((k, v) -> probs.append(probs.length() == 0 ? "" : "; ").append(k).append(" x").append(v));
        String load = String.format("%.1f–%.1f", loadStart, loadEnd);
        Row row = new Row(cell, threads, keys, workers, pairsPerSec, acq, rel, entriesPerSec, cmdsPerEntry, bEntries,
                bCmds, errors, probs.toString(), load, cpu.toString(), cores, sessionsLost.get() - lostBefore);
        System.err.printf("# cell %d: threads=%d keys=%d W=%d pairs=%d in %ds; acquire mean %.0f us, stddev %.0f us%n",
                cell, threads, keys, workers, pairs, measureS, acq.getMean(), acq.getStdDeviation());
        return row;
    }

    private static void sleepUntil(long nanoTime) {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            Machine.sleep(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    // ---- clusters -------------------------------------------------------------------------------

    private static Cluster processCluster(String cp, String jvm, String serverArgs, boolean keep) throws IOException {
        ServerProcesses procs = new ServerProcesses(3, cp, jvm, serverArgs);
        procs.startAll();
        Optional<ServerProcesses.Node> leader = procs.awaitLeader(60_000);
        if (leader.isEmpty()) {
            String logs = procs.logs(30);
            procs.close();
            throw new IllegalStateException("no leader within 60 s\n" + logs);
        }
        // Let the leader's start-up writes (limits, address announcements) settle.
        procs.awaitSettled(0, 30_000);
        Machine.sleep(1000);
        System.out.println("# servers in " + procs.root() + ", leader " + leader.get().id + "; command: "
                + String.join(" ", procs.command(leader.get())));
        return new Cluster() {
            @Override
            public List<String> endpoints() {
                List<String> eps = new ArrayList<>();
                ServerProcesses.Node l = procs.awaitLeader(30_000).orElseThrow();
                eps.add(l.api());
                procs.nodes().stream().filter(n -> n != l).forEach(n -> eps.add(n.api()));
                return eps;
            }

            @Override
            public long leaderApplied() {
                for (ServerProcesses.Node n : procs.nodes()) {
                    Optional<StatusResponse> st = procs.status(n, 2000);
                    if (st.isPresent() && st.get().getIsLeader()) {
                        return st.get().getAppliedIndex();
                    }
                }
                return -1;
            }

            @Override
            public Optional<ProposalBatcher.Stats> batcher() {
                return Optional.empty();
            }

            @Override
            public Map<String, Long> serverCpu() {
                Map<String, Long> m = new TreeMap<>();
                for (ServerProcesses.Node n : procs.nodes()) {
                    Optional<StatusResponse> st = procs.status(n, 2000);
                    String role = st.isPresent() && st.get().getIsLeader() ? n.id + "(L)" : n.id;
                    m.put(role, Machine.cpuMillis(n.pid()));
                }
                return m;
            }

            @Override
            public void close() {
                procs.close(keep);
            }
        };
    }

    private static Cluster inProcessCluster() throws Exception {
        Path root = Files.createTempDirectory("baton-bench-inproc-");
        List<String> peers = new ArrayList<>();
        int[] ports = new int[3];
        for (int i = 0; i < 3; i++) {
            ports[i] = Machine.freePort();
            peers.add("127.0.0.1:" + ports[i]);
        }
        List<ApiServer> servers = new ArrayList<>();
        dev.baton.server.grpc.ClusterSecret secret = dev.baton.server.grpc.ClusterSecret.random(); // shared in this JVM
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", root.resolve("n" + (i + 1)),
                    "127.0.0.1", ports[i], peers, 1000, 3600, true);
            servers.add(new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity(),
                    false, null, null, secret)).start());
        }
        java.util.function.Supplier<ApiServer> leader = () -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                for (ApiServer s : servers) {
                    if (s.node().isLeader()) {
                        return s;
                    }
                }
                Machine.sleep(10);
            }
            throw new IllegalStateException("no leader within 60 s");
        };
        leader.get();
        Machine.sleep(2000); // address announcements and limits
        System.out.println("# in-process servers in " + root + ", leader " + leader.get().node().options().nodeId());
        return new Cluster() {
            @Override
            public List<String> endpoints() {
                ApiServer l = leader.get();
                List<String> eps = new ArrayList<>();
                eps.add(l.apiEndpoint());
                servers.stream().filter(s -> s != l).forEach(s -> eps.add(s.apiEndpoint()));
                return eps;
            }

            @Override
            public long leaderApplied() {
                return leader.get().node().lastAppliedIndex();
            }

            @Override
            public Optional<ProposalBatcher.Stats> batcher() {
                return Optional.of(leader.get().node().batcherStats());
            }

            @Override
            public Map<String, Long> serverCpu() {
                return Map.of();
            }

            @Override
            public void close() {
                servers.forEach(ApiServer::close);
                Machine.deleteTree(root);
            }
        };
    }
}
