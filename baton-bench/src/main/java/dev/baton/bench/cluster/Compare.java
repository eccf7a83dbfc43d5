package dev.baton.bench.cluster;

import dev.baton.bench.load.Json;
import dev.baton.bench.load.Keys;
import dev.baton.bench.load.Load;
import dev.baton.bench.load.Load.Connect;

import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Baton side by side with what users run today, on one workload, in one run, on one machine: the
 * {@link Load} matrix (clients x keys x workers) against every contender of {@link Deployments} in
 * turn: Baton (Java client and line port, 1 and 3 nodes), poolcounterd, Redis with the PoolCounterRedis
 * scripts (appendfsync everysec and always), a 3-member ZooKeeper with Curator and a 3-member etcd
 * with jetcd.
 *
 * <p>For each contender: start its servers (fresh data), pre-warm for {@code --prewarm-s} per W value
 * and connect mode (not reported; at the largest client count over 1000 keys, so that this JVM's
 * client code and the servers' JIT are warm), then {@code --reps} times every cell (warm-up + measured
 * window) in every connect mode, then stop its servers.
 *
 * <p>{@code --connect kept|per-pair|kept,per-pair} (default {@code kept}): whether each client thread
 * keeps one connection or session for the whole cell, or opens a new one per acquire+release pair
 * (connection churn, the way MediaWiki uses PoolCounter; see {@link Load.Connect} and each contender's
 * {@link dev.baton.bench.load.Contender#perPair()}). With both, each cell is run kept and then per pair,
 * one right after the other, so that the two are measured under the same conditions. One JSON line per measured cell goes to {@code --json}, after a
 * {@code meta} line for the run and a {@code contender} line for each contender; at the end the
 * Markdown report ({@link CompareReport}) is printed, and written into {@code --benchmarks-md} between
 * its markers when asked.
 *
 * <p>Run through {@code bench/compare.sh}, which installs the servers and stops them by PID if this JVM
 * dies. Exit status: 2 if a W violation was seen, 1 if a contender could not be run, else 0.
 */
public final class Compare {
    private Compare() {}

    /** One cell of the matrix. */
    record Cell(int clients, int keys, int workers) {
        @Override
        public String toString() {
            return clients + "x" + keys + "x" + workers;
        }
    }

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        List<String> contenders = contenders(a.str("contenders", "all"));
        List<Cell> cells = cells(a);
        List<Connect> connects = Connect.parseList(a.str("connect", "kept"));
        String dist = a.str("dist", "uniform");
        Keys.parse(dist, 1); // validates
        long holdMicros = Math.round(Double.parseDouble(a.str("hold-ms", "0.1")) * 1000);
        int timeoutS = a.integer("timeout", 10);
        int maxQueue = a.integer("maxqueue", 1000);
        int reps = a.integer("reps", 3);
        int warmupS = a.integer("warmup-s", 5);
        int durationS = a.integer("duration-s", 10);
        int prewarmS = a.integer("prewarm-s", 60);
        String json = a.str("json", "");
        String benchmarksMd = a.str("benchmarks-md", "");
        String batonVersion = a.str("baton-version", "?");
        String note = a.str("note", "");
        Deployments.Setup setup = new Deployments.Setup(
                a.str("server-cp", System.getProperty("java.class.path")),
                a.str("server-jvm", ServerProcesses.SHIPPED_JVM),
                a.str("server-args", ""),
                a.str("zk-cp", "/usr/share/java/zookeeper.jar"),
                a.str("zk-jvm", "-Xms1g -Xmx1g -XX:+AlwaysPreTouch"),
                recipe(a.str("zk-recipe", "auto")),
                recipe(a.str("etcd-recipe", "auto")),
                a.integer("etcd-handles-per-client", 8),
                a.lng("redis-lock-ttl-s", 3600) * 1000,
                a.str("pids-file", ""),
                a.flag("keep"));
        a.checkNoneUnknown();
        if (json.isEmpty()) {
            json = Path.of(System.getProperty("java.io.tmpdir"), "compare-"
                    + Instant.now().truncatedTo(ChronoUnit.SECONDS).toString().replace(":", "") + ".jsonl").toString();
        }
        Path out = Path.of(json);

        String runId = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        System.out.println(Machine.header());
        System.out.println("# Compare run " + runId + ": contenders " + contenders + ", cells (clients x keys x W) "
                + cells + ", keys " + dist + ", hold " + holdMicros / 1000.0 + " ms, timeout " + timeoutS
                + " s, maxqueue " + maxQueue + ", reps " + reps + ", warm-up " + warmupS + " s + " + durationS
                + " s per cell, pre-warm " + prewarmS + " s per contender, W and connect mode; connections "
                + connects.stream().map(Connect::label).toList() + "; results to " + out);

        Map<String, String> options = new LinkedHashMap<>();
        options.put("contenders", String.join(",", contenders));
        options.put("cells", cells.toString().replace(" ", ""));
        options.put("connect", String.join(",", connects.stream().map(Connect::label).toList()));
        options.put("dist", dist);
        options.put("hold_ms", String.format(Locale.ROOT, "%.3f", holdMicros / 1000.0));
        options.put("timeout_s", Integer.toString(timeoutS));
        options.put("maxqueue", Integer.toString(maxQueue));
        options.put("reps", Integer.toString(reps));
        options.put("warmup_s", Integer.toString(warmupS));
        options.put("duration_s", Integer.toString(durationS));
        options.put("prewarm_s", Integer.toString(prewarmS));
        options.put("server_jvm", setup.serverJvm());
        options.put("zk_jvm", setup.zkJvm());
        Json.appendLine(out, new Json.Obj().str("type", "meta").str("run", runId).str("baton_version", batonVersion)
                .str("note", note).strings("machine", Machine.facts()).strings("options", options)
                .str("argv", userOptions(argv)).toString());

        List<String> failed = new ArrayList<>();
        long violations = 0;
        for (String name : contenders) {
            System.out.println("# ---- " + name);
            Deployments.Deployment d;
            try {
                d = Deployments.start(name, setup);
            } catch (Exception e) {
                failed.add(name);
                System.out.println("# " + name + " could not start: " + e);
                Json.appendLine(out, new Json.Obj().str("type", "failure").str("run", runId).str("contender", name)
                        .str("error", String.valueOf(e)).toString());
                continue;
            }
            try (d) {
                Map<String, String> facts = new LinkedHashMap<>(d.contender().facts());
                facts.putAll(d.facts()); // the server side's own words win
                facts.forEach((k, v) -> System.out.println("#   " + k + ": " + v));
                Json.appendLine(out, new Json.Obj().str("type", "contender").str("run", runId).str("contender", name)
                        .strings("facts", facts).toString());
                prewarm(d, cells, connects, prewarmS, dist, holdMicros, timeoutS, maxQueue);
                for (int rep = 1; rep <= reps; rep++) {
                    for (Cell cell : cells) {
                        for (Connect connect : connects) {
                            Load.Config c = new Load.Config(name, cell.clients(), Keys.parse(dist, cell.keys()),
                                    cell.workers(), maxQueue, timeoutS, holdMicros, warmupS, durationS, false,
                                    d.pids(), connect).withLogIndex(d::logIndex);
                            Load.Result r = Load.run(d.contender(), c);
                            violations += r.violations();
                            System.out.println(r.human());
                            Map<String, String> extra = new LinkedHashMap<>();
                            extra.put("run", runId);
                            extra.put("rep", Integer.toString(rep));
                            Json.appendLine(out, r.json(extra));
                        }
                    }
                }
            } catch (Exception e) {
                failed.add(name);
                System.out.println("# " + name + " FAILED: " + e);
                e.printStackTrace(System.out);
                Json.appendLine(out, new Json.Obj().str("type", "failure").str("run", runId).str("contender", name)
                        .str("error", String.valueOf(e)).toString());
            }
        }

        String md = CompareReport.markdown(CompareReport.read(List.of(out), runId));
        System.out.println();
        System.out.println(md);
        if (!benchmarksMd.isEmpty()) {
            CompareReport.writeSection(Path.of(benchmarksMd), md);
            System.out.println("# report written into " + benchmarksMd);
        }
        System.out.println("# results in " + out + " (run " + runId + ")");
        if (violations > 0) {
            System.out.println("# VIOLATIONS: " + violations + " times a key had more than W holders");
        }
        if (!failed.isEmpty()) {
            System.out.println("# could not run: " + failed);
        }
        System.exit(violations > 0 ? 2 : failed.isEmpty() ? 0 : 1);
    }

    /**
     * JIT warm-up of this JVM's client code and of the servers: the largest client count over 1000 keys,
     * {@code prewarmS} for each W (W = 1 and W &gt; 1 take different paths, e.g. Curator's mutex and semaphore)
     * and each connect mode (a connection per pair runs the servers' connect and session paths).
     */
    private static void prewarm(Deployments.Deployment d, List<Cell> cells, List<Connect> connects, int prewarmS,
                                String dist, long holdMicros, int timeoutS, int maxQueue) throws InterruptedException {
        if (prewarmS <= 0) {
            return;
        }
        int clients = cells.stream().mapToInt(Cell::clients).max().orElse(1);
        Set<Integer> ws = new LinkedHashSet<>();
        cells.forEach(c -> ws.add(c.workers()));
        for (int w : ws) {
            for (Connect connect : connects) {
                Load.Config c = new Load.Config(d.contender().name() + " pre-warm", clients, Keys.parse(dist, 1000), w,
                        maxQueue, timeoutS, holdMicros, 0, prewarmS, false, d.pids(), connect);
                System.out.println("# " + Load.run(d.contender(), c).human());
            }
        }
    }

    /** The options that choose what was measured (not where results go), shell-quoted where needed. */
    static String userOptions(String[] argv) {
        Set<String> plumbing = Set.of("--json", "--pids-file", "--baton-version", "--benchmarks-md", "--note");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            String name = argv[i].contains("=") ? argv[i].substring(0, argv[i].indexOf('=')) : argv[i];
            if (plumbing.contains(name)) {
                if (!argv[i].contains("=") && i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
                    i++;
                }
                continue;
            }
            out.add(argv[i].isEmpty() || argv[i].matches(".*[\\s'\"$`\\\\].*")
                    ? "'" + argv[i].replace("'", "'\\''") + "'" : argv[i]);
        }
        return String.join(" ", out);
    }

    private static String recipe(String s) {
        if (!s.equals("auto") && !s.equals("semaphore")) {
            throw new IllegalArgumentException("a recipe is auto or semaphore, got " + s);
        }
        return s;
    }

    static List<String> contenders(String s) {
        List<String> out = new ArrayList<>();
        for (String c : s.split(",")) {
            c = c.trim();
            if (c.equals("all")) {
                out.addAll(Deployments.ALL);
            } else if (c.equals("baton")) {
                out.addAll(List.of("baton3-java", "baton3-line", "baton1-java", "baton1-line"));
            } else if (c.equals("redis")) {
                out.addAll(List.of("redis-everysec", "redis-always"));
            } else if (Deployments.ALL.contains(c) || Deployments.EXPERIMENTS.contains(c)) {
                out.add(c);
            } else if (!c.isEmpty()) {
                throw new IllegalArgumentException("unknown contender " + c + "; known: all, baton, redis, "
                        + Deployments.ALL + ", and for experiments " + Deployments.EXPERIMENTS);
            }
        }
        return new ArrayList<>(new LinkedHashSet<>(out));
    }

    /** {@code --cells CxKxW,...}, or the product of {@code --clients}, {@code --keys}, {@code --workers}. */
    static List<Cell> cells(Args a) {
        String explicit = a.str("cells", "");
        List<Integer> clients = a.ints("clients", "1,8,64,256");
        List<Integer> keys = a.ints("keys", "1000,1");
        List<Integer> workers = a.ints("workers", "1,4");
        List<Cell> out = new ArrayList<>();
        if (!explicit.isBlank()) {
            for (String c : explicit.split(",")) {
                String[] p = c.trim().split("x");
                if (p.length != 3) {
                    throw new IllegalArgumentException("--cells wants CLIENTSxKEYSxW entries, got " + c);
                }
                out.add(new Cell(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])));
            }
            return out;
        }
        for (int w : workers) {
            for (int k : keys) {
                for (int c : clients) {
                    out.add(new Cell(c, k, w));
                }
            }
        }
        return out;
    }
}
