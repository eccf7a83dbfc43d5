package dev.baton.bench.cluster;

import dev.baton.bench.load.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The report of a comparison, from hand-made JSON lines. */
class CompareReportTest {
    @TempDir
    Path dir;

    /** A result line as {@code Load.Result.json} writes it, without the {@code connect} field of newer ones. */
    private static String result(String contender, int clients, int keys, int rep, double pairsPerSec, long p50, long p99,
                                 long timeouts) {
        return resultObj(contender, clients, keys, rep, pairsPerSec, p50, p99, timeouts)
                .counts("error_kinds", timeouts > 0 ? Map.of("IOException", 1L) : Map.of()).toString();
    }

    private static Json.Obj resultObj(String contender, int clients, int keys, int rep, double pairsPerSec, long p50,
                                      long p99, long timeouts) {
        return new Json.Obj().str("type", "result").str("run", "r1").str("rep", Integer.toString(rep))
                .str("contender", contender).num("clients", clients).num("keys", keys).str("dist", "uniform")
                .num("workers", 1).num("pairs_per_s", pairsPerSec, 1).num("acq_p50_us", p50).num("acq_p99_us", p99)
                .num("acq_p999_us", p99 * 2).num("timeouts", timeouts).num("queue_full", 0).num("stuck", 0)
                .num("violations", 0);
    }

    /** A result with a connection per pair: open and pair latency, CPU. */
    private static String churn(String contender, int rep, double pairsPerSec, long openP50, long acqP50, long pairP50,
                                double serverCores, long errors) {
        return resultObj(contender, 64, 1000, rep, pairsPerSec, acqP50, acqP50 * 3, 0).str("connect", "per-pair")
                .num("open_p50_us", openP50).num("open_p99_us", openP50 * 4).num("pair_p50_us", pairP50)
                .num("pair_p99_us", pairP50 * 3).num("server_cpu_cores", serverCores, 3).num("client_cpu_cores", 0.5, 3)
                .counts("error_kinds", errors > 0 ? Map.of("open:IOException", errors) : Map.of()).toString();
    }

    @Test
    void tablesRatiosAndTargets() throws Exception {
        Path json = dir.resolve("r.jsonl");
        Json.appendLine(json, new Json.Obj().str("type", "meta").str("run", "r1").str("baton_version", "abc1234")
                .strings("machine", Map.of("nproc", "2")).strings("options", Map.of("reps", "2")).toString());
        for (String c : List.of("baton3-java", "poolcounterd", "redis-always", "zookeeper")) {
            Json.appendLine(json, new Json.Obj().str("type", "contender").str("run", "r1").str("contender", c)
                    .strings("facts", Map.of("server", c + " server")).toString());
        }
        for (int rep = 1; rep <= 2; rep++) {
            Json.appendLine(json, result("baton3-java", 64, 1000, rep, 20_000 + rep * 1000, 900, 4000, 0));
            Json.appendLine(json, result("poolcounterd", 64, 1000, rep, 40_000, 100, 300, 0));
            Json.appendLine(json, result("redis-always", 64, 1000, rep, 5_000, 2000, 9000, 0));
            Json.appendLine(json, result("zookeeper", 64, 1000, rep, 500, 20000, 90000, 0));
            Json.appendLine(json, result("baton3-java", 1, 1000, rep, 1_000, 800, 4_000, 0));
            Json.appendLine(json, result("baton3-java", 64, 1, rep, 1_000, 60_000, 90_000, 3));
            Json.appendLine(json, result("poolcounterd", 64, 1, rep, 10_000, 6_000, 9_000, 0));
        }
        String md = CompareReport.markdown(CompareReport.read(List.of(json), "last"));

        assertThat(md).contains("| 64 | 1000 | 1 | 21,500 (21,000–22,000) | 40,000 (40,000–40,000) |");
        assertThat(md).contains("64 clients, 1 000 keys, W=1: ≥ 1× poolcounterd | 0.54× **MISSED**");
        assertThat(md).contains("64 clients, 1 000 keys, W=1: ≥ 2× redis-always | 4.30× MET");
        assertThat(md).contains("64 clients, 1 000 keys, W=1: ≥ 20× zookeeper | 43× MET");
        assertThat(md).contains("64 clients, 1 key, W=1: no timeouts | 6 **MISSED**");
        assertThat(md).contains("1 client, 1000 key(s), W=1: acquire p50 ≤ 1 ms, p99 ≤ 5 ms | 0.80 / 4.00 ms MET");
        assertThat(md).contains("| 64 | 1 | 1 | baton3-java | {timeouts=6, error IOException=2} |");
        assertThat(md).contains("(Baton abc1234)");
    }

    /**
     * The report of three repetitions of baton3-line (64 x 1 000), each result with the fields {@code extra}
     * adds for its repetition, beside plain poolcounterd results.
     */
    private String threeRepsBesidePoolcounterd(String file,
            java.util.function.BiFunction<Json.Obj, Integer, Json.Obj> extra) throws Exception {
        Path json = dir.resolve(file);
        Json.appendLine(json, new Json.Obj().str("type", "meta").str("run", "r1").str("baton_version", "abc1234")
                .toString());
        for (int rep = 1; rep <= 3; rep++) {
            Json.appendLine(json, extra.apply(resultObj("baton3-line", 64, 1000, rep, 4_000, 900, 4000, 0), rep).toString());
            Json.appendLine(json, result("poolcounterd", 64, 1000, rep, 18_000, 100, 300, 0));
        }
        return CompareReport.markdown(CompareReport.read(List.of(json), "last"));
    }

    @Test
    void pairsPerLogEntryAreTabledForTheContendersThatReportThem() throws Exception {
        String md = threeRepsBesidePoolcounterd("e.jsonl", (o, rep) -> o.num("log_entries", 10_000)
                .num("pairs_per_entry", 3.0 + rep, 2));

        assertThat(md).contains("### Acquire + release pairs per Raft log entry");
        // The median of 4, 5 and 6; poolcounterd has no log, so it has no column.
        assertThat(md).contains("| clients | keys | W | baton3-line |\n|---:|---:|---:|---:|\n| 64 | 1000 | 1 | 5.0 |");
    }

    @Test
    void threadRunsPerPairAreTabledWhereMeasured() throws Exception {
        // poolcounterd's lines are as older results were written, without the counts: no column
        String md = threeRepsBesidePoolcounterd("t.jsonl", (o, rep) -> o.num("server_runs_per_pair", 2.0 + rep, 2)
                .num("client_runs_per_pair", 3.25, 2));

        assertThat(md).contains("### Thread runs per pair: servers / load generator");
        // The median of 3, 4 and 5 for the servers.
        assertThat(md).contains("| clients | keys | W | baton3-line |\n|---:|---:|---:|---:|\n| 64 | 1000 | 1 | 4.00 / 3.25 |");
    }

    @Test
    void theKernelsPartOfTheCpuIsTabledWhereMeasured() throws Exception {
        // 4 000 pairs/s: 0.4 core is 100 µs per pair; the servers' kernel part 0.2, 0.24, 0.28 core
        String md = threeRepsBesidePoolcounterd("k.jsonl", (o, rep) -> o.num("server_cpu_cores", 0.4, 3)
                .num("client_cpu_cores", 0.3, 3).num("server_kernel_cpu_cores", 0.16 + 0.04 * rep, 3)
                .num("client_kernel_cpu_cores", 0.2, 3));

        assertThat(md).contains("### Of that CPU, in the kernel, µs per pair: servers / load generator");
        // The median of 50, 60 and 70 µs for the servers; poolcounterd's lines lack the split: no column.
        assertThat(md).contains("| clients | keys | W | baton3-line |\n|---:|---:|---:|---:|\n| 64 | 1000 | 1 | 60 / 50 |");
    }

    @Test
    void noPairsPerEntryTableWithoutALogAndNoThreadRunsTableWithoutTheCounts() throws Exception {
        Path json = dir.resolve("n.jsonl");
        Json.appendLine(json, new Json.Obj().str("type", "meta").str("run", "r1").str("baton_version", "abc1234")
                .toString());
        Json.appendLine(json, result("poolcounterd", 64, 1000, 1, 18_000, 100, 300, 0));
        assertThat(CompareReport.markdown(CompareReport.read(List.of(json), "last")))
                .doesNotContain("per Raft log entry").doesNotContain("Thread runs").doesNotContain("in the kernel");
    }

    @Test
    void churnHasItsOwnTablesAndItsRatioToKeptConnections() throws Exception {
        Path json = dir.resolve("c.jsonl");
        Json.appendLine(json, new Json.Obj().str("type", "meta").str("run", "r1").str("baton_version", "abc1234")
                .strings("options", Map.of("connect", "kept,per-pair")).toString());
        for (String c : List.of("baton3-line", "poolcounterd")) {
            Json.appendLine(json, new Json.Obj().str("type", "contender").str("run", "r1").str("contender", c)
                    .strings("facts", Map.of("server", c + " server", "client", "line", "per_pair",
                            "connect, ACQ4ME, RELEASE, close")).toString());
        }
        for (int rep = 1; rep <= 2; rep++) {
            Json.appendLine(json, resultObj("baton3-line", 64, 1000, rep, 10_000, 900, 4000, 0)
                    .str("connect", "kept").counts("error_kinds", Map.of()).toString());
            Json.appendLine(json, result("poolcounterd", 64, 1000, rep, 40_000, 100, 300, 0));
            Json.appendLine(json, churn("baton3-line", rep, 7_000 + rep * 1000, 150, 1_200, 1_600, 1.4, 0));
            Json.appendLine(json, churn("poolcounterd", rep, 30_000, 60, 100, 250, 0.6, rep == 2 ? 3 : 0));
        }
        String md = CompareReport.markdown(CompareReport.read(List.of(json), "last"));

        // Kept connections: as before, without the churn results.
        assertThat(md).contains("| 64 | 1000 | 1 | 10,000 (10,000–10,000) | 40,000 (40,000–40,000) |");
        // The contenders say what a connection per pair is for each.
        assertThat(md).contains("| client and recipe | with a connection per pair |");
        assertThat(md).contains("| baton3-line | baton3-line server | – | line | connect, ACQ4ME, RELEASE, close |");
        // Churn: its own tables.
        assertThat(md).contains("### Connection churn");
        assertThat(md).contains("#### With churn: pairs per second");
        assertThat(md).contains("| 64 | 1000 | 1 | 8,500 (8,000–9,000) | 30,000 (30,000–30,000) |");
        assertThat(md).contains("| 64 | 1000 | 1 | 0.15 / 0.60; 1.20 / 3.60 / 7.20; 1.60 / 4.80 |");
        assertThat(md).contains("| 64 | 1000 | 1 | 165 / 59 | 20 / 17 |"); // 1.4 cores / 8 500 pairs/s; 0.5 / 8 500
        assertThat(md).contains("#### With churn: Baton 3 nodes ÷ the others");
        assertThat(md).contains("| 64 | 1000 | 1 | 0.28× |");
        // Each contender with churn over itself kept, and the churn target.
        assertThat(md).contains("#### With churn ÷ with kept connections");
        assertThat(md).contains("| 64 | 1000 | 1 | 0.85× | 0.75× |");
        assertThat(md).contains("### Targets: throughput, latency and connection churn (3-node durable Baton)");
        assertThat(md).contains("| 64 clients, 1000 key(s), W=1: with a connection per pair ≥ 0.8× with kept"
                + " connections | 0.85× MET |");
        // Problems say which mode they were seen in.
        assertThat(md).contains("| 64 | 1000 | 1 | poolcounterd, a connection per pair | {error open:IOException=3} |");
    }

    @Test
    void churnTargetMissed() throws Exception {
        Path json = dir.resolve("m.jsonl");
        Json.appendLine(json, new Json.Obj().str("type", "meta").str("run", "r1").toString());
        Json.appendLine(json, resultObj("baton3-java", 64, 1000, 1, 4_000, 900, 4000, 0).str("connect", "kept")
                .counts("error_kinds", Map.of()).toString());
        Json.appendLine(json, churn("baton3-java", 1, 1_000, 2_000, 900, 3_500, 1.0, 0));
        String md = CompareReport.markdown(CompareReport.read(List.of(json), "last"));
        assertThat(md).contains("with a connection per pair ≥ 0.8× with kept connections | 0.25× **MISSED** |");
    }

    @Test
    void writesOnlyBetweenItsMarkers() throws Exception {
        Path md = dir.resolve("B.md");
        Files.writeString(md, "# Title\n\nkept\n");
        CompareReport.writeSection(md, "first\n");
        assertThat(Files.readString(md)).isEqualTo("# Title\n\nkept\n\n" + CompareReport.BEGIN + "\nfirst\n"
                + CompareReport.END + "\n");
        Files.writeString(md, Files.readString(md) + "\n## After\n\nalso kept\n");
        CompareReport.writeSection(md, "second");
        assertThat(Files.readString(md)).isEqualTo("# Title\n\nkept\n\n" + CompareReport.BEGIN + "\nsecond\n"
                + CompareReport.END + "\n\n## After\n\nalso kept\n");
    }
}
