package dev.baton.bench.load;

import dev.baton.bench.cluster.Machine;
import dev.baton.bench.load.Contender.ContenderException;
import dev.baton.bench.load.Contender.Handle;
import dev.baton.bench.load.Contender.Outcome;
import dev.baton.bench.load.Contender.Request;
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * The closed-loop load generator of every comparison: {@code C} client threads, each with its own
 * {@link Handle} (connection or session) on a {@link Contender}, over {@code K} keys drawn uniformly or
 * from a Zipf distribution, {@code W} holders per key.
 *
 * <p>A thread loops: pick a key, acquire it (for-me, or for-anyone when asked), and when granted hold
 * it for {@code H} (a busy-free park), then release it; the next acquire follows at once. {@code maxQueue}
 * is passed through and should be far above {@code C}, so that no contender refuses.
 *
 * <p>Measured window: after the warm-up, for the duration. A pair counts when its release returns
 * inside the window; acquire latency (request sent to grant or DONE received, waiting included) and
 * pair latency (to release confirmed) are recorded in HdrHistograms (microseconds) for calls that end
 * inside the window, and so are the outcome counts. Errors (exceptions, unexpected replies) are
 * counted over the whole run, warm-up included; after one the thread drops its handle, pauses 10 ms
 * and opens a new one. After {@code TIMEOUT} or {@code QUEUE_FULL} it pauses 10 ms too, so that a
 * refusing server is not spun on.
 *
 * <p>Live safety check: every key's holders as the clients see them (incremented after the grant is
 * received, decremented before the release is sent) can only under-count the server's holders, so a
 * count above {@code W} is a real violation of the limit. With a nonzero hold time overlapping grants
 * would be seen.
 *
 * <p>Handles are opened before the clock starts (up to 60 s for all). Once the window ends every
 * thread finishes its pair; a thread still blocked {@code timeout + 15 s} later is counted as stuck
 * and its handle closed.
 *
 * <p>With {@link Connect#PER_PAIR} (connection churn, as MediaWiki uses PoolCounter: a connection per web
 * request) a thread instead opens a new handle (connection or session, see
 * {@link Contender#perPair()}) before every acquire and closes it after the release, or after any
 * other outcome. Then the open time is recorded apart ({@code open} latency, from the start of the open
 * to its return); acquire latency starts after it, so it does not include the connect (but it does
 * include whatever a server does lazily on a connection's first command); pair latency runs from the
 * start of the open to the return of the close, and a pair counts when its close returns inside the
 * window. Nothing is opened before the clock starts.
 */
public final class Load {
    /**
     * The clients go on starting pairs this long after the window (pairs are counted only inside it),
     * so that every client thread is still alive when the window's end figures are read: the thread
     * runs of this process ({@link Machine#threadRuns}) are summed over live threads, and a client
     * thread that had already ended would take all of its runs out of the sum.
     */
    static final long LOAD_AFTER_WINDOW_MS = 500;

    /** A contender without a replicated log. */
    private static final LongSupplier NO_LOG = () -> -1;

    /** Largest latency kept exactly; longer ones are recorded as this. */
    private static final long MAX_US = TimeUnit.SECONDS.toMicros(600);

    private Load() {}

    /**
     * One run. {@code holdMicros}: how long a grant is held. {@code pids}: server processes whose CPU
     * use over the window is reported.
     */
    public record Config(String label, int clients, Keys keys, int workers, int maxQueue, int timeoutS,
                         long holdMicros, int warmupS, int durationS, boolean forAnyone, List<Long> pids,
                         Connect connect, LongSupplier logIndex) {
        public Config {
            if (clients < 1 || workers < 1 || maxQueue < 1 || timeoutS < 0 || holdMicros < 0 || warmupS < 0
                    || durationS < 1) {
                throw new IllegalArgumentException("clients, workers, maxqueue, duration >= 1; timeout, hold,"
                        + " warm-up >= 0: " + this);
            }
            pids = List.copyOf(pids);
            Objects.requireNonNull(connect, "connect");
            logIndex = logIndex == null ? NO_LOG : logIndex;
        }

        public Config(String label, int clients, Keys keys, int workers, int maxQueue, int timeoutS, long holdMicros,
                      int warmupS, int durationS, boolean forAnyone, List<Long> pids, Connect connect) {
            this(label, clients, keys, workers, maxQueue, timeoutS, holdMicros, warmupS, durationS, forAnyone, pids,
                    connect, NO_LOG);
        }

        /** Connections kept by the client threads. */
        public Config(String label, int clients, Keys keys, int workers, int maxQueue, int timeoutS, long holdMicros,
                      int warmupS, int durationS, boolean forAnyone, List<Long> pids) {
            this(label, clients, keys, workers, maxQueue, timeoutS, holdMicros, warmupS, durationS, forAnyone, pids,
                    Connect.KEPT, NO_LOG);
        }

        public String mode() {
            return forAnyone ? "ACQ4ANY" : "ACQ4ME";
        }

        public Config withLabel(String l) {
            return new Config(l, clients, keys, workers, maxQueue, timeoutS, holdMicros, warmupS, durationS, forAnyone,
                    pids, connect, logIndex);
        }

        public Config withTimes(int warmup, int duration) {
            return new Config(label, clients, keys, workers, maxQueue, timeoutS, holdMicros, warmup, duration,
                    forAnyone, pids, connect, logIndex);
        }

        public Config withConnect(Connect c) {
            return new Config(label, clients, keys, workers, maxQueue, timeoutS, holdMicros, warmupS, durationS,
                    forAnyone, pids, c, logIndex);
        }

        /**
         * The servers' replicated log index (a Raft leader's last applied index), read at the window's
         * edges to report log entries per pair; -1 where there is no such log.
         */
        public Config withLogIndex(LongSupplier index) {
            return new Config(label, clients, keys, workers, maxQueue, timeoutS, holdMicros, warmupS, durationS,
                    forAnyone, pids, connect, index);
        }
    }

    /** Whether a client thread keeps its connection or session, or opens one per acquire+release pair. */
    public enum Connect {
        /** One handle per client thread for the whole run (re-opened only after an error). */
        KEPT("kept"),
        /** A new handle per pair: open, acquire, release, close (connection churn). */
        PER_PAIR("per-pair");

        private final String label;

        Connect(String label) {
            this.label = label;
        }

        /** {@code kept} or {@code per-pair}, as in options and JSON lines. */
        public String label() {
            return label;
        }

        public static Connect parse(String s) {
            for (Connect c : values()) {
                if (c.label.equals(s.trim())) {
                    return c;
                }
            }
            throw new IllegalArgumentException("connect is kept or per-pair, got " + s);
        }

        /** A comma-separated list, e.g. {@code kept,per-pair}; no duplicates, in the order given. */
        public static List<Connect> parseList(String s) {
            List<Connect> out = new ArrayList<>();
            for (String p : s.split(",")) {
                if (!p.isBlank() && !out.contains(parse(p))) {
                    out.add(parse(p));
                }
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException("no connect mode in " + s);
            }
            return out;
        }
    }

    /**
     * What one run measured. {@code outcomes}: acquire outcomes ended inside the window, by kind;
     * {@code errors}: errors over the whole run, by kind; {@code open}: the open times of the handles
     * opened per pair (empty when connections are kept); {@code pairsInRun}: acquire + release pairs
     * completed at any time in the run (warm-up and the drain after the window included), which says
     * whether the contender worked at all without depending on how fast it was inside the window.
     */
    public record Result(String contender, Config config, Instant started, long pairs, long pairsInRun, long dones,
                         Histogram acquire,
                         Histogram pair, Histogram open, Map<String, Long> outcomes, Map<String, Long> errors, long violations,
                         long stuck, double load1Start, double load1End, double clientCpuCores,
                         double serverCpuCores, double clientKernelCpuCores, double serverKernelCpuCores,
                         long logEntries, long clientRuns, long serverRuns) {
        public double pairsPerSec() {
            return pairs / (double) config.durationS();
        }

        public double donesPerSec() {
            return dones / (double) config.durationS();
        }

        public long timeouts() {
            return outcomes.getOrDefault(Outcome.TIMEOUT.name(), 0L);
        }

        public long queueFull() {
            return outcomes.getOrDefault(Outcome.QUEUE_FULL.name(), 0L);
        }

        public long errorCount() {
            return errors.values().stream().mapToLong(Long::longValue).sum();
        }

        /** Timeouts, queue-full refusals, errors, stuck threads and violations. */
        public long problems() {
            return timeouts() + queueFull() + errorCount() + stuck + violations;
        }

        /**
         * Times the threads of the load generator ({@code client}) or of the servers were put on a CPU
         * over the window, per pair ({@link Machine#threadRuns}), or -1 where not measured.
         */
        public double runsPerPair(boolean servers) {
            long runs = servers ? serverRuns : clientRuns;
            return runs < 0 || pairs <= 0 ? -1 : runs / (double) pairs;
        }

        /** Pairs per log entry over the window, or -1 without a replicated log. */
        public double pairsPerEntry() {
            return logEntries <= 0 ? -1 : pairs / (double) logEntries;
        }

        public String human() {
            Config c = config;
            boolean perPair = c.connect() == Connect.PER_PAIR;
            return String.format(Locale.ROOT,
                    "%s: %d clients, %d keys %s, W=%d, hold %s ms, %s, %s: %,.0f pairs/s%s;%s acquire p50 %d us,"
                            + " p99 %d us, p99.9 %d us, max %d us; pair%s p50 %d us, p99 %d us; outcomes %s; errors %s;"
                            + " stuck %d; violations %d; load %.2f-%.2f; cpu cores client %.2f, server %s%s%s%s",
                    c.label(), c.clients(), c.keys().count(), c.keys().describe(), c.workers(), holdMs(c),
                    perPair ? "a connection per pair" : "kept connections", c.mode(), pairsPerSec(),
                    c.forAnyone() ? String.format(Locale.ROOT, " + %,.0f DONE/s", donesPerSec()) : "",
                    perPair ? String.format(Locale.ROOT, " open p50 %d us, p99 %d us;", open.getValueAtPercentile(50),
                            open.getValueAtPercentile(99)) : "",
                    acquire.getValueAtPercentile(50), acquire.getValueAtPercentile(99),
                    acquire.getValueAtPercentile(99.9), acquire.getMaxValue(), perPair ? " (open to close)" : "",
                    pair.getValueAtPercentile(50), pair.getValueAtPercentile(99), outcomes, errors, stuck, violations, load1Start, load1End,
                    clientCpuCores, serverCpuCores < 0 ? "?" : String.format(Locale.ROOT, "%.2f", serverCpuCores),
                    clientKernelCpuCores < 0 ? "" : String.format(Locale.ROOT, " (in the kernel: client %.2f, server %s)",
                            clientKernelCpuCores, serverKernelCpuCores < 0 ? "?"
                                    : String.format(Locale.ROOT, "%.2f", serverKernelCpuCores)),
                    logEntries < 0 ? "" : String.format(Locale.ROOT, "; log entries %,d (%.1f pairs per entry)",
                            logEntries, pairsPerEntry()),
                    runsPerPair(false) < 0 ? "" : String.format(Locale.ROOT, "; thread runs per pair client %.2f, server %s",
                            runsPerPair(false), runsPerPair(true) < 0 ? "?"
                                    : String.format(Locale.ROOT, "%.2f", runsPerPair(true))));
        }

        /** One JSON object on one line; {@code extra} (string fields) go first. */
        public String json(Map<String, String> extra) {
            Config c = config;
            Json.Obj o = new Json.Obj();
            o.str("type", "result");
            extra.forEach(o::str);
            o.str("contender", contender);
            o.str("label", c.label());
            o.str("time", started.truncatedTo(ChronoUnit.SECONDS).toString());
            o.str("mode", c.mode());
            o.str("connect", c.connect().label());
            o.num("clients", c.clients());
            o.num("keys", c.keys().count());
            o.str("dist", c.keys().describe());
            o.num("workers", c.workers());
            o.num("maxqueue", c.maxQueue());
            o.num("timeout_s", c.timeoutS());
            o.num("hold_ms", c.holdMicros() / 1000.0, 3);
            o.num("warmup_s", c.warmupS());
            o.num("duration_s", c.durationS());
            o.num("pairs", pairs);
            o.num("pairs_per_s", pairsPerSec(), 1);
            o.num("done_per_s", donesPerSec(), 1);
            o.num("acq_p50_us", acquire.getValueAtPercentile(50));
            o.num("acq_p99_us", acquire.getValueAtPercentile(99));
            o.num("acq_p999_us", acquire.getValueAtPercentile(99.9));
            o.num("acq_max_us", acquire.getMaxValue());
            o.num("acq_mean_us", acquire.getMean(), 1);
            o.num("pair_p50_us", pair.getValueAtPercentile(50));
            o.num("pair_p99_us", pair.getValueAtPercentile(99));
            if (c.connect() == Connect.PER_PAIR) {
                o.num("open_p50_us", open.getValueAtPercentile(50));
                o.num("open_p99_us", open.getValueAtPercentile(99));
            }
            o.counts("outcomes", outcomes);
            o.num("timeouts", timeouts());
            o.num("queue_full", queueFull());
            o.num("errors", errorCount());
            o.counts("error_kinds", errors);
            o.num("stuck", stuck);
            o.num("violations", violations);
            o.num("load1_start", load1Start, 2);
            o.num("load1_end", load1End, 2);
            o.num("client_cpu_cores", clientCpuCores, 3);
            o.num("server_cpu_cores", serverCpuCores, 3);
            if (clientKernelCpuCores >= 0) {
                o.num("client_kernel_cpu_cores", clientKernelCpuCores, 3);
            }
            if (serverKernelCpuCores >= 0) {
                o.num("server_kernel_cpu_cores", serverKernelCpuCores, 3);
            }
            if (runsPerPair(false) >= 0) {
                o.num("client_runs_per_pair", runsPerPair(false), 2);
            }
            if (runsPerPair(true) >= 0) {
                o.num("server_runs_per_pair", runsPerPair(true), 2);
            }
            if (logEntries >= 0) {
                o.num("log_entries", logEntries);
                o.num("pairs_per_entry", pairsPerEntry(), 2);
            }
            o.num("nproc", Runtime.getRuntime().availableProcessors());
            return o.toString();
        }
    }

    static String holdMs(Config c) {
        return c.holdMicros() % 1000 == 0 ? Long.toString(c.holdMicros() / 1000)
                : String.format(Locale.ROOT, "%.3f", c.holdMicros() / 1000.0);
    }

    // ---- the run ---------------------------------------------------------------------------------

    /** Runs one configuration and returns once every client thread has stopped (or been given up on). */
    public static Result run(Contender contender, Config c) throws InterruptedException {
        if (c.forAnyone() && !contender.supportsForAnyone()) {
            throw new IllegalArgumentException(contender.name() + " has no acquire-for-anyone");
        }
        contender.runStarts();
        Shared s = new Shared(contender, c);
        List<Client> clients = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < c.clients(); i++) {
            Client cl = new Client(s);
            clients.add(cl);
            Thread th = new Thread(cl, "load-" + contender.name() + "-" + i);
            th.setDaemon(true);
            threads.add(th);
        }
        Instant started = Instant.now();
        threads.forEach(Thread::start);
        // Opening sessions is not part of the load: the clock starts once all have tried.
        s.opened.await(60, TimeUnit.SECONDS);
        long start = System.nanoTime();
        s.measureStart = start + TimeUnit.SECONDS.toNanos(c.warmupS());
        s.measureEnd = s.measureStart + TimeUnit.SECONDS.toNanos(c.durationS());
        s.loadEnd = s.measureEnd + TimeUnit.MILLISECONDS.toNanos(LOAD_AFTER_WINDOW_MS);
        s.go.countDown();

        sleepUntil(s.measureStart);
        double load0 = Machine.load1();
        long self0 = Machine.cpuMillis(ProcessHandle.current().pid());
        long server0 = serverCpu(c.pids());
        long selfKernel0 = Machine.kernelCpuMillis(ProcessHandle.current().pid());
        long serverKernel0 = sumOver(c.pids(), Machine::kernelCpuMillis);
        long selfRuns0 = Machine.threadRuns(ProcessHandle.current().pid());
        long serverRuns0 = serverRuns(c.pids());
        long log0 = c.logIndex().getAsLong();
        long wall0 = System.nanoTime();
        sleepUntil(s.measureEnd);
        double wallMs = (System.nanoTime() - wall0) / 1e6;
        long self1 = Machine.cpuMillis(ProcessHandle.current().pid());
        long server1 = serverCpu(c.pids());
        long selfKernel1 = Machine.kernelCpuMillis(ProcessHandle.current().pid());
        long serverKernel1 = sumOver(c.pids(), Machine::kernelCpuMillis);
        long selfRuns1 = Machine.threadRuns(ProcessHandle.current().pid());
        long serverRuns1 = serverRuns(c.pids());
        long log1 = c.logIndex().getAsLong();
        double load1 = Machine.load1();

        // Threads finish the pair they are in; a waiting acquire may take up to the timeout.
        long joinDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(c.timeoutS() + 15L);
        long stuck = 0;
        for (int i = 0; i < threads.size(); i++) {
            threads.get(i).join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(joinDeadline - System.nanoTime())));
            if (threads.get(i).isAlive()) {
                stuck++;
                clients.get(i).closeHandle(); // unblocks its call
            }
        }
        for (Thread t : threads) {
            t.join(5_000); // a closed handle ends the call; the thread then closes nothing more
        }

        Histogram acq = new Histogram(MAX_US, 3);
        Histogram pair = new Histogram(MAX_US, 3);
        Histogram open = new Histogram(MAX_US, 3);
        Map<String, Long> outcomes = new TreeMap<>();
        long pairs = 0;
        long pairsInRun = 0;
        long dones = 0;
        for (Client cl : clients) {
            synchronized (cl) { // a stuck thread may still be writing to its own counters
                acq.add(cl.acquire);
                pair.add(cl.pair);
                open.add(cl.open);
                pairs += cl.pairs;
                pairsInRun += cl.pairsInRun;
                dones += cl.dones;
                cl.outcomes.forEach((k, v) -> outcomes.merge(k, v, Long::sum));
            }
        }
        Map<String, Long> errors;
        synchronized (s.errors) {
            errors = new TreeMap<>(s.errors);
        }
        double serverCores = server0 < 0 || server1 < 0 ? -1 : (server1 - server0) / wallMs;
        return new Result(contender.name(), c, started, pairs, pairsInRun, dones, acq, pair, open, outcomes, errors, s.violations.get(),
                stuck, load0, load1, (self1 - self0) / wallMs, serverCores,
                selfKernel0 < 0 || selfKernel1 < 0 ? -1 : (selfKernel1 - selfKernel0) / wallMs,
                serverKernel0 < 0 || serverKernel1 < 0 ? -1 : (serverKernel1 - serverKernel0) / wallMs,
                log0 < 0 || log1 < 0 ? -1 : log1 - log0,
                selfRuns0 < 0 || selfRuns1 < 0 ? -1 : selfRuns1 - selfRuns0,
                serverRuns0 < 0 || serverRuns1 < 0 ? -1 : serverRuns1 - serverRuns0);
    }

    /** State shared by the client threads of one run. */
    private static final class Shared {
        final Contender contender;
        final Config c;
        final Duration timeout;
        final AtomicIntegerArray holders;
        final AtomicLong violations = new AtomicLong();
        final Map<String, Long> errors = new HashMap<>();
        final CountDownLatch opened;
        final CountDownLatch go = new CountDownLatch(1);
        volatile long measureStart;
        volatile long measureEnd;
        /** When the clients stop starting pairs: a little after the window, see {@link #LOAD_AFTER_WINDOW_MS}. */
        volatile long loadEnd;

        Shared(Contender contender, Config c) {
            this.contender = contender;
            this.c = c;
            this.timeout = Duration.ofSeconds(c.timeoutS());
            this.holders = new AtomicIntegerArray(c.keys().count());
            this.opened = new CountDownLatch(c.clients());
        }

        void error(String kind, Throwable cause) {
            String k = kind.length() > 80 ? kind.substring(0, 80) : kind;
            boolean first;
            synchronized (errors) {
                first = errors.merge(k, 1L, Long::sum) == 1L;
            }
            if (first) { // the first of each kind, so that a run's error counts come with a reason
                System.err.println("# first error " + k + " (" + contender.name() + "): " + cause);
            }
        }
    }

    /** One client thread and its handle; its counters are read after the thread stops. */
    private static final class Client implements Runnable {
        final Shared s;
        final Histogram acquire = new Histogram(MAX_US, 3);
        final Histogram pair = new Histogram(MAX_US, 3);
        final Histogram open = new Histogram(MAX_US, 3);
        final Map<String, Long> outcomes = new HashMap<>();
        long pairs;
        long pairsInRun;
        long dones;
        private volatile Handle handle;
        /** Where the handles come from with a connection per pair; null when the handle is kept. */
        private Contender.PerPair opener;
        /** Index of the key this client holds, or -1. */
        private int held = -1;

        Client(Shared s) {
            this.s = s;
        }

        @Override
        public void run() {
            boolean kept = s.c.connect() == Connect.KEPT;
            try {
                if (kept) {
                    open();
                } else {
                    opener = s.contender.perPair();
                }
            } catch (Exception e) {
                failed("open", e);
            } finally {
                s.opened.countDown();
            }
            try {
                s.go.await();
            } catch (InterruptedException e) {
                closePerPair();
                return;
            }
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            while (System.nanoTime() - s.loadEnd < 0) {
                try {
                    if (kept) {
                        if (handle == null) {
                            open();
                        }
                        cycle(s.c.keys().next(rnd), handle, false, 0);
                    } else {
                        if (opener == null) {
                            opener = s.contender.perPair();
                        }
                        pairOnItsOwnHandle(s.c.keys().next(rnd));
                    }
                } catch (Exception e) {
                    failed(null, e);
                }
            }
            closeHandle();
            closePerPair();
        }

        /** Connection churn: open a handle, acquire (and release), close it, whatever the outcome. */
        private void pairOnItsOwnHandle(int k) throws Exception {
            long opening = System.nanoTime();
            Handle h;
            try {
                h = opener.open();
            } catch (Exception e) {
                failed("open", e);
                return;
            }
            handle = h;
            try {
                cycle(k, h, true, opening);
            } finally {
                dropHold();
                closeHandle();
            }
        }

        private void closePerPair() {
            if (opener != null) {
                opener.close();
                opener = null;
            }
        }

        /** Counts the error, forgets the hold, drops the handle (its server state is unknown) and pauses. */
        private void failed(String stage, Exception e) {
            Throwable t = e;
            while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
                t = t.getCause(); // a failed future: its cause says what went wrong
            }
            String kind = t instanceof ContenderException ce ? ce.kind() : t.getClass().getSimpleName();
            s.error(stage == null ? kind : stage + ":" + kind, t);
            dropHold();
            closeHandle();
            pause();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }

        private void open() throws Exception {
            handle = s.contender.open();
        }

        /**
         * One acquire, and release if granted. {@code perPair}: {@code h} was opened for this pair alone,
         * the open starting at {@code opening}: its open time is recorded, it is closed after the release
         * and the pair is timed from the open.
         */
        private void cycle(int k, Handle h, boolean perPair, long opening) throws Exception {
            Request req = new Request(s.c.keys().name(k), s.c.workers(), s.c.maxQueue(), s.timeout, s.c.forAnyone());
            long t0 = System.nanoTime();
            if (perPair && inWindow(t0)) {
                record(open, t0 - opening);
            }
            Outcome o = h.acquire(req);
            long t1 = System.nanoTime();
            boolean inWindow = inWindow(t1);
            count(o.name(), inWindow);
            switch (o) {
                case GRANTED -> {
                    held = k;
                    if (s.holders.incrementAndGet(k) > s.c.workers()) {
                        s.violations.incrementAndGet();
                    }
                    if (inWindow) {
                        record(acquire, t1 - t0);
                    }
                    hold();
                    dropHold();
                    h.release();
                    if (perPair) {
                        closeHandle();
                    }
                    long t2 = System.nanoTime();
                    synchronized (this) {
                        pairsInRun++;
                        if (inWindow(t2)) {
                            record(pair, t2 - (perPair ? opening : t0));
                            pairs++;
                        }
                    }
                }
                case DONE -> {
                    if (inWindow) {
                        synchronized (this) {
                            record(acquire, t1 - t0);
                            dones++;
                        }
                    }
                }
                case TIMEOUT, QUEUE_FULL -> pause(); // a refused acquire holds nothing; do not spin on it
            }
        }

        private void hold() {
            long nanos = TimeUnit.MICROSECONDS.toNanos(s.c.holdMicros());
            long end = System.nanoTime() + nanos;
            while (nanos > 0) {
                LockSupport.parkNanos(nanos);
                nanos = end - System.nanoTime();
            }
        }

        /** The holder count goes down before the release is sent (or the handle closed), never after. */
        private void dropHold() {
            if (held >= 0) {
                s.holders.decrementAndGet(held);
                held = -1;
            }
        }

        private boolean inWindow(long t) {
            return t - s.measureStart >= 0 && t - s.measureEnd < 0;
        }

        private synchronized void count(String outcome, boolean inWindow) {
            if (inWindow) {
                outcomes.merge(outcome, 1L, Long::sum);
            }
        }

        private synchronized void record(Histogram h, long nanos) {
            h.recordValue(Math.min(MAX_US, TimeUnit.NANOSECONDS.toMicros(nanos)));
        }

        void closeHandle() {
            Handle h = handle;
            handle = null;
            if (h != null) {
                h.close();
            }
        }

        /** After an error, wait a little so that a dead server does not turn into a connect loop. */
        private static void pause() {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- machine facts ---------------------------------------------------------------------------

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            Thread.sleep(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    /** Summed thread runs of the server processes ({@link Machine#threadRuns}), or -1 if none given or one is gone. */
    private static long serverRuns(List<Long> pids) {
        return sumOver(pids, Machine::threadRuns);
    }

    /** Summed CPU ms of the server processes, or -1 if none given or one is gone. */
    private static long serverCpu(List<Long> pids) {
        return sumOver(pids, Machine::cpuMillis);
    }

    /** {@code figure} summed over the processes, or -1 if none given or it is -1 for one of them. */
    private static long sumOver(List<Long> pids, java.util.function.LongUnaryOperator figure) {
        if (pids.isEmpty()) {
            return -1;
        }
        long sum = 0;
        for (long pid : pids) {
            long v = figure.applyAsLong(pid);
            if (v < 0) {
                return -1;
            }
            sum += v;
        }
        return sum;
    }
}
