package dev.baton.bench.cluster;

import com.sun.management.GarbageCollectionNotificationInfo;
import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.ConcurrentStateMachine;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.EffectListener;
import org.HdrHistogram.Histogram;

import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The apply pause of a snapshot at a large state, measured in-process (the pause on the apply thread
 * is only visible from inside the JVM): three {@link BatonNode}s in this JVM on loopback, durable
 * (fsync on), each hosting the core behind a thin timing wrapper ({@link TimedCore}) that records
 * every {@code update} call (start, duration) and {@code prepareSnapshot}/{@code saveSnapshot}.
 *
 * <ol>
 *   <li>Fill: {@code --sessions} sessions acquire {@code --locks} fenced locks in total (request id 0,
 *       entries of {@code --batch} commands), so every replica holds them all; wait until the
 *       followers have applied everything.</li>
 *   <li>Probe: {@code --probe-threads} threads, each with its own session and pool key, loop
 *       {@code submit(PoolAcquire)} + {@code submit(PoolRelease)} (zero hold, no contention) on the
 *       leader through its batcher; every acquire's latency is recorded with its completion time.</li>
 *   <li>After {@code --baseline} s, {@code snapshotNow()} on the leader; the probe goes on until
 *       {@code --after} s after the snapshot is on disk.</li>
 * </ol>
 * Reported for a baseline window (the {@code --baseline} s before the snapshot) and the snapshot
 * window (from {@code snapshotNow()} to 1 s after it completed): acquire latency, the longest
 * {@code update} call, the longest gap between two {@code update} calls of the leader's apply thread,
 * the time {@code prepareSnapshot} took on the apply thread, GC pauses (G1 notifications), and the
 * save's duration and size.
 */
public final class SnapshotPauseBench {
    private SnapshotPauseBench() {}

    /** The core with timing of every call made by the apply thread. */
    static final class TimedCore implements ConcurrentStateMachine {
        final CoordinationStateMachine core = new CoordinationStateMachine();
        volatile boolean recording;
        final long[] updStart = new long[1_000_000];
        final long[] updNanos = new long[1_000_000];
        volatile int updates;
        volatile long prepareAt;
        volatile long prepareNanos;
        volatile long saveStart;
        volatile long saveNanos;
        volatile long savedBytes;

        @Override
        public List<Applied> update(List<Entry> entries) {
            long t0 = System.nanoTime();
            List<Applied> out = core.update(entries);
            long t1 = System.nanoTime();
            int n = updates;
            if (recording && n < updStart.length) {
                updStart[n] = t0;
                updNanos[n] = t1 - t0;
                updates = n + 1;
            }
            return out;
        }

        @Override
        public <R> R lookup(Query<R> query) {
            return core.lookup(query);
        }

        @Override
        public long lastApplied() {
            return core.lastApplied();
        }

        @Override
        public SnapshotHandle prepareSnapshot() {
            long t0 = System.nanoTime();
            SnapshotHandle h = core.prepareSnapshot();
            prepareNanos = System.nanoTime() - t0;
            prepareAt = t0;
            return h;
        }

        @Override
        public void saveSnapshot(SnapshotHandle snapshot, OutputStream out) throws IOException {
            long t0 = System.nanoTime();
            saveStart = t0;
            long[] count = new long[1];
            core.saveSnapshot(snapshot, new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    count[0]++;
                    out.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    count[0] += len;
                    out.write(b, off, len);
                }

                @Override
                public void flush() throws IOException {
                    out.flush();
                }
            });
            saveNanos = System.nanoTime() - t0;
            savedBytes = count[0];
        }

        @Override
        public void recoverFromSnapshot(InputStream in) throws IOException {
            core.recoverFromSnapshot(in);
        }

        @Override
        public void close() {
            core.close();
        }
    }

    record Gc(long endNanos, long durationMs, String name, String action, String cause) {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        int locks = a.integer("locks", 1_000_000);
        int sessions = a.integer("sessions", 100);
        int batch = a.integer("batch", 4096);
        int probeThreads = a.integer("probe-threads", 4);
        int baselineS = a.integer("baseline", 15);
        int afterS = a.integer("after", 5);
        a.checkNoneUnknown();
        System.out.println(Machine.header());
        System.out.println("# SnapshotPauseBench locks=" + locks + " sessions=" + sessions + " batch=" + batch
                + " probe-threads=" + probeThreads + " baseline=" + baselineS + "s after=" + afterS + "s; JVM "
                + String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));

        List<Gc> gcs = new ArrayList<>();
        long jvmStartNanos = System.nanoTime() - ManagementFactory.getRuntimeMXBean().getUptime() * 1_000_000L;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc).addNotificationListener((n, hb) -> {
                if (n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                    GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from(
                            (CompositeData) n.getUserData());
                    long end = jvmStartNanos + info.getGcInfo().getEndTime() * 1_000_000L;
                    synchronized (gcs) {
                        gcs.add(new Gc(end, info.getGcInfo().getDuration(), info.getGcName(), info.getGcAction(),
                                info.getGcCause()));
                    }
                }
            }, null, null);
        }

        Path dir = Files.createTempDirectory("baton-snapshot-pause-");
        List<BatonNode> nodes = new ArrayList<>();
        List<TimedCore> cores = new ArrayList<>();
        try {
            List<String> peers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                peers.add("127.0.0.1:" + Machine.freePort());
            }
            for (int i = 0; i < 3; i++) {
                int port = Integer.parseInt(peers.get(i).substring(peers.get(i).lastIndexOf(':') + 1));
                BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", dir.resolve("n" + (i + 1)),
                        "127.0.0.1", port, peers, 1000, 0, true);
                TimedCore core = new TimedCore();
                cores.add(core);
                nodes.add(new BatonNode(o, core, EffectListener.NONE, System::currentTimeMillis).start());
            }
            BatonNode leader = leaderOf(nodes);
            TimedCore leaderCore = cores.get(nodes.indexOf(leader));
            System.out.println("# leader " + leader.options().nodeId() + ", data in " + dir);

            // ---- fill ----
            long t0 = System.nanoTime();
            long[] sess = new long[sessions];
            for (int i = 0; i < sessions; i++) {
                Result r = leader.propose(new Command.OpenSession("holder-" + i, 3_600_000)).get(30, TimeUnit.SECONDS)
                        .results().get(0);
                sess[i] = ((Result.SessionOpened) r).session();
            }
            Semaphore inflight = new Semaphore(4);
            List<CompletableFuture<Applied>> pending = new ArrayList<>();
            long granted = 0;
            for (int from = 0; from < locks; from += batch) {
                List<Command> cmds = new ArrayList<>(batch);
                for (int i = from; i < Math.min(locks, from + batch); i++) {
                    cmds.add(new Command.LockAcquire(sess[i % sessions], 0, String.format("lock-%07d", i), 0));
                }
                inflight.acquire();
                CompletableFuture<Applied> f = leader.propose(cmds);
                f.whenComplete((r, t) -> inflight.release());
                pending.add(f);
            }
            for (CompletableFuture<Applied> f : pending) {
                for (Result r : f.get(120, TimeUnit.SECONDS).results()) {
                    if (r instanceof Result.LockReply lr && lr.status() == Result.LockStatus.LOCKED) {
                        granted++;
                    }
                }
            }
            long target = leader.lastAppliedIndex();
            for (BatonNode n : nodes) {
                while (n.lastAppliedIndex() < target) {
                    Thread.sleep(50);
                }
            }
            System.out.printf("# filled %,d locks granted (of %,d) held by %d sessions in %.1f s; all replicas at index %d%n",
                    granted, locks, sessions, (System.nanoTime() - t0) / 1e9, target);
            // No System.gc() here: a full collection of this heap stops all three nodes for longer than
            // the election timeout, and the cluster elects a new leader.
            Thread.sleep(3000);
            leader = leaderOf(nodes);
            leaderCore = cores.get(nodes.indexOf(leader));
            System.out.println("# leader for the probe: " + leader.options().nodeId());

            // ---- probe ----
            long[] probeSession = new long[probeThreads];
            for (int i = 0; i < probeThreads; i++) {
                probeSession[i] = ((Result.SessionOpened) leader.propose(new Command.OpenSession("probe-" + i, 3_600_000))
                        .get(30, TimeUnit.SECONDS).results().get(0)).session();
            }
            int cap = 500_000;
            long[][] doneAt = new long[probeThreads][cap];
            long[][] latUs = new long[probeThreads][cap];
            int[] count = new int[probeThreads];
            long[] failures = new long[probeThreads];
            volatileStop = false;
            List<Thread> probes = new ArrayList<>();
            final BatonNode l = leader;
            for (int i = 0; i < probeThreads; i++) {
                final int me = i;
                Thread t = new Thread(() -> {
                    String key = "probe-key-" + me;
                    while (!volatileStop) {
                        long s0 = System.nanoTime();
                        try {
                            Result r = l.submit(new Command.PoolAcquire(probeSession[me], 0, key, 1, 100, 0, false))
                                    .get(60, TimeUnit.SECONDS);
                            long s1 = System.nanoTime();
                            if (!(r instanceof Result.PoolReply pr) || pr.status() != Result.PoolStatus.LOCKED) {
                                failures[me]++;
                                continue;
                            }
                            if (count[me] < cap) {
                                doneAt[me][count[me]] = s1;
                                latUs[me][count[me]] = (s1 - s0) / 1000;
                                count[me]++;
                            }
                            l.submit(new Command.PoolRelease(probeSession[me], 0, key, pr.fence())).get(60, TimeUnit.SECONDS);
                        } catch (Exception e) {
                            failures[me]++;
                        }
                    }
                }, "probe-" + i);
                t.setDaemon(true);
                probes.add(t);
            }
            leaderCore.recording = true;
            probes.forEach(Thread::start);
            Thread.sleep(TimeUnit.SECONDS.toMillis(baselineS) + 2000); // 2 s of probe warm-up, then the baseline
            double load0 = Machine.load1();
            long snapStart = System.nanoTime();
            leader.snapshotNow().get(120, TimeUnit.SECONDS);
            long snapEnd = System.nanoTime();
            Thread.sleep(TimeUnit.SECONDS.toMillis(afterS));
            volatileStop = true;
            for (Thread t : probes) {
                t.join(60_000);
            }
            leaderCore.recording = false;
            double load1 = Machine.load1();

            // ---- report ----
            long baseFrom = snapStart - TimeUnit.SECONDS.toNanos(baselineS);
            long winTo = snapEnd + TimeUnit.SECONDS.toNanos(1);
            Histogram base = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
            Histogram win = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
            for (int i = 0; i < probeThreads; i++) {
                for (int k = 0; k < count[i]; k++) {
                    long at = doneAt[i][k];
                    if (at - baseFrom >= 0 && at - snapStart < 0) {
                        base.recordValue(latUs[i][k]);
                    } else if (at - snapStart >= 0 && at - winTo < 0) {
                        win.recordValue(latUs[i][k]);
                    }
                }
            }
            long[] baseUpd = updateStats(leaderCore, baseFrom, snapStart);
            long[] winUpd = updateStats(leaderCore, snapStart, winTo);
            long[] baseGc = gcStats(gcs, baseFrom, snapStart);
            long[] winGc = gcStats(gcs, snapStart, winTo);
            long snapFiles = snapshotBytes(dir.resolve(leader.options().nodeId()).resolve("snapshot"));
            long failed = 0;
            for (long f : failures) {
                failed += f;
            }

            System.out.printf("# snapshotNow() took %.0f ms; saveSnapshot %.0f ms (%,d bytes written by the core; "
                            + "%,d bytes in the leader's snapshot dir); prepareSnapshot on the apply thread: %.3f ms%n",
                    (snapEnd - snapStart) / 1e6, leaderCore.saveNanos / 1e6, leaderCore.savedBytes, snapFiles,
                    leaderCore.prepareNanos / 1e6);
            System.out.printf("# timeline from snapshotNow(): prepareSnapshot at %+.1f ms; save %+.1f .. %+.1f ms; "
                            + "snapshotNow() done %+.1f ms; longest apply gap in the window %.1f ms from %+.1f ms%n",
                    (leaderCore.prepareAt - snapStart) / 1e6, (leaderCore.saveStart - snapStart) / 1e6,
                    (leaderCore.saveStart + leaderCore.saveNanos - snapStart) / 1e6, (snapEnd - snapStart) / 1e6,
                    winUpd[1] / 1e6, (winUpd[2] - snapStart) / 1e6);
            System.out.printf("# apply-thread gap around prepareSnapshot (end of the update before it -> start of the "
                    + "update after it): %.2f ms%n", prepareGap(leaderCore) / 1e6);
            System.out.println("| window | acquires | acquire p50 ms | p99 ms | p99.9 ms | max ms | longest update() ms "
                    + "| longest gap between updates ms | GC pauses (count, total ms, max ms) | load (1 min) |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
            System.out.println(row("baseline (" + baselineS + " s before)", base, baseUpd, baseGc, load0));
            System.out.println(row(String.format("snapshot (%.1f s: start .. done + 1 s)", (winTo - snapStart) / 1e9), win,
                    winUpd, winGc, load1));
            System.out.println("# probe failures (non-LOCKED or exceptions): " + failed);
            synchronized (gcs) {
                for (Gc g : gcs) {
                    if (g.endNanos() - baseFrom >= 0 && g.endNanos() - winTo < 0) {
                        System.out.printf("# gc %s %s (%s) %d ms, ended %+.0f ms from snapshot start%n", g.name(),
                                g.action(), g.cause(), g.durationMs(), (g.endNanos() - snapStart) / 1e6);
                    }
                }
            }
        } finally {
            nodes.forEach(BatonNode::close);
            Machine.deleteTree(dir);
        }
        System.exit(0);
    }

    private static volatile boolean volatileStop;

    private static BatonNode leaderOf(List<BatonNode> nodes) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (BatonNode n : nodes) {
                if (n.isLeader()) {
                    return n;
                }
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("no leader within 60 s");
    }

    private static String row(String what, Histogram h, long[] upd, long[] gc, double load) {
        return String.format("| %s | %,d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d, %d, %d | %.1f |", what,
                h.getTotalCount(), h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
                h.getValueAtPercentile(99.9) / 1000.0, h.getMaxValue() / 1000.0, upd[0] / 1e6, upd[1] / 1e6,
                gc[0], gc[1], gc[2], load);
    }

    /**
     * {longest update, longest gap between the end of one update and the start of the next, start of
     * that gap} for updates starting in [from, to).
     */
    private static long[] updateStats(TimedCore c, long from, long to) {
        long maxUpd = 0;
        long maxGap = 0;
        long gapFrom = 0;
        int n = c.updates;
        for (int i = 0; i < n; i++) {
            long s = c.updStart[i];
            if (s - from < 0 || s - to >= 0) {
                continue;
            }
            maxUpd = Math.max(maxUpd, c.updNanos[i]);
            if (i > 0) {
                long prevEnd = c.updStart[i - 1] + c.updNanos[i - 1];
                if (s - prevEnd > maxGap) {
                    maxGap = s - prevEnd;
                    gapFrom = prevEnd;
                }
            }
        }
        return new long[] {maxUpd, maxGap, gapFrom};
    }

    private static long prepareGap(TimedCore c) {
        int n = c.updates;
        long at = c.prepareAt;
        for (int i = 1; i < n; i++) {
            if (c.updStart[i] - at > 0) {
                return c.updStart[i] - (c.updStart[i - 1] + c.updNanos[i - 1]);
            }
        }
        return -1;
    }

    /** {count, total ms, max ms} of stop-the-world collections ending in [from, to). */
    private static long[] gcStats(List<Gc> gcs, long from, long to) {
        long count = 0;
        long total = 0;
        long max = 0;
        synchronized (gcs) {
            for (Gc g : gcs) {
                if (g.name().contains("Concurrent")) {
                    continue; // concurrent cycles do not stop the application
                }
                if (g.endNanos() - from >= 0 && g.endNanos() - to < 0) {
                    count++;
                    total += g.durationMs();
                    max = Math.max(max, g.durationMs());
                }
            }
        }
        return new long[] {count, total, max};
    }

    private static long snapshotBytes(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException e) {
            return -1;
        }
    }
}
