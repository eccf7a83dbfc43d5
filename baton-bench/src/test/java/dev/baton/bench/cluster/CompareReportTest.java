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

    private static String result(String contender, int clients, int keys, int rep, double pairsPerSec, long p50, long p99,
                                 long timeouts) {
        return new Json.Obj().str("type", "result").str("run", "r1").str("rep", Integer.toString(rep))
                .str("contender", contender).num("clients", clients).num("keys", keys).str("dist", "uniform")
                .num("workers", 1).num("pairs_per_s", pairsPerSec, 1).num("acq_p50_us", p50).num("acq_p99_us", p99)
                .num("acq_p999_us", p99 * 2).num("timeouts", timeouts).num("queue_full", 0).num("stuck", 0)
                .num("violations", 0).counts("error_kinds", timeouts > 0 ? Map.of("IOException", 1L) : Map.of())
                .toString();
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
