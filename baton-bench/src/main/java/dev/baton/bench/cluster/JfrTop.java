package dev.baton.bench.cluster;

import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Summarises the {@code jdk.ExecutionSample} events of a JFR recording: samples per thread (digits
 * folded), and the top frames by self and inclusive samples, optionally for threads whose name
 * contains a filter. {@code java -cp benchmarks.jar dev.baton.bench.cluster.JfrTop FILE [THREAD] [N]}.
 */
public final class JfrTop {
    private JfrTop() {}

    public static void main(String[] args) throws Exception {
        String filter = args.length > 1 ? args[1] : "";
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 25;
        Map<String, Integer> threads = new HashMap<>();
        Map<String, Integer> self = new HashMap<>();
        Map<String, Integer> incl = new HashMap<>();
        int total = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(Path.of(args[0]))) {
            if (!e.getEventType().getName().equals("jdk.ExecutionSample") || e.getStackTrace() == null) {
                continue;
            }
            String t = e.getThread("sampledThread") == null ? "?" : e.getThread("sampledThread").getJavaName();
            t = t == null ? "?" : t.replaceAll("\\d+", "N");
            threads.merge(t, 1, Integer::sum);
            if (!t.contains(filter)) {
                continue;
            }
            total++;
            List<RecordedFrame> frames = e.getStackTrace().getFrames();
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < frames.size(); i++) {
                RecordedFrame f = frames.get(i);
                String m = f.getMethod().getType().getName() + "." + f.getMethod().getName();
                if (i == 0) {
                    self.merge(m, 1, Integer::sum);
                }
                if (seen.add(m)) {
                    incl.merge(m, 1, Integer::sum);
                }
            }
        }
        System.out.println("samples per thread:");
        print(threads, n, -1);
        System.out.println("self (threads matching '" + filter + "', " + total + " samples):");
        print(self, n, total);
        System.out.println("inclusive:");
        print(incl, n, total);
    }

    private static void print(Map<String, Integer> m, int n, int total) {
        m.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(n).forEach(e ->
                System.out.printf("  %6d %s %s%n", e.getValue(),
                        total > 0 ? String.format("%5.1f%%", 100.0 * e.getValue() / total) : "", e.getKey()));
    }
}
