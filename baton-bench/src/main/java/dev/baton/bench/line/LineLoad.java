package dev.baton.bench.line;

import dev.baton.bench.cluster.Args;
import dev.baton.bench.load.Json;
import dev.baton.bench.load.Keys;
import dev.baton.bench.load.LineContender;
import dev.baton.bench.load.Load;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The load generator ({@link Load}) through the PoolCounter line protocol ({@link LineContender})
 * against {@code poolcounterd} or Baton's line port: the command line of the PoolCounter door's first
 * measurements (docs/benchmark-history.md).
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.baton.bench.line.LineLoad --targets 127.0.0.1:7531
 * --connections 64 --keys 1000 --warmup-s 5 --duration-s 10 --label poolcounterd --json out.jsonl}
 * (also {@code --workers}, {@code --maxqueue}, {@code --timeout}, {@code --hold-ms}, {@code --mode me|any},
 * {@code --dist uniform|zipf[:S]}, {@code --connect kept|per-pair}: a connection per acquire+release pair,
 * {@code --pids} of the servers whose CPU is reported). Exit status 2 if
 * a W violation was seen.
 */
public final class LineLoad {
    private LineLoad() {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        String targets = a.str("targets", "127.0.0.1:7531");
        String label = a.str("label", "line");
        String mode = a.str("mode", "me");
        if (!mode.equals("me") && !mode.equals("any")) {
            throw new IllegalArgumentException("--mode is me or any, got " + mode);
        }
        Load.Config c = new Load.Config(label, a.integer("connections", 64),
                Keys.parse(a.str("dist", "uniform"), a.integer("keys", 1000)), a.integer("workers", 1),
                a.integer("maxqueue", 1000), a.integer("timeout", 10),
                Math.round(Double.parseDouble(a.str("hold-ms", "0")) * 1000), a.integer("warmup-s", 5),
                a.integer("duration-s", 10), mode.equals("any"), longs(a.str("pids", "")),
                Load.Connect.parse(a.str("connect", "kept")));
        String json = a.str("json", "");
        a.checkNoneUnknown();
        Load.Result r = Load.run(new LineContender(label, LineContender.addresses(targets)), c);
        System.out.println(r.human());
        String line = r.json(Map.of());
        System.out.println(line);
        if (!json.isEmpty()) {
            Json.appendLine(Path.of(json), line);
        }
        System.exit(r.violations() > 0 ? 2 : 0);
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
}
