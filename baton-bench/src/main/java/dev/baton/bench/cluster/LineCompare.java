package dev.baton.bench.cluster;

import dev.baton.bench.line.LineLoad;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The same {@link LineLoad} matrix against the C {@code poolcounterd}, a 1-node Baton and a 3-node Baton
 * (their PoolCounter line ports), one contender after the other in one run, then a Markdown table side
 * by side: median pairs/s and acquire p50/p99 over the repetitions, and Baton / poolcounterd.
 *
 * <p>poolcounterd is not started here: it is expected on {@code --poolcounterd} (default
 * 127.0.0.1:7531, the only port it can listen on); {@code bench/poolcounter-compare.sh} starts it. The
 * Baton clusters are real server processes ({@link ServerProcesses}, durable), each node with a free line
 * port, started for the contender and stopped after it. A 3-node run spreads the connections
 * round-robin over the nodes.
 *
 * <p>Each contender first gets a pre-warm ({@code --prewarm-s}, not reported) at the largest cell, so
 * that fresh JVMs (the servers and this one) are past their JIT warm-up; then for each repetition
 * every cell runs warm-up + measured window.
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.baton.bench.cluster.LineCompare --only poolcounterd,baton1,baton3
 * --reps 3 --json results.jsonl}. Exit status: 2 if a W violation was seen, 1 if a contender could not
 * be run, else 0.
 */
public final class LineCompare {
    private LineCompare() {}

    /** One contender's targets and the processes whose CPU is reported. */
    private record Target(List<InetSocketAddress> lines, List<Long> pids) {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        List<String> only = contenders(a.str("only", "poolcounterd,baton1,baton3"));
        String pcTarget = a.str("poolcounterd", "127.0.0.1:7531");
        long pcPid = a.lng("poolcounterd-pid", -1);
        List<int[]> cells = cells(a.str("cells", "1x1000,8x1000,64x1000,64x1"));
        int workers = a.integer("workers", 1);
        int maxQueue = a.integer("maxqueue", 1000);
        int timeoutS = a.integer("timeout", 10);
        long holdMs = a.lng("hold-ms", 0);
        String mode = a.str("mode", "me");
        if (!mode.equals("me") && !mode.equals("any")) {
            throw new IllegalArgumentException("--mode is me or any, got " + mode);
        }
        boolean any = mode.equals("any");
        int reps = a.integer("reps", 3);
        int warmupS = a.integer("warmup-s", 5);
        int durationS = a.integer("duration-s", 10);
        int prewarmS = a.integer("prewarm-s", 10);
        String json = a.str("json", "");
        String pidsFile = a.str("pids-file", "");
        String serverCp = a.str("server-cp", System.getProperty("java.class.path"));
        String serverJvm = a.str("server-jvm", "-Xms1g -Xmx1g -XX:+AlwaysPreTouch");
        String serverArgs = a.str("server-args", "");
        boolean keep = a.flag("keep");
        a.checkNoneUnknown();

        String runId = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        System.out.println(Machine.header());
        System.out.println("# LineCompare run " + runId + ": contenders " + only + ", cells (connections x keys) "
                + cellsText(cells) + ", W=" + workers + " maxqueue=" + maxQueue + " timeout=" + timeoutS + "s hold="
                + holdMs + "ms mode=" + (any ? "ACQ4ANY" : "ACQ4ME") + ", reps " + reps + ", warm-up " + warmupS
                + " s + " + durationS + " s per cell, pre-warm " + prewarmS + " s");

        Map<String, List<LineLoad.Result>> results = new LinkedHashMap<>();
        List<String> failed = new ArrayList<>();
        for (String contender : only) {
            List<LineLoad.Result> mine = new ArrayList<>();
            results.put(contender, mine);
            ServerProcesses procs = null;
            try {
                Target target;
                if (contender.equals("poolcounterd")) {
                    target = new Target(LineLoad.targets(pcTarget), pcPid > 0 ? List.of(pcPid) : List.of());
                    try {
                        awaitOpen(target.lines(), 2_000, Optional.empty());
                    } catch (IllegalStateException e) {
                        throw new IllegalStateException(e.getMessage() + "; start poolcounterd first"
                                + " (bench/poolcounter-compare.sh does)");
                    }
                } else {
                    procs = new ServerProcesses(contender.equals("baton-1") ? 1 : 3, serverCp, serverJvm, serverArgs)
                            .withLinePorts();
                    target = startBaton(procs, pidsFile);
                }
                if (prewarmS > 0) {
                    int[] big = cells.stream().max((x, y) -> Integer.compare(x[0], y[0])).orElseThrow();
                    LineLoad.Result w = LineLoad.run(config(target, big, workers, maxQueue, timeoutS, holdMs, 0,
                            prewarmS, any, contender + " pre-warm"));
                    System.out.println("# " + w.human());
                }
                for (int rep = 1; rep <= reps; rep++) {
                    for (int[] cell : cells) {
                        LineLoad.Result r = LineLoad.run(config(target, cell, workers, maxQueue, timeoutS, holdMs,
                                warmupS, durationS, any, contender));
                        mine.add(r);
                        System.out.println(r.human());
                        if (!json.isEmpty()) {
                            Map<String, String> extra = new LinkedHashMap<>();
                            extra.put("run", quote(runId));
                            extra.put("contender", quote(contender));
                            extra.put("rep", Integer.toString(rep));
                            LineLoad.appendLine(Path.of(json), r.json(extra));
                        }
                    }
                }
            } catch (Exception e) {
                failed.add(contender);
                System.out.println("# " + contender + " FAILED: " + e.getMessage());
                if (procs != null) {
                    System.out.println(procs.logs(30));
                }
            } finally {
                if (procs != null) {
                    procs.close(keep);
                }
            }
        }

        System.out.println();
        System.out.println(table(results, cells, workers, reps));
        if (!json.isEmpty()) {
            System.out.println("# results appended to " + json);
        }
        long violations = results.values().stream().flatMap(List::stream).mapToLong(LineLoad.Result::violations).sum();
        if (violations > 0) {
            System.out.println("# VIOLATIONS: " + violations + " times a key had more than W holders");
        }
        if (!failed.isEmpty()) {
            System.out.println("# could not run: " + failed);
        }
        System.exit(violations > 0 ? 2 : failed.isEmpty() ? 0 : 1);
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private static LineLoad.Config config(Target t, int[] cell, int workers, int maxQueue, int timeoutS, long holdMs,
                                          int warmupS, int durationS, boolean any, String label) {
        return new LineLoad.Config(t.lines(), cell[0], cell[1], workers, maxQueue, timeoutS, holdMs, warmupS,
                durationS, any, label, t.pids());
    }

    /** Starts the nodes, waits for a settled cluster and open line ports; their line addresses. */
    private static Target startBaton(ServerProcesses procs, String pidsFile) throws IOException {
        procs.startAll();
        List<Long> pids = new ArrayList<>();
        for (ServerProcesses.Node n : procs.nodes()) {
            pids.add(n.pid());
            if (!pidsFile.isEmpty()) {
                LineLoad.appendLine(Path.of(pidsFile), Long.toString(n.pid())); // for the script's EXIT trap
            }
        }
        // Fail fast when a server exits at once (e.g. it does not know --line-port yet).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (procs.awaitLeader(1000).isEmpty()) {
            if (procs.nodes().stream().anyMatch(n -> !n.alive())) {
                throw new IllegalStateException("a server exited while starting");
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("no leader within 60 s");
            }
        }
        procs.awaitSettled(0, 30_000);
        List<InetSocketAddress> lines = new ArrayList<>();
        for (ServerProcesses.Node n : procs.nodes()) {
            lines.add(new InetSocketAddress("127.0.0.1", n.linePort));
        }
        awaitOpen(lines, 30_000, Optional.of(procs));
        Machine.sleep(1000); // the leader's start-up writes (limits, address announcements)
        System.out.println("# " + procs.nodes().size() + " node(s) in " + procs.root() + ", line ports "
                + lines + "; command: " + String.join(" ", procs.command(procs.nodes().get(0))));
        return new Target(lines, pids);
    }

    /** Waits until every address accepts a connection (and, for servers, their processes live). */
    private static void awaitOpen(List<InetSocketAddress> lines, long timeoutMs, Optional<ServerProcesses> procs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        for (InetSocketAddress addr : lines) {
            while (true) {
                if (procs.isPresent() && procs.get().nodes().stream().anyMatch(n -> !n.alive())) {
                    throw new IllegalStateException("a server exited (does it know --line-port?)");
                }
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(addr.getHostString(), addr.getPort()), 1000);
                    break;
                } catch (IOException e) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new IllegalStateException("nothing listens on " + addr.getHostString() + ":"
                                + addr.getPort() + " (" + e.getMessage() + ")");
                    }
                    Machine.sleep(100);
                }
            }
        }
    }

    // ---- options ----------------------------------------------------------------------------------

    private static List<String> contenders(String s) {
        List<String> out = new ArrayList<>();
        for (String c : s.split(",")) {
            switch (c.trim()) {
                case "poolcounterd", "c" -> out.add("poolcounterd");
                case "baton1", "baton-1" -> out.add("baton-1");
                case "baton3", "baton-3" -> out.add("baton-3");
                case "" -> { }
                default -> throw new IllegalArgumentException("--only takes poolcounterd, baton1, baton3; got " + c);
            }
        }
        return out;
    }

    /** {@code CxK,...}: connections x keys. */
    private static List<int[]> cells(String s) {
        List<int[]> out = new ArrayList<>();
        for (String c : s.split(",")) {
            String[] p = c.trim().split("x");
            if (p.length != 2) {
                throw new IllegalArgumentException("--cells wants CONNECTIONSxKEYS entries, got " + c);
            }
            out.add(new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])});
        }
        return out;
    }

    private static String cellsText(List<int[]> cells) {
        List<String> t = new ArrayList<>();
        cells.forEach(c -> t.add(c[0] + "x" + c[1]));
        return String.join(",", t);
    }

    // ---- the table --------------------------------------------------------------------------------

    static String table(Map<String, List<LineLoad.Result>> results, List<int[]> cells, int workers, int reps) {
        List<String> names = new ArrayList<>(results.keySet());
        boolean ratio = names.remove("poolcounterd");
        if (ratio) {
            names.add(0, "poolcounterd"); // the baseline first: the ratios to its right divide by it
        }
        StringBuilder h = new StringBuilder("| connections | keys | W |");
        StringBuilder sep = new StringBuilder("|---:|---:|---:|");
        for (String n : names) {
            h.append(' ').append(n).append(" pairs/s | ").append(n).append(" acq p50 / p99 µs |");
            sep.append("---:|---:|");
            if (ratio && !n.equals("poolcounterd")) {
                h.append(' ').append(n).append(" / C |");
                sep.append("---:|");
            }
        }
        h.append(" problems |");
        sep.append("---|");
        StringBuilder b = new StringBuilder();
        b.append("Median of ").append(reps).append(" repetition(s); pairs/s range (min–max) in brackets.\n\n");
        b.append(h).append('\n').append(sep).append('\n');
        for (int[] cell : cells) {
            b.append("| ").append(cell[0]).append(" | ").append(cell[1]).append(" | ").append(workers).append(" |");
            double c = Double.NaN;
            StringBuilder problems = new StringBuilder();
            for (String n : names) {
                List<LineLoad.Result> rs = results.get(n).stream()
                        .filter(r -> r.config().connections() == cell[0] && r.config().keys() == cell[1]).toList();
                if (rs.isEmpty()) {
                    b.append(" – | – |");
                    if (ratio && !n.equals("poolcounterd")) {
                        b.append(" – |");
                    }
                    continue;
                }
                double pps = median(rs, LineLoad.Result::pairsPerSec);
                double lo = rs.stream().mapToDouble(LineLoad.Result::pairsPerSec).min().orElse(0);
                double hi = rs.stream().mapToDouble(LineLoad.Result::pairsPerSec).max().orElse(0);
                b.append(String.format(Locale.ROOT, " %,.0f%s |", pps,
                        rs.size() > 1 ? String.format(Locale.ROOT, " (%,.0f–%,.0f)", lo, hi) : ""));
                b.append(String.format(Locale.ROOT, " %,.0f / %,.0f |",
                        median(rs, r -> r.acquire().getValueAtPercentile(50)),
                        median(rs, r -> r.acquire().getValueAtPercentile(99))));
                if (n.equals("poolcounterd")) {
                    c = pps;
                } else if (ratio) {
                    b.append(Double.isNaN(c) || c == 0 ? " – |" : String.format(Locale.ROOT, " %.2f |", pps / c));
                }
                long p = rs.stream().mapToLong(LineLoad.Result::problems).sum();
                if (p > 0) {
                    Map<String, Long> kinds = new TreeMap<>();
                    for (LineLoad.Result r : rs) {
                        r.replies().forEach((k, v) -> {
                            if (!k.equals("LOCKED") && !k.equals("RELEASED") && !(r.config().any() && k.equals("DONE"))) {
                                kinds.merge(k, v, Long::sum);
                            }
                        });
                        kinds.merge("io errors", r.ioErrors(), Long::sum);
                        kinds.merge("violations", r.violations(), Long::sum);
                        kinds.merge("stuck", r.stuck(), Long::sum);
                    }
                    kinds.values().removeIf(v -> v == 0);
                    problems.append(problems.length() == 0 ? "" : "; ").append(n).append(": ").append(kinds);
                }
            }
            b.append(' ').append(problems.length() == 0 ? "0" : problems.toString()).append(" |\n");
        }
        return b.toString();
    }

    private static double median(List<LineLoad.Result> rs, ToDoubleFunction<LineLoad.Result> f) {
        double[] v = rs.stream().mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
