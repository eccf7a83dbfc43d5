package dev.baton.bench;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.machine.PoolCounters;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.infra.Blackhole;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Apply throughput of the core state machine on one thread: pool acquire + release pairs, each pair
 * by one session on one key (ACQ4ME, workers 1, no wait), keys cycling over {@link #keys} distinct
 * names and pairs cycling over {@value #WORK_SESSIONS} sessions.
 *
 * <p>The entry payloads are encoded in set-up; one benchmark invocation is one
 * {@link CoordinationStateMachine#update} call, so the measured time includes decoding the batch,
 * the transient working copy of the state and its commit, and building the results. Each invocation
 * makes fresh {@link Entry} records (index and timestamp always increasing) around pre-encoded
 * payload arrays, as a Raft host would hand over committed entries.
 *
 * <p>The primary score is update() calls per second; the auxiliary counters {@code commands} and
 * {@code pairs} are applied commands per second and acquire+release pairs per second.
 *
 * <p>{@link #layout} is {@code <commands per entry>x<entries per update call>}:
 * <ul>
 *   <li>{@code 64x1}: one entry of 64 commands per update (what the leader-side batcher produces);</li>
 *   <li>{@code 1x64}: 64 entries of one command per update (no batching, but a Raft host that hands
 *       over several committed entries at once);</li>
 *   <li>{@code 1x1}: one entry of one command per update (an idle cluster; the per-update fixed cost).</li>
 * </ul>
 * {@link #heldKeys} keys are kept held by other sessions for the whole run (4 per session), so that
 * the pool and session maps are large while the working keys are acquired and released.
 * {@link #requestIds} gives every command a non-zero, increasing request id (idempotent requests:
 * each result is remembered in the session's window).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ApplyBenchmark {

    /** Sessions that take turns making the measured acquire+release pairs. */
    static final int WORK_SESSIONS = 10_000;
    /**
     * With request ids the stream cannot be replayed (a replayed id is answered from the window), so
     * it must outlast the whole run: run these with short iterations (e.g. -w 1s -r 1s).
     */
    static final int REQUEST_ID_STREAM_PAIRS = 6_000_000;

    /** Distinct working keys. */
    @Param({"1", "1000", "1000000"})
    public int keys;

    /** commands per entry x entries per update() call. */
    @Param({"64x1", "1x64", "1x1"})
    public String layout;

    /** Keys held by other sessions for the whole run (makes the maps large). */
    @Param({"0"})
    public int heldKeys;

    /** Non-zero request ids (idempotency window in use) or all zero. */
    @Param({"false"})
    public boolean requestIds;

    /**
     * KiB of other memory written before each update() call (0: none), so that the update starts
     * with the caches full of something else, as the apply thread of a server does after each wake-up
     * on a machine busy with other threads. Compare with {@link #thrashOnly} of the same size.
     */
    @Param({"0"})
    public int thrashKiB;

    private long[] thrash;

    private CoordinationStateMachine sm;
    private long[] sessions;
    private long[] nextRequestId;
    private int commandsPerEntry;
    private int entriesPerUpdate;
    private int commandsPerUpdate;
    /** Pairs in one pass of the payload stream. */
    private int streamPairs;
    private byte[][] payloads;
    private int pos;
    private long index;
    private long appliedCommands;
    private long decodedCommands;
    private final BenchSupport.CpuClock cpuClock = new BenchSupport.CpuClock();
    /** Times the payload stream was replayed from its start. */
    private int wraps;

    /** Per-second rates reported next to the primary score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        /** Applied commands. */
        public long commands;
        /** Acquire + release pairs. */
        public long pairs;

        @Setup(Level.Iteration)
        public void reset() {
            commands = 0;
            pairs = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = layout.split("x");
        commandsPerEntry = Integer.parseInt(parts[0]);
        entriesPerUpdate = Integer.parseInt(parts[1]);
        commandsPerUpdate = commandsPerEntry * entriesPerUpdate;
        if (commandsPerEntry != 1 && commandsPerEntry % 2 != 0) {
            throw new IllegalArgumentException("commands per entry must be 1 or even: " + layout);
        }
        thrash = new long[Math.max(1, thrashKiB * 128)];
        int heldSessions = (heldKeys + 3) / 4;
        sm = new CoordinationStateMachine(BenchSupport.limitsFor(WORK_SESSIONS + heldSessions, keys + heldKeys));
        if (heldKeys > 0) {
            BenchSupport.holdKeys(sm, heldKeys, requestIds);
        }
        sessions = BenchSupport.openSessions(sm, WORK_SESSIONS);
        nextRequestId = new long[WORK_SESSIONS];
        Arrays.fill(nextRequestId, 1);
        index = sm.lastApplied();

        // One pass must use every key and fill whole update() calls: a multiple of keys and of the
        // pairs per update call.
        int pairsPerUpdate = Math.max(1, commandsPerUpdate / 2);
        streamPairs = BenchSupport.lcm(keys, BenchSupport.lcm(pairsPerUpdate, 32));
        if (requestIds) {
            streamPairs = Math.max(streamPairs,
                    (REQUEST_ID_STREAM_PAIRS / streamPairs) * streamPairs);
        }
        encodeStream();
        System.out.printf("%n[setup] keys=%d layout=%s heldKeys=%d requestIds=%s: stream of %d pairs in %d payloads"
                        + " (%.1f MB), pools in state=%d, sessions in state=%d%n",
                keys, layout, heldKeys, requestIds, streamPairs, payloads.length, payloadBytes() / 1e6,
                sm.state().pools().size(), sm.state().sessions().size());
    }

    /** Encodes one pass of the stream: pair p = session p % WORK_SESSIONS on key p % keys. */
    private void encodeStream() {
        payloads = new byte[2 * streamPairs / commandsPerEntry][];
        List<Command> entry = new ArrayList<>(commandsPerEntry);
        int next = 0;
        for (int p = 0; p < streamPairs; p++) {
            int s = p % WORK_SESSIONS;
            long session = sessions[s];
            String key = BenchSupport.workKey(p % keys);
            long acquireId = 0;
            long releaseId = 0;
            if (requestIds) {
                acquireId = nextRequestId[s]++;
                releaseId = nextRequestId[s]++;
            }
            entry.add(new PoolAcquire(session, acquireId, key, 1, 10, 0, false));
            if (entry.size() == commandsPerEntry) {
                payloads[next++] = CommandCodec.encodeBatch(entry);
                entry.clear();
            }
            entry.add(new PoolRelease(session, releaseId, key, 0));
            if (entry.size() == commandsPerEntry) {
                payloads[next++] = CommandCodec.encodeBatch(entry);
                entry.clear();
            }
        }
        if (next != payloads.length || !entry.isEmpty()) {
            throw new IllegalStateException("stream does not fill whole entries");
        }
        pos = 0;
    }

    private long payloadBytes() {
        long n = 0;
        for (byte[] p : payloads) {
            n += p.length;
        }
        return n;
    }

    @Setup(Level.Iteration)
    public void beforeIteration() {
        cpuClock.start(appliedCommands + decodedCommands);
    }

    @TearDown(Level.Iteration)
    public void afterIteration() {
        cpuClock.stopRate(appliedCommands + decodedCommands, "commands");
        if (requestIds && wraps > 0) {
            // a replayed request id would be answered from the session's window, not executed
            throw new IllegalStateException("request-id stream replayed; make REQUEST_ID_STREAM_PAIRS longer");
        }
    }

    private Entry nextEntry() {
        byte[] payload = payloads[pos];
        if (++pos == payloads.length) {
            pos = 0;
            wraps++;
        }
        long i = ++index;
        return new Entry(i, BenchSupport.BASE_TIME + (i >> 10), payload);
    }

    /** Writes one long in every 64-byte line of {@link #thrash} ({@code thrashKiB} > 0 only). */
    private long thrashCaches() {
        long[] t = thrash;
        long x = index;
        for (int i = 0; i < t.length; i += 8) {
            t[i] = x++;
        }
        return x;
    }

    /** The cache thrashing of {@link #update} alone, to subtract from it. */
    @Benchmark
    public long thrashOnly() {
        return thrashCaches();
    }

    @Benchmark
    public List<Applied> update(Rates rates) {
        if (thrashKiB > 0) {
            thrashCaches();
        }
        List<Entry> batch;
        if (entriesPerUpdate == 1) {
            batch = List.of(nextEntry());
        } else {
            Entry[] es = new Entry[entriesPerUpdate];
            for (int i = 0; i < es.length; i++) {
                es[i] = nextEntry();
            }
            batch = Arrays.asList(es);
        }
        List<Applied> out = sm.update(batch);
        long before = appliedCommands;
        appliedCommands += commandsPerUpdate;
        rates.commands += commandsPerUpdate;
        rates.pairs += appliedCommands / 2 - before / 2; // pairs completed (a 1x1 update completes every other one)
        return out;
    }

    /** Only decodes the same payloads (what share of update() decoding is). No state change. */
    @Benchmark
    public void decodeOnly(Rates rates, Blackhole bh) {
        for (int i = 0; i < entriesPerUpdate; i++) {
            bh.consume(CommandCodec.decodeBatch(nextEntry().payload()));
        }
        long before = decodedCommands;
        decodedCommands += commandsPerUpdate;
        rates.commands += commandsPerUpdate;
        rates.pairs += decodedCommands / 2 - before / 2;
    }

    /** Checks that every measured command did what it should (no rejection, no wait, no mismatch). */
    @TearDown(Level.Trial)
    public void check() {
        dev.baton.core.machine.State s = sm.state();
        PoolCounters c = s.poolCounters();
        long pairs = appliedCommands / 2;
        // with one command per update the run may stop between an acquire and its release
        long open = appliedCommands % 2;
        if (c.acquired() != heldKeys + pairs + open || c.released() != pairs || c.timeouts() != 0
                || c.queueFull() != 0 || c.lockHeld() != 0 || c.waitForResponse() != 0 || c.releaseMismatch() != 0
                || s.pools().size() != heldKeys + open) {
            throw new IllegalStateException("unexpected outcome: " + c + ", pools " + s.pools().size()
                    + ", expected pairs " + pairs);
        }
        if (appliedCommands > 0) {
            System.out.printf("%n[check] %d pairs applied = %.2f passes over the %d-pair stream (%d distinct keys);"
                            + " all acquired and released (%d left open), %d pool keys in state%n",
                    pairs, (double) pairs / streamPairs, streamPairs, keys, open, s.pools().size());
        }
    }
}
