package dev.baton.bench;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;

import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;

/** Shared set-up code of the core benchmarks: building a populated state through the public API only. */
final class BenchSupport {
    private BenchSupport() {}

    /** Leader timestamp of the first benchmark entry (any fixed value will do: time only moves forward). */
    static final long BASE_TIME = 1_700_000_000_000L;
    /** Session TTL used everywhere (1 h = the default maximum; no session expires during a run). */
    static final long TTL_MS = 3_600_000L;
    /** Commands per entry while populating a state in set-up. */
    private static final int SETUP_BATCH = 1_000;

    /** Default limits raised so that the requested sessions and pool keys fit. */
    static Limits limitsFor(int sessions, int poolKeys) {
        Limits d = Limits.defaults();
        return d.toBuilder()
                .maxSessions(Math.max(d.maxSessions(), sessions + 1_000))
                .maxPoolKeys(Math.max(d.maxPoolKeys(), poolKeys + 1_000))
                .build();
    }

    /** Name of the i-th "held" key (keys kept locked for the whole run, to make the maps large). */
    static String heldKey(int i) {
        return "held:pool:" + i;
    }

    /** Name of the i-th working key (acquired and released by the measured commands). */
    static String workKey(int i) {
        return "wiki:pool:" + i;
    }

    /**
     * Applies {@code commands} in entries of {@link #SETUP_BATCH} commands, one entry per update,
     * after the last applied index; returns every result and checks that none is a rejection and
     * every pool acquire was granted.
     */
    static List<Result> applyAll(CoordinationStateMachine sm, List<? extends Command> commands) {
        List<Result> all = new ArrayList<>(commands.size());
        for (int from = 0; from < commands.size(); from += SETUP_BATCH) {
            List<? extends Command> part = commands.subList(from, Math.min(commands.size(), from + SETUP_BATCH));
            long index = sm.lastApplied() + 1;
            List<Applied> out = sm.update(List.of(Entry.of(index, BASE_TIME, part)));
            for (Result r : out.get(0).results()) {
                if (r instanceof Result.Rejected rej) {
                    throw new IllegalStateException("set-up command rejected: " + rej);
                }
                if (r instanceof Result.PoolReply p && p.status() != Result.PoolStatus.LOCKED) {
                    throw new IllegalStateException("set-up acquire not granted: " + p);
                }
                all.add(r);
            }
        }
        return all;
    }

    /** Opens {@code n} sessions and returns their ids. */
    static long[] openSessions(CoordinationStateMachine sm, int n) {
        List<Command> opens = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            opens.add(new OpenSession(null, TTL_MS));
        }
        List<Result> rs = applyAll(sm, opens);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = ((Result.SessionOpened) rs.get(i)).session();
        }
        return ids;
    }

    /**
     * Makes {@code heldKeys} distinct pool keys held: {@code ceil(heldKeys / 4)} new sessions, each
     * acquiring (up to) 4 keys, the default per-session maximum. Returns the holder sessions.
     */
    static long[] holdKeys(CoordinationStateMachine sm, int heldKeys, boolean requestIds) {
        int perSession = sm.state().limits().maxSlotsPerSession();
        int nSessions = (heldKeys + perSession - 1) / perSession;
        long[] holders = openSessions(sm, nSessions);
        List<Command> acquires = new ArrayList<>(heldKeys);
        for (int k = 0; k < heldKeys; k++) {
            long session = holders[k / perSession];
            long requestId = requestIds ? 1 + k % perSession : 0;
            acquires.add(new PoolAcquire(session, requestId, heldKey(k), 1, 10, 0, false));
        }
        applyAll(sm, acquires);
        return holders;
    }

    static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    static int lcm(int a, int b) {
        return Math.multiplyExact(a / gcd(a, b), b);
    }

    /** An output stream that only counts bytes (so saveSnapshot is measured without I/O). */
    static final class CountingOutputStream extends OutputStream {
        long count;

        @Override
        public void write(int b) {
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            count += len;
        }
    }

    /**
     * CPU time of the benchmark thread (and of the whole JVM) over one iteration. On a shared
     * machine the JMH score is wall-clock throughput, scaled by whatever CPU share the benchmark
     * thread got; operations per thread-CPU-second estimate what an unshared core would do (still
     * pessimistic: co-runners also evict caches). Iteration-level fixtures of a single-threaded
     * benchmark run on the benchmark thread, so getCurrentThreadCpuTime measures that thread.
     */
    static final class CpuClock {
        private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
        private static final com.sun.management.OperatingSystemMXBean OS =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        private long cpu0;
        private long proc0;
        private long wall0;
        private long ops0;

        void start(long ops) {
            ops0 = ops;
            wall0 = System.nanoTime();
            cpu0 = THREADS.getCurrentThreadCpuTime();
            proc0 = OS.getProcessCpuTime();
        }

        /** Prints one line: ops per thread-CPU-second and the CPU share the thread got. */
        void stopRate(long ops, String unit) {
            long cpu = THREADS.getCurrentThreadCpuTime() - cpu0;
            long wall = System.nanoTime() - wall0;
            long n = ops - ops0;
            System.out.printf("%n[cpu] %d %s in %.0f ms wall, %.0f ms thread CPU (%.0f%% share): %.4g %s per CPU-second%n",
                    n, unit, wall / 1e6, cpu / 1e6, 100.0 * cpu / wall, n / (cpu / 1e9), unit);
        }

        /** Prints one line: thread and process CPU time per operation. */
        void stopPerOp(long ops, String what) {
            long cpu = THREADS.getCurrentThreadCpuTime() - cpu0;
            long proc = OS.getProcessCpuTime() - proc0;
            long wall = System.nanoTime() - wall0;
            long n = Math.max(1, ops - ops0);
            System.out.printf("%n[cpu] %s: %d ops, per op %.1f ms wall, %.1f ms benchmark-thread CPU,"
                            + " %.1f ms JVM CPU (all threads, GC included); thread share %.0f%%%n",
                    what, ops - ops0, wall / 1e6 / n, cpu / 1e6 / n, proc / 1e6 / n, 100.0 * cpu / wall);
        }
    }
}
