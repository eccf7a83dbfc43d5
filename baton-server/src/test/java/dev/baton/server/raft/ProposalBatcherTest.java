package dev.baton.server.raft;

import static dev.baton.server.TestWaits.await;
import static dev.baton.server.TestWaits.get;

import com.alipay.sofa.jraft.entity.UserLog;
import dev.baton.core.command.Command;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.SessionOpened;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.ConcurrentStateMachine;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link BatonNode#submit} and its {@link ProposalBatcher} on real SOFAJRaft nodes. Whether commands
 * share an entry is made deterministic by holding the apply thread (a {@link GatedCore}): with one
 * entry in flight and that entry held in {@code update}, everything submitted meanwhile is queued,
 * and the entries sealed afterwards are fully determined by the queue and the bounds. Waits are
 * bounded polls; no outcome depends on timing.
 */
class ProposalBatcherTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<BatonNode> started = new ArrayList<>();
    private final List<GatedCore> gates = new ArrayList<>();

    @AfterEach
    void closeAll() {
        for (GatedCore g : gates) {
            g.release(); // never leave an apply thread parked: close() waits for it
        }
        for (BatonNode n : started) {
            n.close();
        }
    }

    /** The coordination core, with a gate that can park the apply thread in the next update. */
    static final class GatedCore implements ConcurrentStateMachine {
        final CoordinationStateMachine inner = new CoordinationStateMachine();
        private volatile CountDownLatch gate;
        private volatile CountDownLatch entered;

        /** The next update call parks until {@link #release()}; returns the latch it counts down on entry. */
        CountDownLatch arm() {
            entered = new CountDownLatch(1);
            gate = new CountDownLatch(1);
            return entered;
        }

        void release() {
            CountDownLatch g = gate;
            if (g != null) {
                g.countDown();
            }
        }

        @Override
        public List<Applied> update(List<Entry> entries) {
            CountDownLatch g = gate;
            if (g != null && g.getCount() > 0) {
                entered.countDown();
                try {
                    if (!g.await(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("gate never released");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return inner.update(entries);
        }

        @Override
        public <R> R lookup(Query<R> query) {
            return inner.lookup(query);
        }

        @Override
        public long lastApplied() {
            return inner.lastApplied();
        }

        @Override
        public SnapshotHandle prepareSnapshot() {
            return inner.prepareSnapshot();
        }

        @Override
        public void saveSnapshot(SnapshotHandle snapshot, OutputStream out) throws IOException {
            inner.saveSnapshot(snapshot, out);
        }

        @Override
        public void recoverFromSnapshot(InputStream in) throws IOException {
            inner.recoverFromSnapshot(in);
        }

        @Override
        public void close() {
            inner.close();
        }
    }



    private static void awaitLatch(CountDownLatch latch, String what) throws InterruptedException {
        assertThat(latch.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as(what).isTrue();
    }

    private BatonNode leader(GatedCore core, ProposalBatcher.Config config) throws Exception {
        GatedCore c = core != null ? core : new GatedCore();
        gates.add(c);
        BatonNode.Options o = SingleNodeTest.options(dir.resolve("n" + started.size()), SingleNodeTest.freePort());
        BatonNode n = new BatonNode(o, c, EffectListener.NONE, System::currentTimeMillis, config);
        started.add(n);
        n.start();
        assertThat(n.waitForLeader(WAIT)).contains(o.endpoint());
        return n;
    }

    /** Parks n's apply thread inside the update of a first command; returns that command's future. */
    private static CompletableFuture<Result> parkApply(BatonNode n, GatedCore core, String token) throws Exception {
        CountDownLatch entered = core.arm();
        CompletableFuture<Result> first = n.submit(new OpenSession(token, 60_000));
        awaitLatch(entered, "the apply thread to reach the gate");
        return first;
    }

    /** Commands per data entry in n's log, in log order, from entry {@code fromIndex} on. */
    private static List<Integer> commandsPerEntry(BatonNode n, long fromIndex) throws InterruptedException {
        await("SOFAJRaft's applied index to reach the commit index",
                () -> n.lastAppliedIndex() >= n.commitIndex());
        List<Integer> counts = new ArrayList<>();
        long last = n.lastAppliedIndex();
        for (long i = fromIndex; i <= last; i++) {
            UserLog log = n.raftNode().readCommittedUserLog(i);
            if (log.getIndex() != i) {
                continue; // a configuration entry: readCommittedUserLog skips to the next data entry
            }
            counts.add(CommandCodec.decodeBatch(RaftEntryCodec.decode(i, log.getData()).payload()).size());
        }
        return counts;
    }

    @Test
    void concurrentSubmittersEachGetTheirOwnResults() throws Exception {
        BatonNode n = leader(null, ProposalBatcher.Config.defaults());
        int threads = 32;
        int rounds = 5;
        int keys = 4; // a session holds at most 4 pool slots (poolcounterd's limit)
        CyclicBarrier go = new CyclicBarrier(threads);
        List<CompletableFuture<List<long[]>>> done = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            CompletableFuture<List<long[]>> out = new CompletableFuture<>();
            done.add(out);
            Thread w = new Thread(() -> {
                try {
                    go.await();
                    List<long[]> mine = new ArrayList<>();
                    for (int round = 0; round < rounds; round++) {
                        // Each round: its own session (distinct client token), then pipelined acquires,
                        // all submitted before any completes.
                        Result opened = get(n.submit(new OpenSession("client-" + id + "-" + round, 60_000)));
                        assertThat(((SessionOpened) opened).existing()).isFalse();
                        long session = ((SessionOpened) opened).session();
                        List<CompletableFuture<Result>> fs = new ArrayList<>();
                        for (int k = 0; k < keys; k++) {
                            fs.add(n.submit(new PoolAcquire(session, k + 1, key(id, round, k), 1, 5, 0, false)));
                        }
                        long[] row = new long[keys + 1];
                        row[0] = session;
                        for (int k = 0; k < keys; k++) {
                            PoolReply r = (PoolReply) get(fs.get(k));
                            assertThat(r.status()).isEqualTo(PoolStatus.LOCKED);
                            assertThat(r.key()).as("each future gets its own command's result")
                                    .isEqualTo(key(id, round, k));
                            row[k + 1] = r.fence();
                        }
                        mine.add(row);
                    }
                    out.complete(mine);
                } catch (Throwable e) {
                    out.completeExceptionally(e);
                }
            }, "submitter-" + id);
            workers.add(w);
            w.start();
        }
        List<Long> sessions = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            List<long[]> rows = get(done.get(t));
            for (int round = 0; round < rounds; round++) {
                long session = rows.get(round)[0];
                sessions.add(session);
                for (int k = 0; k < keys; k++) {
                    View.Pool pool = get(n.read(new Query.GetPool(key(t, round, k))));
                    long fence = rows.get(round)[k + 1];
                    assertThat(pool.holders()).singleElement().satisfies(h -> {
                        assertThat(h.session()).isEqualTo(session);
                        assertThat(h.fence()).isEqualTo(fence);
                    });
                }
            }
        }
        for (Thread w : workers) {
            w.join(WAIT.toMillis());
        }
        assertThat(sessions).doesNotHaveDuplicates();

        ProposalBatcher.Stats stats = n.batcherStats();
        long total = (long) threads * rounds * (1 + keys);
        assertThat(stats.commandsProposed()).isEqualTo(total);
        assertThat(stats.entriesProposed()).isPositive().isLessThanOrEqualTo(total);
        assertThat(stats.queued()).isZero();
        assertThat(stats.inFlight()).isZero();
        System.out.printf("ProposalBatcherTest: %d commands from %d threads in %d entries (%.2f per entry)%n",
                stats.commandsProposed(), threads, stats.entriesProposed(), stats.commandsPerEntry());
    }

    private static String key(int thread, int round, int k) {
        return "key-" + thread + "-" + round + "-" + k;
    }

    @Test
    void commandsQueuedWhileTheLogIsBusyLeaveTogetherInOrder() throws Exception {
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxInFlight(1).withMaxCommands(100));
        long firstIndex = n.lastAppliedIndex() + 1;
        CompletableFuture<Result> first = parkApply(n, core, "first");

        int threads = 10;
        int perThread = 25;
        List<List<CompletableFuture<Result>>> byThread = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        CyclicBarrier go = new CyclicBarrier(threads);
        for (int t = 0; t < threads; t++) {
            int id = t;
            List<CompletableFuture<Result>> mine = new ArrayList<>();
            byThread.add(mine);
            Thread w = new Thread(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                for (int i = 0; i < perThread; i++) {
                    mine.add(n.submit(new OpenSession("c-" + id + "-" + i, 60_000)));
                }
            });
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            w.join(WAIT.toMillis());
        }
        ProposalBatcher.Stats held = n.batcherStats();
        assertThat(held.inFlight()).isEqualTo(1);
        assertThat(held.queued()).as("the one slot is held: everything waits").isEqualTo(threads * perThread);
        assertThat(held.entriesProposed()).isEqualTo(1);

        core.release();
        assertThat(get(first)).isInstanceOf(SessionOpened.class);
        for (List<CompletableFuture<Result>> mine : byThread) {
            long previous = 0;
            for (CompletableFuture<Result> f : mine) {
                SessionOpened s = (SessionOpened) get(f);
                assertThat(s.existing()).isFalse();
                assertThat(s.session()).as("a submitter's commands apply in its order").isGreaterThan(previous);
                previous = s.session();
            }
        }
        ProposalBatcher.Stats stats = n.batcherStats();
        assertThat(stats.commandsProposed()).isEqualTo(1 + threads * perThread);
        assertThat(stats.entriesProposed()).as("1 + 250 commands in entries of at most 100").isEqualTo(1 + 3);
        assertThat(commandsPerEntry(n, firstIndex)).containsExactly(1, 100, 100, 50);
        assertThat(get(n.read(new Query.GetSummary())).sessions()).isEqualTo(1 + threads * perThread);
    }

    @Test
    void entriesStayWithinMaxBytesAndABiggerCommandGoesAlone() throws Exception {
        GatedCore core = new GatedCore();
        int maxBytes = 2_000;
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxInFlight(1).withMaxBytes(maxBytes));
        long firstIndex = n.lastAppliedIndex() + 1;
        CompletableFuture<Result> first = parkApply(n, core, "first");

        List<CompletableFuture<Result>> small = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            small.add(n.submit(new OpenSession(String.format("%03d", i) + "t".repeat(297), 60_000))); // 300-byte token
        }
        // Encodable (under the codec's 4096-byte name ceiling) but bigger than an entry may be: alone.
        CompletableFuture<Result> big = n.submit(new OpenSession("b".repeat(3_000), 60_000));
        List<CompletableFuture<Result>> after = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            after.add(n.submit(new OpenSession("after-" + i, 60_000)));
        }
        core.release();

        get(first);
        for (CompletableFuture<Result> f : small) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
        // The core's own name limit (512 bytes) rejects it: a result, for that command only.
        assertThat(get(big)).isInstanceOf(Result.Rejected.class);
        for (CompletableFuture<Result> f : after) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }

        List<Integer> counts = commandsPerEntry(n, firstIndex);
        assertThat(counts.stream().mapToInt(Integer::intValue).sum()).isEqualTo(1 + 20 + 1 + 3);
        assertThat(counts.get(0)).isEqualTo(1);
        // 20 small ones in full entries, the big one alone, then the last 3 together.
        List<Integer> expected = new ArrayList<>(List.of(1));
        int left = 20;
        int fitting = countFitting(maxBytes);
        while (left > 0) {
            expected.add(Math.min(fitting, left));
            left -= fitting;
        }
        expected.add(1);
        expected.add(3);
        assertThat(counts).containsExactlyElementsOf(expected);
        assertThat(fitting).as("several per entry, not all 20").isBetween(2, 19);
        long last = n.lastAppliedIndex();
        for (long i = firstIndex; i <= last; i++) {
            UserLog log = n.raftNode().readCommittedUserLog(i);
            if (log.getIndex() == i) {
                List<Command> cs = CommandCodec.decodeBatch(RaftEntryCodec.decode(i, log.getData()).payload());
                if (cs.size() > 1) {
                    assertThat(log.getData().remaining()).as("entry %d", i).isLessThanOrEqualTo(maxBytes);
                }
            }
        }
    }

    /** How many 300-byte-token OpenSession commands fit in one entry of maxBytes (as the batcher counts). */
    private static int countFitting(int maxBytes) {
        int one = CommandCodec.encodeChecked(new OpenSession("0".repeat(300), 60_000)).length;
        return (maxBytes - ProposalBatcher.ENTRY_OVERHEAD) / one;
    }

    @Test
    void anUnencodableCommandFailsAloneWhileItsBatchMatesSucceed() throws Exception {
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxInFlight(1));
        CompletableFuture<Result> first = parkApply(n, core, "first");
        long s = 0;
        List<CompletableFuture<Result>> mates = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            mates.add(n.submit(new OpenSession("before-" + i, 60_000)));
        }
        CompletableFuture<Result> bad = n.submit(new PoolAcquire(s, 1, "x".repeat(5_000), 1, 1, 0, false));
        for (int i = 0; i < 5; i++) {
            mates.add(n.submit(new OpenSession("after-" + i, 60_000)));
        }
        assertThat(bad).isCompletedExceptionally();
        assertThatThrownBy(() -> get(bad)).cause().isInstanceOf(IllegalArgumentException.class);
        assertThat(n.batcherStats().queued()).isEqualTo(10);

        core.release();
        get(first);
        for (CompletableFuture<Result> f : mates) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
        assertThat(n.batcherStats().entriesProposed()).as("the ten mates shared one entry").isEqualTo(2);
        assertThat(n.batcherStats().commandsProposed()).isEqualTo(11);
    }

    @Test
    void tooManyQueuedCommandsAreRefusedWithEbusy() throws Exception {
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxInFlight(1).withMaxQueued(3));
        CompletableFuture<Result> first = parkApply(n, core, "first");
        List<CompletableFuture<Result>> ok = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ok.add(n.submit(new OpenSession("q-" + i, 60_000)));
        }
        CompletableFuture<Result> refused = n.submit(new OpenSession("q-3", 60_000));
        assertThatThrownBy(() -> get(refused)).cause().isInstanceOfSatisfying(RaftOperationException.class,
                e -> assertThat(e.code()).isEqualTo("EBUSY"));
        core.release();
        get(first);
        for (CompletableFuture<Result> f : ok) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
    }

    @Test
    void closeFailsQueuedCommandsWithEstopAndLaterSubmitsToo() throws Exception {
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxInFlight(1));
        CompletableFuture<Result> first = parkApply(n, core, "first");
        List<CompletableFuture<Result>> queued = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            queued.add(n.submit(new OpenSession("q-" + i, 60_000)));
        }
        // close() fails the queue at once, then waits for the Raft node (whose apply thread is parked).
        Thread closer = new Thread(n::close, "closer");
        closer.start();
        for (CompletableFuture<Result> f : queued) {
            assertThatThrownBy(() -> get(f)).cause().isInstanceOfSatisfying(RaftOperationException.class,
                    e -> assertThat(e.code()).isEqualTo("ESTOP"));
        }
        core.release();
        closer.join(WAIT.toMillis());
        assertThat(closer.isAlive()).isFalse();
        assertThat(first).as("the entry in flight completed one way or the other").isDone();

        assertThatThrownBy(() -> get(n.submit(new OpenSession("late", 60_000)))).cause()
                .isInstanceOfSatisfying(RaftOperationException.class, e -> assertThat(e.code()).isEqualTo("ESTOP"));
        assertThat(n.batcherStats().entriesProposed()).isEqualTo(1);
    }

    @Test
    void aSingleClientIsProposedAtOnceOneEntryPerCommand() throws Exception {
        BatonNode n = leader(null, ProposalBatcher.Config.defaults());
        long session = ((SessionOpened) get(n.submit(new OpenSession("solo", 60_000)))).session();
        for (int i = 0; i < 10; i++) {
            PoolReply r = (PoolReply) get(n.submit(new PoolAcquire(session, 2 * i + 1, "k", 1, 5, 0, false)));
            assertThat(r.status()).isEqualTo(PoolStatus.LOCKED);
            PoolReply released = (PoolReply) get(n.submit(new Command.PoolRelease(session, 2 * i + 2, "k", r.fence())));
            assertThat(released.status()).isEqualTo(PoolStatus.RELEASED);
        }
        // Sequential calls: each finds a free slot and an otherwise empty queue.
        assertThat(n.batcherStats().entriesProposed()).isEqualTo(21);
        assertThat(n.batcherStats().commandsProposed()).isEqualTo(21);
        // propose(List) still makes its own entry, outside the batcher's counters.
        Applied a = get(n.propose(List.of(new Command.ExpireWaits(), new Command.ExpireWaits())));
        assertThat(a.results()).hasSize(2);
        assertThat(n.batcherStats().entriesProposed()).isEqualTo(21);
    }

    @Test
    void submitAllLeavesInOneEntryInItsOrderAndAnUnencodableCommandFailsAlone() throws Exception {
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxInFlight(1));
        long firstIndex = n.lastAppliedIndex() + 1;
        CompletableFuture<Result> first = parkApply(n, core, "first");

        List<Command> commands = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            commands.add(new OpenSession("all-" + i, 60_000));
        }
        commands.add(2, new OpenSession("x".repeat(Limits.CODEC_MAX_NAME_BYTES + 1), 60_000)); // over the codec's ceiling
        List<CompletableFuture<Result>> fs = n.submitAll(commands);
        assertThat(fs.get(2)).isCompletedExceptionally();
        assertThat(n.batcherStats().queued()).isEqualTo(5);

        core.release();
        assertThat(get(first)).isInstanceOf(SessionOpened.class);
        long previous = 0;
        for (int i = 0; i < fs.size(); i++) {
            if (i == 2) {
                continue;
            }
            SessionOpened s = (SessionOpened) get(fs.get(i));
            assertThat(s.session()).as("applied in the order given").isGreaterThan(previous);
            previous = s.session();
        }
        assertThat(commandsPerEntry(n, firstIndex)).containsExactly(1, 5);
    }

    @Test
    void theNextEntryIsSealedByTheThreadThatCompletesOne() throws Exception {
        // Depth 2, behind a small entry: two entries fill the pipeline; what comes after waits in the
        // queue and leaves in one entry when one of them completes, with no thread of the batcher's own.
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults());
        assertThat(ProposalBatcher.Config.defaults().maxInFlight()).isEqualTo(2);
        long firstIndex = n.lastAppliedIndex() + 1;
        CompletableFuture<Result> first = parkApply(n, core, "first");
        CompletableFuture<Result> second = n.submit(new OpenSession("second", 60_000));
        List<CompletableFuture<Result>> rest = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            rest.add(n.submit(new OpenSession("rest-" + i, 60_000)));
        }
        assertThat(n.batcherStats().inFlight()).isEqualTo(2);
        assertThat(n.batcherStats().queued()).isEqualTo(30);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("baton-batcher"));

        core.release();
        assertThat(get(first)).isInstanceOf(SessionOpened.class);
        assertThat(get(second)).isInstanceOf(SessionOpened.class);
        for (CompletableFuture<Result> f : rest) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
        assertThat(commandsPerEntry(n, firstIndex)).containsExactly(1, 1, 30);
    }

    @Test
    void noEntryIsPipelinedBehindABigOne() throws Exception {
        // Behind an entry of more than maxCommandsToPipeline commands the log is busy: what comes
        // next waits for it and leaves as one entry, not as a pipelined one of its own plus the rest.
        GatedCore core = new GatedCore();
        ProposalBatcher.Config config = ProposalBatcher.Config.defaults();
        BatonNode n = leader(core, config);
        long firstIndex = n.lastAppliedIndex() + 1;
        int big = config.maxCommandsToPipeline() + 1;
        CountDownLatch entered = core.arm();
        List<Command> bigEntry = new ArrayList<>();
        for (int i = 0; i < big; i++) {
            bigEntry.add(new OpenSession("big-" + i, 60_000));
        }
        List<CompletableFuture<Result>> first = n.submitAll(bigEntry);
        awaitLatch(entered, "the apply thread to reach the gate");
        List<CompletableFuture<Result>> rest = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            rest.add(n.submit(new OpenSession("after-big-" + i, 60_000)));
        }
        assertThat(n.batcherStats().inFlight()).as("a slot is free, but not behind a big entry").isEqualTo(1);
        assertThat(n.batcherStats().queued()).isEqualTo(5);

        core.release();
        for (CompletableFuture<Result> f : first) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
        for (CompletableFuture<Result> f : rest) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
        assertThat(commandsPerEntry(n, firstIndex)).containsExactly(big, 5);
    }

    @Test
    void withoutPipeliningOneEntryIsInFlightAtATime() throws Exception {
        GatedCore core = new GatedCore();
        BatonNode n = leader(core, ProposalBatcher.Config.defaults().withMaxCommandsToPipeline(0));
        long firstIndex = n.lastAppliedIndex() + 1;
        CompletableFuture<Result> first = parkApply(n, core, "alone");
        List<CompletableFuture<Result>> rest = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            rest.add(n.submit(new OpenSession("behind-" + i, 60_000)));
        }
        assertThat(n.batcherStats().inFlight()).isEqualTo(1);
        assertThat(n.batcherStats().queued()).isEqualTo(3);
        core.release();
        assertThat(get(first)).isInstanceOf(SessionOpened.class);
        for (CompletableFuture<Result> f : rest) {
            assertThat(get(f)).isInstanceOf(SessionOpened.class);
        }
        assertThat(commandsPerEntry(n, firstIndex)).containsExactly(1, 3);
    }

    @Test
    void queuedCommandsFailWithNotLeaderWhenLeadershipIsLostAndAreNeverProposed() throws Exception {
        List<String> peers = new ArrayList<>();
        int[] ports = new int[3];
        for (int i = 0; i < 3; i++) {
            ports[i] = SingleNodeTest.freePort();
            peers.add("127.0.0.1:" + ports[i]);
        }
        List<BatonNode> nodes = new ArrayList<>();
        List<GatedCore> cores = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", dir.resolve("c" + (i + 1)),
                    "127.0.0.1", ports[i], peers, 1000, 0, true);
            GatedCore core = new GatedCore();
            gates.add(core);
            cores.add(core);
            BatonNode node = new BatonNode(o, core, EffectListener.NONE, System::currentTimeMillis,
                    ProposalBatcher.Config.defaults().withMaxInFlight(1));
            started.add(node);
            nodes.add(node.start());
        }
        await("a leader", () -> nodes.stream().anyMatch(BatonNode::isLeader));
        BatonNode leader = nodes.stream().filter(BatonNode::isLeader).findFirst().orElseThrow();
        GatedCore leaderCore = cores.get(nodes.indexOf(leader));
        List<BatonNode> followers = new ArrayList<>(nodes);
        followers.remove(leader);

        // A follower refuses at once, naming the leader.
        for (BatonNode f : followers) {
            assertThat(f.waitForLeader(WAIT)).contains(leader.options().endpoint());
            assertThatThrownBy(() -> get(f.submit(new OpenSession("x", 60_000)))).cause()
                    .isInstanceOfSatisfying(NotLeaderException.class,
                            e -> assertThat(e.leader()).contains(leader.options().endpoint()));
        }

        CompletableFuture<Result> first = parkApply(leader, leaderCore, "first"); // committed: it is applying
        List<CompletableFuture<Result>> queued = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            queued.add(leader.submit(new OpenSession("q-" + i, 60_000)));
        }
        assertThat(leader.batcherStats().queued()).isEqualTo(10);
        // The leader loses its majority and steps down while the commands wait.
        for (BatonNode f : followers) {
            f.close();
        }
        await("the old leader to step down", () -> !leader.raftNode().isLeader());
        leaderCore.release();

        assertThat(get(first)).isInstanceOf(SessionOpened.class);
        for (CompletableFuture<Result> f : queued) {
            assertThatThrownBy(() -> get(f)).cause().isInstanceOf(NotLeaderException.class);
        }
        assertThat(leaderCore.lookup(new Query.GetSummary()).sessions()).as("none of them applied").isEqualTo(1);
        assertThatThrownBy(() -> get(leader.submit(new OpenSession("later", 60_000)))).cause()
                .isInstanceOf(NotLeaderException.class);
    }
}
