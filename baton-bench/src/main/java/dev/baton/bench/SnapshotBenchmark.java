package dev.baton.bench;

import dev.baton.core.command.Limits;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.SnapshotHandle;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * Snapshot costs of the core state machine with {@link #heldKeys} pool keys held, 4 per session
 * (so 1 000 000 keys = 250 000 sessions), no waiters.
 * <ul>
 *   <li>{@code prepare}: {@link CoordinationStateMachine#prepareSnapshot()} (captures the state root);</li>
 *   <li>{@code save}: {@link CoordinationStateMachine#saveSnapshot} of a prepared handle into a stream
 *       that only counts bytes (serialisation + CRC, no I/O);</li>
 *   <li>{@code recover}: {@link CoordinationStateMachine#recoverFromSnapshot} of the saved bytes into a
 *       fresh machine (checksum, decoding, rebuilding maps and derived indexes).</li>
 * </ul>
 * The snapshot size is printed in set-up ({@code [setup] ... snapshot bytes=...}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@Fork(value = 1, jvmArgsAppend = {"-Xms6g", "-Xmx6g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class SnapshotBenchmark {

    @Param({"10000", "1000000"})
    public int heldKeys;

    /** Non-zero request ids on the set-up acquires (so each session remembers 4 results). */
    @Param({"false"})
    public boolean requestIds;

    private Limits limits;
    private CoordinationStateMachine sm;
    private SnapshotHandle handle;
    private byte[] snapshot;
    private long ops;
    private final BenchSupport.CpuClock cpuClock = new BenchSupport.CpuClock();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        int sessions = (heldKeys + 3) / 4;
        limits = BenchSupport.limitsFor(sessions, heldKeys);
        sm = new CoordinationStateMachine(limits);
        long t0 = System.nanoTime();
        BenchSupport.holdKeys(sm, heldKeys, requestIds);
        long t1 = System.nanoTime();
        handle = sm.prepareSnapshot();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        sm.saveSnapshot(handle, out);
        snapshot = out.toByteArray();
        long t2 = System.nanoTime();

        // round trip check: the recovered state must write the same bytes
        CoordinationStateMachine copy = new CoordinationStateMachine(limits);
        copy.recoverFromSnapshot(new ByteArrayInputStream(snapshot));
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        copy.saveSnapshot(copy.prepareSnapshot(), again);
        if (!java.util.Arrays.equals(snapshot, again.toByteArray()) || copy.state().pools().size() != heldKeys) {
            throw new IllegalStateException("snapshot round trip differs");
        }
        dev.baton.core.machine.State s = sm.state();
        System.out.printf("%n[setup] heldKeys=%d requestIds=%s: sessions=%d pools=%d; snapshot bytes=%d"
                        + " (%.1f bytes/key); populating took %.1f s, first save %.2f s%n",
                heldKeys, requestIds, s.sessions().size(), s.pools().size(), snapshot.length,
                (double) snapshot.length / heldKeys, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    @Setup(Level.Iteration)
    public void beforeIteration() {
        cpuClock.start(ops);
    }

    @TearDown(Level.Iteration)
    public void afterIteration() {
        if (ops > 0) { // save and recover count their operations; prepare is too short to
            cpuClock.stopPerOp(ops, "heldKeys=" + heldKeys);
        }
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public SnapshotHandle prepare() {
        return sm.prepareSnapshot();
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long save() throws IOException {
        BenchSupport.CountingOutputStream out = new BenchSupport.CountingOutputStream();
        sm.saveSnapshot(handle, out);
        ops++;
        return out.count;
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public dev.baton.core.machine.State recover() throws IOException {
        CoordinationStateMachine fresh = new CoordinationStateMachine(limits);
        fresh.recoverFromSnapshot(new ByteArrayInputStream(snapshot));
        ops++;
        return fresh.state();
    }
}
