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
 * ratios, the targets met or missed, and every problem seen. {@link #writeSection} puts it into
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
        Map<Cell, Map<String, Reps>> byCell = new LinkedHashMap<>();
        for (Map<String, Object> r : run.results()) {
            Cell c = new Cell((long) num(r, "clients"), (long) num(r, "keys"), (long) num(r, "workers"),
                    String.valueOf(r.getOrDefault("dist", "uniform")));
            byCell.computeIfAbsent(c, x -> new LinkedHashMap<>())
                    .computeIfAbsent(String.valueOf(r.get("contender")), x -> new Reps()).rs.add(r);
        }
        List<String> names = new ArrayList<>(run.facts().keySet());
        Map<String, Object> meta = run.meta();
        Map<String, Object> machine = meta.get("machine") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        Map<String, Object> opts = meta.get("options") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();

        StringBuilder b = new StringBuilder();
        b.append("## Side by side (issue 7): Baton against poolcounterd, Redis, ZooKeeper and etcd\n\n");
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
        b.append("Options of this run: `bench/compare.sh ").append(meta.getOrDefault("argv", "")).append("`. To run it again:"
                + " `bench/compare.sh` (the full matrix, about 2.5 h), `bench/compare.sh --quick` (a reduced one,"
                + " about 10 min), or a subset (`--contenders`, `--clients`, `--keys`, `--workers`, `--reps`,"
                + " `--duration-s`; see the script's header); `RESULTS=file` keeps the JSON lines, from which"
                + " `java -cp baton-bench/target/benchmarks.jar dev.baton.bench.cluster.CompareReport --json file"
                + " --write BENCHMARKS.md` rewrites this section.\n\n");

        b.append("### Contenders\n\n| contender | server | durability | client and recipe |\n|---|---|---|---|\n");
        for (String n : names) {
            Map<String, Object> f = run.facts().getOrDefault(n, Map.of());
            b.append("| ").append(n).append(" | ").append(cellText(f.get("server"))).append(" | ")
                    .append(cellText(f.get("durability"))).append(" | ").append(cellText(f.get("client")));
            if (f.get("recipe") != null) {
                b.append("; ").append(cellText(f.get("recipe")));
            }
            b.append(" |\n");
        }
        run.failures().forEach((n, e) -> b.append("\n**").append(n).append(" could not be run:** ").append(cellText(e))
                .append('\n'));
        b.append('\n');

        b.append("### Acquire + release pairs per second (median, min–max over repetitions)\n\n");
        table(b, byCell, names, r -> String.format(Locale.ROOT, "%,.0f%s", r.median("pairs_per_s"), r.rs.size() > 1
                ? String.format(Locale.ROOT, " (%,.0f–%,.0f)", r.min("pairs_per_s"), r.max("pairs_per_s")) : ""));

        b.append("### Acquire latency p50 / p99 / p99.9, ms (median over repetitions)\n\n");
        table(b, byCell, names, r -> ms(r.median("acq_p50_us")) + " / " + ms(r.median("acq_p99_us")) + " / "
                + ms(r.median("acq_p999_us")));

        b.append("### CPU per pair, µs: servers / load generator (median over repetitions)\n\n");
        b.append("All processes share the machine's CPUs, so a client library that costs more CPU leaves less to"
                + " its servers. Server CPU is all of the contender's server processes together.\n\n");
        table(b, byCell, names, r -> perPair(r, "server_cpu_cores") + " / " + perPair(r, "client_cpu_cores"));

        // Ratios.
        List<String> refs = REFERENCES.stream().filter(names::contains).toList();
        List<String> others = names.stream().filter(n -> !n.startsWith("baton")).toList();
        if (!refs.isEmpty() && !others.isEmpty()) {
            b.append("### Baton 3 nodes ÷ the others (median pairs/s; ").append(String.join(" / ", refs))
                    .append(")\n\n");
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

        // Targets.
        if (!refs.isEmpty()) {
            b.append("### Targets of issue 7 (3-node durable Baton)\n\n| target |");
            refs.forEach(r -> b.append(' ').append(r).append(" |"));
            b.append("\n|---|");
            refs.forEach(r -> b.append("---|"));
            b.append('\n');
            targets(b, byCell, refs);
            b.append('\n');
        }

        // Problems.
        StringBuilder p = new StringBuilder();
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
                    p.append("| ").append(e.getKey().label()).append(" | ").append(c.getKey()).append(" | ")
                            .append(cellText(kinds.toString())).append(" |\n");
                }
            }
        }
        b.append("### Problems (timeouts, refusals and errors, summed over the repetitions; errors include"
                + " warm-ups)\n\n");
        if (p.length() == 0) {
            b.append("None: no timeout, refusal, error, stuck client or W violation in any run.\n");
        } else {
            b.append("| clients | keys | W | contender | what |\n|---:|---:|---:|---|---|\n").append(p);
        }
        return b.toString();
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
