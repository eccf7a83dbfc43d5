package dev.baton.bench.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/** Facts about the machine and small utilities shared by the server benchmarks. */
public final class Machine {
    private Machine() {}

    /** The 1-minute load average ({@code /proc/loadavg}), or NaN. */
    public static double load1() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** {@code /proc/loadavg}'s first three fields, e.g. "1.20 0.90 0.75". */
    public static String loadavg() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    /** User + system CPU time of a process in ms ({@code /proc/PID/stat}), or -1. */
    public static long cpuMillis(long pid) {
        return statMillis(pid, true);
    }

    /**
     * The system part of {@link #cpuMillis}: CPU time of a process in the kernel on its behalf (system
     * calls, page faults, the switches to and from its threads), in ms, or -1. What a machine charges
     * for that differs far more between machines (virtualisation above all) than what code in user
     * space costs.
     */
    public static long kernelCpuMillis(long pid) {
        return statMillis(pid, false);
    }

    private static long statMillis(long pid, boolean withUser) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = (withUser ? Long.parseLong(f[11]) : 0) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
            return ticks * 10; // USER_HZ is 100 on Linux
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * How many times the threads of a process have been put on a CPU, summed over the threads alive
     * now (the third field of {@code /proc/PID/task/TID/schedstat}), or -1 if it cannot be read. The
     * difference over a window counts the wake-ups the process cost, which a busy host makes dearer
     * (more CPU time each) but not more frequent. Threads that end inside a window are not counted.
     */
    public static long threadRuns(long pid) {
        Path tasks = Path.of("/proc/" + pid + "/task");
        try (Stream<Path> ts = Files.list(tasks)) {
            long sum = 0;
            int read = 0;
            for (Path t : (Iterable<Path>) ts::iterator) {
                try {
                    String[] f = Files.readString(t.resolve("schedstat")).trim().split(" ");
                    sum += Long.parseLong(f[2]);
                    read++;
                } catch (IOException | RuntimeException gone) {
                    // the thread ended between the listing and the read
                }
            }
            return read == 0 ? -1 : sum;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    public static String header() {
        return "# " + Instant.now().truncatedTo(ChronoUnit.SECONDS) + " nproc=" + Runtime.getRuntime().availableProcessors()
                + " java=" + System.getProperty("java.vm.version") + " loadavg=" + loadavg();
    }

    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** A port free now and not handed out before by this JVM (the kernel may offer a closed probe's port again). */
    public static int freePort() {
        while (true) {
            try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    public static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /**
     * What a report says about the machine: CPU model and count, memory, kernel, Java, the temp dir
     * (where the servers' data goes) and its file system type, and the load average.
     */
    public static Map<String, String> facts() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("nproc", Integer.toString(Runtime.getRuntime().availableProcessors()));
        m.put("cpu", firstValue(Path.of("/proc/cpuinfo"), "model name").orElse("?"));
        m.put("memory", firstValue(Path.of("/proc/meminfo"), "MemTotal").orElse("?"));
        m.put("kernel", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        String tmp = System.getProperty("java.io.tmpdir");
        String fs;
        try {
            fs = Files.getFileStore(Path.of(tmp)).type();
        } catch (IOException | RuntimeException e) {
            fs = "?";
        }
        m.put("tmpdir", tmp + " (" + fs + ")");
        m.put("loadavg", loadavg());
        return m;
    }

    /** The value of the first {@code name: value} line of a /proc file. */
    private static Optional<String> firstValue(Path file, String name) {
        try {
            List<String> lines = Files.readAllLines(file);
            for (String l : lines) {
                int colon = l.indexOf(':');
                if (colon > 0 && l.substring(0, colon).trim().equals(name)) {
                    return Optional.of(l.substring(colon + 1).trim().replaceAll("\\s+", " "));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or not readable
        }
        return Optional.empty();
    }
}
