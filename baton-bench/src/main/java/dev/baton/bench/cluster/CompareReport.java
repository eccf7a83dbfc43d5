package dev.baton.bench.cluster;

import dev.baton.bench.load.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The Markdown report of a {@link Compare} run, from its JSON lines: what each contender is, median
 * pairs/s with the range over the repetitions, acquire latency percentiles, Baton-3-node / other
 * ratios, the targets (throughput against the others, latency, connection churn) met or missed,
 * and every problem seen. Results with a connection per pair ({@code "connect": "per-pair"}) get
 * tables of their own, with open and pair latency, and the
 * ratio of each contender with churn to itself with kept connections (lines without {@code connect}
 * were kept). {@link #writeSection} puts it into
 * a Markdown file between {@link #BEGIN} and {@link #END}, replacing what was there and nothing else.
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.baton.bench.cluster.CompareReport --json a.jsonl[,b.jsonl]
 * [--run ID|last|all] [--write BENCHMARKS.md]}: the report of the last run (or the given one, or all
 * runs in the files, later results of a contender replacing none: all repetitions count).
 */
public final class CompareReport {
    static final String BEGIN = "<!-- compare:begin -->";
    static final String END = "<!-- compare:end -->";
    /** The Baton contenders the ratios and targets are about: a 3-node durable cluster, through each door. */
    static final List<String> REFERENCES = List.of("baton3-java", "baton3-line");
    /** The {@code connect} of a result with a connection kept per client thread (also when not recorded). */
    static final String KEPT = "kept";
    /** The {@code connect} of a result with a connection or session per acquire+release pair. */
    static final String PER_PAIR = "per-pair";
    /** The churn target: Baton with a connection per pair at least this share of itself kept. */
    static final double CHURN_TARGET = 0.8;

    private CompareReport() {}

    /** What one run (or several) recorded. */
    record Run(Map<String, Object> meta, Map<String, Map<String, Object>> facts, List<Map<String, Object>> results,
               Map<String, String> failures) {}

    public static void main(String[] argv) throws IOException {
        Args a = new Args(argv);
        List<Path> files = new ArrayList<>();
        for (String f : a.str("json", "").split(",")) {
            if (!f.isBlank()) {
                files.add(Path.of(f.trim()));
            }
        }
        String run = a.str("run", "last");
        String write = a.str("write", "");
        a.checkNoneUnknown();
        if (files.isEmpty()) {
            throw new IllegalArgumentException("--json FILE[,FILE...] is required");
        }
        String md = markdown(read(files, run));
        if (write.isEmpty()) {
            System.out.println(md);
        } else {
            writeSection(Path.of(write), md);
            System.out.println("# report written into " + write);
        }
    }

    /** The lines of run {@code run} ({@code last}: the last meta line's; {@code all}: every line). */
    @SuppressWarnings("unchecked")
    static Run read(List<Path> files, String run) throws IOException {
        List<Map<String, Object>> lines = new ArrayList<>();
        for (Path f : files) {
            for (String l : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (!l.isBlank()) {
                    lines.add(Json.parseObject(l));
                }
            }
        }
        String want = run;
        if (run.equals("last")) {
            want = null;
            for (Map<String, Object> l : lines) {
                if ("meta".equals(l.get("type"))) {
                    want = (String) l.get("run");
                }
            }
            if (want == null) {
                throw new IllegalArgumentException("no run in " + files);
            }
        }
        Map<String, Object> meta = Map.of();
        Map<String, Map<String, Object>> facts = new LinkedHashMap<>();
        List<Map<String, Object>> results = new ArrayList<>();
        Map<String, String> failures = new LinkedHashMap<>();
        for (Map<String, Object> l : lines) {
            if (!want.equals("all") && !want.equals(l.get("run"))) {
                continue;
            }
            String contender = String.valueOf(l.get("contender"));
            switch (String.valueOf(l.get("type"))) {
                case "meta" -> meta = l;
                case "contender" -> facts.put(contender, (Map<String, Object>) l.get("facts"));
                case "result" -> {
                    results.add(l);
                    facts.putIfAbsent(contender, Map.of());
                }
                case "failure" -> failures.put(contender, String.valueOf(l.get("error")));
                default -> { }
            }
        }
        return new Run(meta, facts, results, failures);
    }

    /** Replaces the text between the markers (appends the marked section if there is none). */
    static void writeSection(Path file, String section) throws IOException {
        String text = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        String block = BEGIN + "\n" + section.strip() + "\n" + END;
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        String updated;
        if (b >= 0 && e > b) {
            updated = text.substring(0, b) + block + text.substring(e + END.length());
        } else {
            updated = text.stripTrailing() + (text.isBlank() ? "" : "\n\n") + block + "\n";
        }
        Files.writeString(file, updated, StandardCharsets.UTF_8);
    }

    // ---- the tables --------------------------------------------------------------------------------

    /** A cell of the matrix, as recorded. */
    record Cell(long clients, long keys, long workers, String dist) {
        String label() {
            return clients + " | " + keys + (dist.equals("uniform") ? "" : " " + dist) + " | " + workers;
        }
    }

    /** The repetitions of one contender in one cell. */
    static final class Reps {
        final List<Map<String, Object>> rs = new ArrayList<>();

        double median(String field) {
            return CompareReport.median(rs.stream().mapToDouble(r -> num(r, field)).toArray());
        }

        double min(String field) {
            return rs.stream().mapToDouble(r -> num(r, field)).min().orElse(Double.NaN);
        }

        double max(String field) {
            return rs.stream().mapToDouble(r -> num(r, field)).max().orElse(Double.NaN);
        }

        long sum(String field) {
            return rs.stream().mapToLong(r -> (long) num(r, field)).sum();
        }

        @SuppressWarnings("unchecked")
        Map<String, Long> errorKinds() {
            Map<String, Long> m = new TreeMap<>();
            for (Map<String, Object> r : rs) {
                Object k = r.get("error_kinds");
                if (k instanceof Map<?, ?> km) {
                    ((Map<String, Object>) km).forEach((kind, n) -> m.merge(kind, ((Number) n).longValue(), Long::sum));
                }
            }
            return m;
        }
    }

    static double num(Map<String, Object> r, String field) {
        Object v = r.get(field);
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    static double median(double[] v) {
        double[] s = Arrays.stream(v).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (s.length == 0) {
            return Double.NaN;
        }
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    @SuppressWarnings("unchecked")
    static String markdown(Run run) {
        // Kept connections, and a connection per pair: cells of their own.
        Map<Cell, Map<String, Reps>> byCell = new LinkedHashMap<>();
        Map<Cell, Map<String, Reps>> churn = new LinkedHashMap<>();
        for (Map<String, Object> r : run.results()) {
            Cell c = new Cell((long) num(r, "clients"), (long) num(r, "keys"), (long) num(r, "workers"),
                    String.valueOf(r.getOrDefault("dist", "uniform")));
            boolean perPair = PER_PAIR.equals(String.valueOf(r.getOrDefault("connect", KEPT)));
            (perPair ? churn : byCell).computeIfAbsent(c, x -> new LinkedHashMap<>())
                    .computeIfAbsent(String.valueOf(r.get("contender")), x -> new Reps()).rs.add(r);
        }
        List<String> names = new ArrayList<>(run.facts().keySet());
        List<String> churnNames = names.stream()
                .filter(n -> churn.values().stream().anyMatch(m -> m.containsKey(n))).toList();
        Map<String, Object> meta = run.meta();
        Map<String, Object> machine = meta.get("machine") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        Map<String, Object> opts = meta.get("options") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();

        StringBuilder b = new StringBuilder();
        b.append("## Side by side: Baton against poolcounterd, Redis, ZooKeeper and etcd\n\n");
        b.append("Written by `bench/compare.sh` from run ").append(meta.getOrDefault("run", "?"));
        b.append(" (Baton ").append(meta.getOrDefault("baton_version", "?")).append(").");
        Object note = meta.get("note");
        if (note != null && !String.valueOf(note).isBlank()) {
            b.append(' ').append(note);
        }
        b.append("\n\n");
        b.append("**Machine:** ").append(machine.getOrDefault("nproc", "?")).append(" CPUs (")
                .append(machine.getOrDefault("cpu", "?")).append("), ").append(machine.getOrDefault("memory", "?"))
                .append(" memory, ").append(machine.getOrDefault("kernel", "?")).append(", data in ")
                .append(machine.getOrDefault("tmpdir", "?")).append(", ")
                .append(machine.getOrDefault("java", "?")).append("; load average at the start ")
                .append(machine.getOrDefault("loadavg", "?")).append(". Everything (servers and load generator) on"
                        + " this one machine, over loopback.\n\n");
        b.append("**Workload:** closed loop, one connection or session per client thread; a key drawn ")
                .append(opts.getOrDefault("dist", "uniform")).append(" among K; acquire-for-me with W holders per key,"
                        + " hold ").append(opts.getOrDefault("hold_ms", "?")).append(" ms, release, repeat. Timeout ")
                .append(opts.getOrDefault("timeout_s", "?")).append(" s, maxqueue ").append(opts.getOrDefault("maxqueue", "?"))
                .append(" (never reached). Per contender: fresh servers, ").append(opts.getOrDefault("prewarm_s", "?"))
                .append(" s of unreported pre-warm per W value at the largest client count (JIT of the clients and of the"
                        + " JVM servers), then ")
                .append(opts.getOrDefault("reps", "?")).append(" repetition(s) of the matrix, each cell ")
                .append(opts.getOrDefault("warmup_s", "?")).append(" s warm-up + ").append(opts.getOrDefault("duration_s", "?"))
                .append(" s measured. Figures are medians over the repetitions; ranges are min–max. A pair is an"
                        + " acquire granted and released inside the window; acquire latency includes the wait for the"
                        + " key. The load generator checks live that no key ever has more than W holders.\n\n");
        if (!churn.isEmpty()) {
            b.append("**Connection churn:** the same workload, but each client thread opens a new connection or"
                    + " session for every acquire + release pair and closes it after the release, as MediaWiki does"
                    + " (each web request connects, sends ACQ4ME, later RELEASE, and disconnects); what that opens for"
                    + " each contender is in the last column below. Its figures are in tables of their own, after"
                    + " those with kept connections; a pair then counts when its close returns inside the window."
                    + " The pre-warm is run in each connection mode.\n\n");
        }
        b.append("Options of this run: `bench/compare.sh ").append(meta.getOrDefault("argv", "")).append("`. To run it again:"
                + " `bench/compare.sh` (the full matrix, about 2.5 h), `bench/compare.sh --quick` (a reduced one,"
                + " about 10 min), or a subset (`--contenders`, `--clients`, `--keys`, `--workers`, `--reps`,"
                + " `--duration-s`; see the script's header); `RESULTS=file` keeps the JSON lines, from which"
                + " `java -cp baton-bench/target/benchmarks.jar dev.baton.bench.cluster.CompareReport --json file"
                + " --write BENCHMARKS.md` rewrites this section.\n\n");

        b.append("### Contenders\n\n| contender | server | durability | client and recipe |")
                .append(churn.isEmpty() ? "\n|---|---|---|---|\n" : " with a connection per pair |\n|---|---|---|---|---|\n");
        for (String n : names) {
            Map<String, Object> f = run.facts().getOrDefault(n, Map.of());
            b.append("| ").append(n).append(" | ").append(cellText(f.get("server"))).append(" | ")
                    .append(cellText(f.get("durability"))).append(" | ").append(cellText(f.get("client")));
            if (f.get("recipe") != null) {
                b.append("; ").append(cellText(f.get("recipe")));
            }
            if (!churn.isEmpty()) {
                b.append(" | ").append(churnNames.contains(n) ? cellText(f.get("per_pair")) : "not run");
            }
            b.append(" |\n");
        }
        run.failures().forEach((n, e) -> b.append("\n**").append(n).append(" could not be run:** ").append(cellText(e))
                .append('\n'));
        b.append('\n');

        List<String> refs = REFERENCES.stream().filter(names::contains).toList();
        if (!byCell.isEmpty()) {
            if (!churn.isEmpty()) {
                b.append("With kept connections (one connection or session per client thread) first; a connection"
                        + " per pair under *Connection churn* below.\n\n");
            }
            b.append("### Acquire + release pairs per second (median, min–max over repetitions)\n\n");
            table(b, byCell, names, CompareReport::pairsPerSec);

            b.append("### Acquire latency p50 / p99 / p99.9, ms (median over repetitions)\n\n");
            table(b, byCell, names, r -> ms(r.median("acq_p50_us")) + " / " + ms(r.median("acq_p99_us")) + " / "
                    + ms(r.median("acq_p999_us")));

            b.append("### CPU per pair, µs: servers / load generator (median over repetitions)\n\n");
            b.append("All processes share the machine's CPUs, so a client library that costs more CPU leaves less to"
                    + " its servers. Server CPU is all of the contender's server processes together.\n\n");
            table(b, byCell, names, CompareReport::cpuPerPair);
            kernelTable(b, "### Of that CPU, in the kernel", byCell, names);
            runsTable(b, "### Thread runs per pair", byCell, names);
            entriesTable(b, "### Acquire + release pairs", byCell, names);

            ratios(b, "### Baton 3 nodes ÷ the others (median pairs/s; ", byCell, names, refs);
        }

        if (!churn.isEmpty()) {
            churnSection(b, byCell, churn, churnNames, refs);
        }

        // Targets.
        StringBuilder t = new StringBuilder();
        targets(t, byCell, refs);
        int withoutChurn = t.length();
        churnTargets(t, byCell, churn, refs);
        if (!refs.isEmpty() && t.length() > 0) {
            b.append("### Targets: throughput, latency").append(t.length() > withoutChurn ? " and connection churn" : "")
                    .append(" (3-node durable Baton)\n\n| target |");
            refs.forEach(r -> b.append(' ').append(r).append(" |"));
            b.append("\n|---|");
            refs.forEach(r -> b.append("---|"));
            b.append('\n').append(t).append('\n');
        }

        // Problems.
        StringBuilder p = new StringBuilder();
        problems(p, byCell, "");
        problems(p, churn, ", a connection per pair");
        b.append("### Problems (timeouts, refusals and errors, summed over the repetitions; errors include"
                + " warm-ups)\n\n");
        if (p.length() == 0) {
            b.append("None: no timeout, refusal, error, stuck client or W violation in any run.\n");
        } else {
            b.append("| clients | keys | W | contender | what |\n|---:|---:|---:|---|---|\n").append(p);
        }
        return b.toString();
    }

    /** A row per contender and cell with a problem; {@code how} follows the contender's name. */
    private static void problems(StringBuilder p, Map<Cell, Map<String, Reps>> byCell, String how) {
        for (Map.Entry<Cell, Map<String, Reps>> e : byCell.entrySet()) {
            for (Map.Entry<String, Reps> c : e.getValue().entrySet()) {
                Reps r = c.getValue();
                Map<String, Long> kinds = new LinkedHashMap<>();
                kinds.put("timeouts", r.sum("timeouts"));
                kinds.put("queue full", r.sum("queue_full"));
                kinds.put("stuck", r.sum("stuck"));
                kinds.put("VIOLATIONS", r.sum("violations"));
                r.errorKinds().forEach((k, v) -> kinds.put("error " + k, v));
                kinds.values().removeIf(v -> v == 0);
                if (!kinds.isEmpty()) {
                    p.append("| ").append(e.getKey().label()).append(" | ").append(c.getKey()).append(how).append(" | ")
                            .append(cellText(kinds.toString())).append(" |\n");
                }
            }
        }
    }

    private static String pairsPerSec(Reps r) {
        return String.format(Locale.ROOT, "%,.0f%s", r.median("pairs_per_s"), r.rs.size() > 1
                ? String.format(Locale.ROOT, " (%,.0f–%,.0f)", r.min("pairs_per_s"), r.max("pairs_per_s")) : "");
    }

    /**
     * Pairs per Raft log entry (median), for the contenders that report it (Baton: the leader's applied
     * index at the window's edges); left out when none does.
     */
    private static void entriesTable(StringBuilder b, String title, Map<Cell, Map<String, Reps>> byCell,
                                     List<String> names) {
        List<String> withLog = reporting(byCell, names, "pairs_per_entry");
        if (withLog.isEmpty()) {
            return;
        }
        b.append(title).append(" per Raft log entry (median over repetitions)\n\n");
        b.append("How well group commit fills the log (the leader's applied index over the window): every entry is"
                + " a replicated append, fsynced on each node.\n\n");
        table(b, byCell, withLog, r -> {
            double v = r.median("pairs_per_entry");
            return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.1f", v);
        });
    }

    /** The contenders with a figure for {@code field} in some cell (older results lack newer fields). */
    private static List<String> reporting(Map<Cell, Map<String, Reps>> byCell, List<String> names, String field) {
        return names.stream().filter(n -> byCell.values().stream()
                .anyMatch(m -> m.get(n) != null && !Double.isNaN(m.get(n).median(field)))).toList();
    }

    /**
     * Thread runs per pair, servers / load generator, for the cells whose results have them (results
     * written before the count existed have not).
     */
    private static void runsTable(StringBuilder b, String title, Map<Cell, Map<String, Reps>> byCell, List<String> names) {
        tableWhereMeasured(b, byCell, names, "server_runs_per_pair", title + ": servers / load generator",
                "How many times the processes' threads were put on a CPU per pair (the kernel's schedstat): the"
                        + " wake-ups a pair costs. A busy host makes each wake-up dearer but not more frequent, so this"
                        + " tells two builds apart better than pairs/s and CPU per pair do (it still moves with how full"
                        + " the log's entries are).",
                r -> runs(r.median("server_runs_per_pair")) + " / " + runs(r.median("client_runs_per_pair")));
    }

    /**
     * The kernel's part of the CPU per pair, servers / load generator, for the cells whose results have
     * it (results written before the split existed have not).
     */
    private static void kernelTable(StringBuilder b, String title, Map<Cell, Map<String, Reps>> byCell,
                                    List<String> names) {
        tableWhereMeasured(b, byCell, names, "server_kernel_cpu_cores", title + ", µs per pair: servers / load generator",
                "The system time of the processes (`/proc/PID/stat`): system calls, and switching their threads"
                        + " in and out. What a machine charges for these differs between machines far more than what"
                        + " code in user space costs (a virtual machine can make both many times dearer than bare"
                        + " metal); the rest of the figure above is the contenders' own code.",
                r -> perPair(r, "server_kernel_cpu_cores") + " / " + perPair(r, "client_kernel_cpu_cores"));
    }

    /**
     * A table of a figure newer results carry, with a heading and what it means, over the contenders
     * that have it in some cell; nothing at all when none has.
     */
    private static void tableWhereMeasured(StringBuilder b, Map<Cell, Map<String, Reps>> byCell, List<String> names,
                                           String field, String heading, String meaning,
                                           Function<Reps, String> cell) {
        List<String> with = reporting(byCell, names, field);
        if (with.isEmpty()) {
            return;
        }
        b.append(heading).append(" (median over repetitions)\n\n").append(meaning).append("\n\n");
        table(b, byCell, with, cell);
    }

    private static String runs(double v) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String cpuPerPair(Reps r) {
        return perPair(r, "server_cpu_cores") + " / " + perPair(r, "client_cpu_cores");
    }

    /** Each reference's median pairs/s over each non-Baton contender's, a column per other contender. */
    private static void ratios(StringBuilder b, String title, Map<Cell, Map<String, Reps>> byCell, List<String> names,
                               List<String> refs) {
        List<String> others = names.stream().filter(n -> !n.startsWith("baton")).toList();
        if (refs.isEmpty() || others.isEmpty()) {
            return;
        }
        b.append(title).append(String.join(" / ", refs)).append(")\n\n");
        header(b, others, n -> "÷ " + n);
        for (Map.Entry<Cell, Map<String, Reps>> e : byCell.entrySet()) {
            b.append("| ").append(e.getKey().label()).append(" |");
            for (String o : others) {
                List<String> parts = new ArrayList<>();
                for (String ref : refs) {
                    parts.add(fmtRatio(ratio(e.getValue(), ref, o)));
                }
                b.append(' ').append(String.join(" / ", parts)).append(" |");
            }
            b.append('\n');
        }
        b.append('\n');
    }

    /** The tables of the results with a connection per pair, and their ratio to kept connections. */
    private static void churnSection(StringBuilder b, Map<Cell, Map<String, Reps>> kept,
                                     Map<Cell, Map<String, Reps>> churn, List<String> churnNames, List<String> refs) {
        b.append("### Connection churn: a new connection or session per acquire + release pair\n\n");
        b.append("Each client thread opens a connection or session (see the contenders' last column), acquires,"
                + " releases and closes it, for every pair. *Open* is the time to open it (TCP connect, or the"
                + " session's creation where the client makes it then); acquire latency starts after the open, so it"
                + " does not include the connect, but it does include what a server does lazily on a connection's"
                + " first command (Baton's line port opens the connection's session then); *pair* runs from the start"
                + " of the open to the return of the close. CPU per pair includes the connects and closes.\n\n");

        b.append("#### With churn: pairs per second (median, min–max over repetitions)\n\n");
        table(b, churn, churnNames, CompareReport::pairsPerSec);

        b.append("#### With churn: open p50 / p99, acquire p50 / p99 / p99.9, pair p50 / p99, ms (medians)\n\n");
        table(b, churn, churnNames, r -> ms(r.median("open_p50_us")) + " / " + ms(r.median("open_p99_us")) + "; "
                + ms(r.median("acq_p50_us")) + " / " + ms(r.median("acq_p99_us")) + " / " + ms(r.median("acq_p999_us"))
                + "; " + ms(r.median("pair_p50_us")) + " / " + ms(r.median("pair_p99_us")));

        b.append("#### With churn: CPU per pair, µs: servers / load generator (median over repetitions)\n\n");
        table(b, churn, churnNames, CompareReport::cpuPerPair);
        entriesTable(b, "#### With churn: pairs", churn, churnNames);

        ratios(b, "#### With churn: Baton 3 nodes ÷ the others (median pairs/s; ", churn, churnNames, refs);

        // Each contender with churn over itself with kept connections, in the same cell of the same run.
        List<String> both = churnNames.stream()
                .filter(n -> kept.values().stream().anyMatch(m -> m.containsKey(n))).toList();
        if (both.isEmpty()) {
            return;
        }
        b.append("#### With churn ÷ with kept connections (median pairs/s, same contender, same cell)\n\n");
        b.append("The churn target: Baton with churn ≥ ").append(String.format(Locale.ROOT, "%.1f", CHURN_TARGET))
                .append("× Baton with kept connections.\n\n");
        header(b, both, n -> n);
        for (Map.Entry<Cell, Map<String, Reps>> e : churn.entrySet()) {
            b.append("| ").append(e.getKey().label()).append(" |");
            for (String n : both) {
                b.append(' ').append(fmtRatio(churnRatio(kept.get(e.getKey()), e.getValue(), n))).append(" |");
            }
            b.append('\n');
        }
        b.append('\n');
    }

    /** Median pairs/s of {@code name} with churn over the same with kept connections, or NaN. */
    private static double churnRatio(Map<String, Reps> kept, Map<String, Reps> churn, String name) {
        Reps k = kept == null ? null : kept.get(name);
        Reps c = churn == null ? null : churn.get(name);
        if (k == null || c == null) {
            return Double.NaN;
        }
        double d = k.median("pairs_per_s");
        return d > 0 ? c.median("pairs_per_s") / d : Double.NaN;
    }

    /** The churn target: every cell measured both ways, each reference with churn ≥ 0.8× itself kept. */
    private static void churnTargets(StringBuilder b, Map<Cell, Map<String, Reps>> kept,
                                     Map<Cell, Map<String, Reps>> churn, List<String> refs) {
        for (Map.Entry<Cell, Map<String, Reps>> e : churn.entrySet()) {
            Cell c = e.getKey();
            Map<String, Reps> k = kept.get(c);
            if (k == null) {
                continue;
            }
            b.append("| ").append(c.clients()).append(" clients, ").append(c.keys()).append(" key(s)")
                    .append(c.dist().equals("uniform") ? "" : " " + c.dist()).append(", W=").append(c.workers())
                    .append(": with a connection per pair ≥ ").append(String.format(Locale.ROOT, "%.1f", CHURN_TARGET))
                    .append("× with kept connections |");
            for (String ref : refs) {
                double r = churnRatio(k, e.getValue(), ref);
                b.append(' ').append(Double.isNaN(r) ? "not measured"
                        : fmtRatio(r) + (r >= CHURN_TARGET ? " MET" : " **MISSED**")).append(" |");
            }
            b.append('\n');
        }
    }

    /** A row per cell, a column per contender, {@code value} of its repetitions in each. */
    private static void table(StringBuilder b, Map<Cell, Map<String, Reps>> byCell, List<String> names,
                              Function<Reps, String> value) {
        header(b, names, n -> n);
        for (Map.Entry<Cell, Map<String, Reps>> e : byCell.entrySet()) {
            b.append("| ").append(e.getKey().label()).append(" |");
            for (String n : names) {
                Reps r = e.getValue().get(n);
                b.append(' ').append(r == null ? "–" : value.apply(r)).append(" |");
            }
            b.append('\n');
        }
        b.append('\n');
    }

    private static void header(StringBuilder b, List<String> cols, Function<String, String> title) {
        b.append("| clients | keys | W |");
        cols.forEach(c -> b.append(' ').append(title.apply(c)).append(" |"));
        b.append("\n|---:|---:|---:|");
        cols.forEach(c -> b.append("---:|"));
        b.append('\n');
    }

    private static double ratio(Map<String, Reps> cell, String a, String over) {
        Reps x = cell.get(a);
        Reps y = cell.get(over);
        if (x == null || y == null) {
            return Double.NaN;
        }
        double d = y.median("pairs_per_s");
        return d > 0 ? x.median("pairs_per_s") / d : Double.NaN;
    }

    private static String fmtRatio(double r) {
        return Double.isNaN(r) ? "–" : String.format(Locale.ROOT, r >= 10 ? "%.0f×" : "%.2f×", r);
    }

    /** Median CPU µs per pair from a cores figure, or – where it was not measured. */
    private static String perPair(Reps r, String coresField) {
        double us = median(r.rs.stream().mapToDouble(x -> {
            double cores = num(x, coresField);
            double pps = num(x, "pairs_per_s");
            return cores >= 0 && pps > 0 ? cores * 1e6 / pps : Double.NaN;
        }).toArray());
        return Double.isNaN(us) ? "–" : String.format(Locale.ROOT, "%,.0f", us);
    }

    private static String ms(double us) {
        if (Double.isNaN(us)) {
            return "–";
        }
        double m = us / 1000.0;
        return String.format(Locale.ROOT, m >= 100 ? "%.0f" : m >= 10 ? "%.1f" : "%.2f", m);
    }

    private static String cellText(Object o) {
        return o == null ? "–" : String.valueOf(o).replace("|", "\\|").replace("\n", " ");
    }

    /** One row per target; each reference contender's figure and MET / MISSED / not measured. */
    private static void targets(StringBuilder b, Map<Cell, Map<String, Reps>> byCell, List<String> refs) {
        List<Cell> cells = new ArrayList<>(byCell.keySet());
        // 64 clients over 1000 keys, against poolcounterd, Redis appendfsync always and ZooKeeper.
        for (Cell c : cells.stream().filter(c -> c.clients() == 64 && c.keys() == 1000).toList()) {
            String where = "64 clients, 1 000 keys, W=" + c.workers();
            ratioRow(b, where, byCell.get(c), refs, "poolcounterd", 1.0);
            ratioRow(b, where, byCell.get(c), refs, "redis-always", 2.0);
            ratioRow(b, where, byCell.get(c), refs, "zookeeper", 20.0);
        }
        // One hot key.
        for (Cell c : cells.stream().filter(c -> c.clients() == 64 && c.keys() == 1 && c.workers() == 1).toList()) {
            row(b, "64 clients, 1 key, W=1: no timeouts", byCell.get(c), refs,
                    r -> r.sum("timeouts") == 0 ? "0 MET" : r.sum("timeouts") + " **MISSED**");
            ratioRow(b, "64 clients, 1 key, W=1", byCell.get(c), refs, "poolcounterd", 1.0);
        }
        // One client: latency.
        for (Cell c : cells.stream().filter(c -> c.clients() == 1).toList()) {
            row(b, "1 client, " + c.keys() + " key(s), W=" + c.workers() + ": acquire p50 ≤ 1 ms, p99 ≤ 5 ms",
                    byCell.get(c), refs, r -> {
                        double p50 = r.median("acq_p50_us");
                        double p99 = r.median("acq_p99_us");
                        return ms(p50) + " / " + ms(p99) + " ms" + (p50 <= 1000 && p99 <= 5000 ? " MET" : " **MISSED**");
                    });
        }
    }

    private static void row(StringBuilder b, String target, Map<String, Reps> cell, List<String> refs,
                            Function<Reps, String> verdict) {
        b.append("| ").append(target).append(" |");
        for (String ref : refs) {
            Reps r = cell.get(ref);
            b.append(' ').append(r == null ? "not measured" : verdict.apply(r)).append(" |");
        }
        b.append('\n');
    }

    private static void ratioRow(StringBuilder b, String where, Map<String, Reps> cell, List<String> refs, String other,
                                 double factor) {
        b.append("| ").append(where).append(": ≥ ").append(String.format(Locale.ROOT, "%.0f", factor)).append("× ")
                .append(other).append(" |");
        for (String ref : refs) {
            double r = ratio(cell, ref, other);
            b.append(' ').append(Double.isNaN(r) ? "not measured" : fmtRatio(r) + (r >= factor ? " MET" : " **MISSED**"))
                    .append(" |");
        }
        b.append('\n');
    }
}
