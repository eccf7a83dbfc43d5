package dev.baton.bench.line;

import org.HdrHistogram.Histogram;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closed-loop load through the PoolCounter line protocol (the one of MediaWiki's {@code poolcounterd}),
 * against poolcounterd itself or Baton's line port.
 *
 * <p>One thread per connection, plain blocking sockets. A connection loops: pick a key uniformly at
 * random, send {@code ACQ4ME|ACQ4ANY <key> <W> <Q> <S>}, read one reply; on {@code LOCKED} (hold, then)
 * send {@code RELEASE} and read {@code RELEASED}; on {@code DONE} (ACQ4ANY only) go on. Every command is
 * written with a single flush and the next one only after the reply: poolcounterd answers only the
 * first command of a read and loses a command split over two reads.
 *
 * <p>Measured window: after {@code --warmup-s}, for {@code --duration-s}. A pair counts when its
 * {@code RELEASED} is read inside the window; latencies (acquire: ACQ sent to LOCKED, or DONE, read;
 * pair: ACQ sent to RELEASED read) and reply counts are taken for replies read inside the window.
 * Socket errors and violations are counted over the whole run, warm-up included. After TIMEOUT,
 * QUEUE_FULL, an error reply or a socket error the connection pauses 10 ms (so that a refusing or dead
 * server is not spun on); after an error reply or a socket error it also reconnects.
 *
 * <p>Live safety check: the holders of each key as seen by the clients (incremented after LOCKED is
 * read, decremented before RELEASE is sent) can only under-count the server's holders, so a count above
 * W is a real violation of the W limit (W is the same in every request here).
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.baton.bench.line.LineLoad --targets 127.0.0.1:7531
 * --connections 64 --keys 1000 --warmup-s 5 --duration-s 10 --label poolcounterd --json out.jsonl}.
 * Exit status 2 if a violation was seen.
 */
public final class LineLoad {
    /** Largest latency kept exactly; longer ones are recorded as this (a wait may last the whole timeout). */
    private static final long MAX_US = TimeUnit.SECONDS.toMicros(600);

    private LineLoad() {}

    /** What to run. {@code pids}: server processes whose CPU use over the window is reported. */
    public record Config(List<InetSocketAddress> targets, int connections, int keys, int workers, int maxQueue,
                         int timeoutS, long holdMs, int warmupS, int durationS, boolean any, String label,
                         List<Long> pids) {
        String command() {
            return any ? "ACQ4ANY" : "ACQ4ME";
        }
    }

    /** What one run measured. {@code replies}: reply lines read inside the window, by kind. */
    public record Result(Config config, Instant started, long pairs, long dones, Histogram acquire, Histogram pair,
                         Map<String, Long> replies, long ioErrors, long violations, long stuck, double load1Start,
                         double load1End, double clientCpuCores, double serverCpuCores) {
        public double pairsPerSec() {
            return pairs / (double) config.durationS();
        }

        public double donesPerSec() {
            return dones / (double) config.durationS();
        }

        /** Anything other than the expected replies, socket errors, stuck connections, violations. */
        public long problems() {
            long n = ioErrors + violations + stuck;
            for (Map.Entry<String, Long> e : replies.entrySet()) {
                String k = e.getKey();
                if (!k.equals("LOCKED") && !k.equals("RELEASED") && !(config.any() && k.equals("DONE"))) {
                    n += e.getValue();
                }
            }
            return n;
        }

        public String human() {
            Config c = config;
            return String.format(Locale.ROOT,
                    "%s: %d conn -> %d target(s), %d keys, W=%d, %s: %,.0f pairs/s%s; acquire p50 %d us, p99 %d us,"
                            + " p99.9 %d us, max %d us; pair p50 %d us, p99 %d us; replies %s; io errors %d;"
                            + " stuck %d; violations %d; load %.2f-%.2f; cpu cores client %.2f, server %s",
                    c.label(), c.connections(), c.targets().size(), c.keys(), c.workers(), c.command(), pairsPerSec(),
                    c.any() ? String.format(Locale.ROOT, " + %,.0f DONE/s", donesPerSec()) : "",
                    acquire.getValueAtPercentile(50), acquire.getValueAtPercentile(99),
                    acquire.getValueAtPercentile(99.9), acquire.getMaxValue(), pair.getValueAtPercentile(50),
                    pair.getValueAtPercentile(99), replies, ioErrors, stuck, violations, load1Start, load1End,
                    clientCpuCores, serverCpuCores < 0 ? "?" : String.format(Locale.ROOT, "%.2f", serverCpuCores));
        }

        /** One JSON object on one line; {@code extra} fields (already JSON values) go first. */
        public String json(Map<String, String> extra) {
            Config c = config;
            StringBuilder b = new StringBuilder("{");
            extra.forEach((k, v) -> field(b, k, v));
            field(b, "label", quote(c.label()));
            field(b, "time", quote(started.truncatedTo(ChronoUnit.SECONDS).toString()));
            List<String> ts = new ArrayList<>();
            c.targets().forEach(t -> ts.add(quote(t.getHostString() + ":" + t.getPort())));
            field(b, "targets", "[" + String.join(",", ts) + "]");
            field(b, "mode", quote(c.command()));
            field(b, "connections", c.connections());
            field(b, "keys", c.keys());
            field(b, "workers", c.workers());
            field(b, "maxqueue", c.maxQueue());
            field(b, "timeout_s", c.timeoutS());
            field(b, "hold_ms", c.holdMs());
            field(b, "warmup_s", c.warmupS());
            field(b, "duration_s", c.durationS());
            field(b, "pairs", pairs);
            field(b, "pairs_per_s", String.format(Locale.ROOT, "%.1f", pairsPerSec()));
            field(b, "done_per_s", String.format(Locale.ROOT, "%.1f", donesPerSec()));
            field(b, "acq_p50_us", acquire.getValueAtPercentile(50));
            field(b, "acq_p99_us", acquire.getValueAtPercentile(99));
            field(b, "acq_p999_us", acquire.getValueAtPercentile(99.9));
            field(b, "acq_max_us", acquire.getMaxValue());
            field(b, "acq_mean_us", String.format(Locale.ROOT, "%.1f", acquire.getMean()));
            field(b, "pair_p50_us", pair.getValueAtPercentile(50));
            field(b, "pair_p99_us", pair.getValueAtPercentile(99));
            StringBuilder r = new StringBuilder("{");
            replies.forEach((k, v) -> field(r, k, v));
            field(b, "replies", r.append('}').toString());
            field(b, "io_errors", ioErrors);
            field(b, "stuck", stuck);
            field(b, "violations", violations);
            field(b, "load1_start", String.format(Locale.ROOT, "%.2f", load1Start));
            field(b, "load1_end", String.format(Locale.ROOT, "%.2f", load1End));
            field(b, "client_cpu_cores", String.format(Locale.ROOT, "%.3f", clientCpuCores));
            field(b, "server_cpu_cores", String.format(Locale.ROOT, "%.3f", serverCpuCores));
            field(b, "nproc", Runtime.getRuntime().availableProcessors());
            return b.append('}').toString();
        }

        private static void field(StringBuilder b, String name, Object jsonValue) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append(quote(name)).append(':').append(jsonValue);
        }
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') {
                b.append('\\').append(ch);
            } else if (ch < 0x20) {
                b.append(String.format("\\u%04x", (int) ch));
            } else {
                b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> o = options(argv, List.of("targets", "connections", "keys", "workers", "maxqueue",
                "timeout", "hold-ms", "warmup-s", "duration-s", "mode", "label", "json", "pids"));
        String mode = o.getOrDefault("mode", "me");
        if (!mode.equals("me") && !mode.equals("any")) {
            throw new IllegalArgumentException("--mode is me or any, got " + mode);
        }
        Config c = new Config(targets(o.getOrDefault("targets", "127.0.0.1:7531")),
                Integer.parseInt(o.getOrDefault("connections", "64")), Integer.parseInt(o.getOrDefault("keys", "1000")),
                Integer.parseInt(o.getOrDefault("workers", "1")), Integer.parseInt(o.getOrDefault("maxqueue", "1000")),
                Integer.parseInt(o.getOrDefault("timeout", "10")), Long.parseLong(o.getOrDefault("hold-ms", "0")),
                Integer.parseInt(o.getOrDefault("warmup-s", "5")), Integer.parseInt(o.getOrDefault("duration-s", "10")),
                mode.equals("any"), o.getOrDefault("label", "line"), longs(o.getOrDefault("pids", "")));
        Result r = run(c);
        System.out.println(r.human());
        String json = r.json(Map.of());
        System.out.println(json);
        if (o.containsKey("json")) {
            appendLine(Path.of(o.get("json")), json);
        }
        System.exit(r.violations() > 0 ? 2 : 0);
    }

    /** {@code --name value} / {@code --name=value} options; only the names in {@code known}. */
    static Map<String, String> options(String[] argv, List<String> known) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + a);
            }
            String name = a.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < argv.length) {
                value = argv[++i];
            } else {
                throw new IllegalArgumentException("--" + name + " needs a value");
            }
            if (!known.contains(name)) {
                throw new IllegalArgumentException("unknown option --" + name + "; known: " + known);
            }
            m.put(name, value);
        }
        return m;
    }

    /** {@code host:port[,host:port...]}. */
    public static List<InetSocketAddress> targets(String s) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String t : s.split(",")) {
            t = t.trim();
            int colon = t.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("target wants host:port, got " + t);
            }
            out.add(InetSocketAddress.createUnresolved(t.substring(0, colon), Integer.parseInt(t.substring(colon + 1))));
        }
        return out;
    }

    static List<Long> longs(String s) {
        List<Long> out = new ArrayList<>();
        for (String p : s.split(",")) {
            if (!p.isBlank()) {
                out.add(Long.parseLong(p.trim()));
            }
        }
        return out;
    }

    public static void appendLine(Path file, String line) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    // ---- the run ---------------------------------------------------------------------------------

    /** Runs one configuration and returns once every connection has stopped (or been given up on). */
    public static Result run(Config c) throws InterruptedException {
        if (c.connections() < 1 || c.keys() < 1 || c.workers() < 1 || c.maxQueue() < 1 || c.durationS() < 1) {
            throw new IllegalArgumentException("connections, keys, workers, maxqueue, duration must be >= 1: " + c);
        }
        Shared s = new Shared(c);
        List<Connection> conns = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < c.connections(); i++) {
            InetSocketAddress t = c.targets().get(i % c.targets().size()); // round-robin over the nodes
            Connection conn = new Connection(s, new InetSocketAddress(t.getHostString(), t.getPort()));
            conns.add(conn);
            Thread th = new Thread(conn, "line-" + i);
            th.setDaemon(true);
            threads.add(th);
        }
        Instant started = Instant.now();
        threads.forEach(Thread::start);
        // Connecting 64 sockets is not part of the load: the clock starts once all have tried.
        s.connected.await(30, TimeUnit.SECONDS);
        long start = System.nanoTime();
        s.measureStart = start + TimeUnit.SECONDS.toNanos(c.warmupS());
        s.measureEnd = s.measureStart + TimeUnit.SECONDS.toNanos(c.durationS());
        s.go.countDown();

        sleepUntil(s.measureStart);
        double load0 = load1();
        long self0 = cpuMillis(ProcessHandle.current().pid());
        long server0 = serverCpu(c.pids());
        long wall0 = System.nanoTime();
        sleepUntil(s.measureEnd);
        double wallMs = (System.nanoTime() - wall0) / 1e6;
        long self1 = cpuMillis(ProcessHandle.current().pid());
        long server1 = serverCpu(c.pids());
        double load1 = load1();

        // Connections finish the pair they are in; a queued acquire may take up to the timeout.
        long joinDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(c.timeoutS() + 15L);
        long stuck = 0;
        for (int i = 0; i < threads.size(); i++) {
            threads.get(i).join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(joinDeadline - System.nanoTime())));
            if (threads.get(i).isAlive()) {
                stuck++;
                conns.get(i).closeQuietly(); // unblocks its read
            }
        }

        Histogram acq = new Histogram(MAX_US, 3);
        Histogram pair = new Histogram(MAX_US, 3);
        Map<String, Long> replies = new TreeMap<>();
        long pairs = 0;
        long dones = 0;
        for (Connection conn : conns) {
            synchronized (conn) { // a stuck thread may still be writing to its own counters
                acq.add(conn.acquire);
                pair.add(conn.pair);
                pairs += conn.pairs;
                dones += conn.dones;
                conn.replies.forEach((k, v) -> replies.merge(k, v, Long::sum));
            }
        }
        double serverCores = server0 < 0 || server1 < 0 ? -1 : (server1 - server0) / wallMs;
        return new Result(c, started, pairs, dones, acq, pair, replies, s.ioErrors.get(), s.violations.get(), stuck,
                load0, load1, (self1 - self0) / wallMs, serverCores);
    }

    /** State shared by the connections of one run. */
    private static final class Shared {
        final Config c;
        final String[] keys;
        final AtomicIntegerArray holders;
        final AtomicLong violations = new AtomicLong();
        final AtomicLong ioErrors = new AtomicLong();
        final CountDownLatch connected;
        final CountDownLatch go = new CountDownLatch(1);
        volatile long measureStart;
        volatile long measureEnd;

        Shared(Config c) {
            this.c = c;
            this.keys = new String[c.keys()];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = "k" + i;
            }
            this.holders = new AtomicIntegerArray(c.keys());
            this.connected = new CountDownLatch(c.connections());
        }
    }

    /** One connection and the thread driving it; its counters are read after the thread stops. */
    private static final class Connection implements Runnable {
        final Shared s;
        final InetSocketAddress target;
        final Histogram acquire = new Histogram(MAX_US, 3);
        final Histogram pair = new Histogram(MAX_US, 3);
        final Map<String, Long> replies = new HashMap<>();
        long pairs;
        long dones;
        private volatile Socket socket;
        private BufferedReader in;
        private OutputStream out;
        /** Index of the key this connection holds, or -1. */
        private int held = -1;

        Connection(Shared s, InetSocketAddress target) {
            this.s = s;
            this.target = target;
        }

        @Override
        public void run() {
            try {
                open();
            } catch (IOException e) {
                s.ioErrors.incrementAndGet();
                closeQuietly();
            } finally {
                s.connected.countDown();
            }
            try {
                s.go.await();
            } catch (InterruptedException e) {
                return;
            }
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            while (System.nanoTime() - s.measureEnd < 0) {
                try {
                    if (socket == null) {
                        open();
                    }
                    cycle(rnd.nextInt(s.keys.length));
                } catch (IOException e) {
                    s.ioErrors.incrementAndGet();
                    dropHold();
                    closeQuietly(); // the server frees whatever this connection held or waited for
                    pause();
                }
            }
            closeQuietly();
        }

        /** One ACQ (and RELEASE if LOCKED). */
        private void cycle(int k) throws IOException {
            String key = s.keys[k];
            long t0 = System.nanoTime();
            send(s.c.command() + " " + key + " " + s.c.workers() + " " + s.c.maxQueue() + " " + s.c.timeoutS() + "\n");
            String reply = readReply();
            long t1 = System.nanoTime();
            boolean inWindow = inWindow(t1);
            count(reply, inWindow);
            if (reply.equals("LOCKED")) {
                held = k;
                if (s.holders.incrementAndGet(k) > s.c.workers()) {
                    s.violations.incrementAndGet();
                }
                if (inWindow) {
                    record(acquire, t1 - t0);
                }
                hold();
                dropHold();
                send("RELEASE\n");
                String rel = readReply();
                long t2 = System.nanoTime();
                boolean relInWindow = inWindow(t2);
                count(rel.equals("RELEASED") ? "RELEASED" : "RELEASE->" + rel, relInWindow);
                if (!rel.equals("RELEASED")) {
                    closeQuietly(); // the slot stack of this connection is not what we think: start afresh
                    pause();
                } else if (relInWindow) {
                    synchronized (this) {
                        record(pair, t2 - t0);
                        pairs++;
                    }
                }
            } else if (reply.equals("DONE") && s.c.any()) {
                if (inWindow) {
                    record(acquire, t1 - t0);
                    synchronized (this) {
                        dones++;
                    }
                }
            } else if (reply.equals("TIMEOUT") || reply.equals("QUEUE_FULL")) {
                pause(); // a refused acquire holds nothing; do not spin on it
            } else if (!reply.equals("DONE")) {
                // ERROR ..., LOCK_HELD, or garbage: the connection's state is unknown, start afresh.
                closeQuietly();
                pause();
            }
        }

        private void hold() {
            if (s.c.holdMs() > 0) {
                try {
                    Thread.sleep(s.c.holdMs());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        /** Our holder count goes down before RELEASE is sent (or the socket closed), never after. */
        private void dropHold() {
            if (held >= 0) {
                s.holders.decrementAndGet(held);
                held = -1;
            }
        }

        private boolean inWindow(long t) {
            return t - s.measureStart >= 0 && t - s.measureEnd < 0;
        }

        private synchronized void count(String reply, boolean inWindow) {
            if (inWindow) {
                String kind = reply.startsWith("RELEASE->") || reply.startsWith("ERROR") || known(reply)
                        ? reply : "other:" + reply;
                replies.merge(kind.length() > 60 ? kind.substring(0, 60) : kind, 1L, Long::sum);
            }
        }

        private static boolean known(String r) {
            return switch (r) {
                case "LOCKED", "DONE", "TIMEOUT", "QUEUE_FULL", "RELEASED", "NOT_LOCKED", "LOCK_HELD" -> true;
                default -> false;
            };
        }

        private synchronized void record(Histogram h, long nanos) {
            h.recordValue(Math.min(MAX_US, TimeUnit.NANOSECONDS.toMicros(nanos)));
        }

        private void open() throws IOException {
            Socket so = new Socket();
            try {
                so.setTcpNoDelay(true);
                so.connect(target, 5000);
                // The server answers a queued acquire within the timeout; well past it, give up on the socket.
                so.setSoTimeout((int) Math.min(Integer.MAX_VALUE, s.c.timeoutS() * 1500L + 5000 + s.c.holdMs()));
                in = new BufferedReader(new InputStreamReader(so.getInputStream(), StandardCharsets.US_ASCII), 256);
                out = so.getOutputStream();
                socket = so;
            } catch (IOException e) {
                so.close();
                throw e;
            }
        }

        /** One write per command: poolcounterd drops a command split over two reads. */
        private void send(String line) throws IOException {
            out.write(line.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        private String readReply() throws IOException {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed by " + target);
            }
            return line;
        }

        void closeQuietly() {
            Socket so = socket;
            socket = null;
            if (so != null) {
                try {
                    so.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }

        /** After an error, wait a little so that a dead target does not turn into a connect loop. */
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

    /** The 1-minute load average, or NaN. */
    static double load1() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** User + system CPU ms of a process ({@code /proc/PID/stat}), or -1. */
    static long cpuMillis(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10; // utime + stime; USER_HZ is 100
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Summed CPU ms of the server processes, or -1 if none given or one is gone. */
    private static long serverCpu(List<Long> pids) {
        if (pids.isEmpty()) {
            return -1;
        }
        long sum = 0;
        for (long pid : pids) {
            long ms = cpuMillis(pid);
            if (ms < 0) {
                return -1;
            }
            sum += ms;
        }
        return sum;
    }
}
