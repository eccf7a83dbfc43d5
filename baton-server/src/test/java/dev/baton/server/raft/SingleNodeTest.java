package dev.baton.server.raft;

import com.alipay.sofa.jraft.entity.UserLog;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.machine.SnapshotCodec;
import dev.baton.core.sm.Applied;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * One real SOFAJRaft node (bolt RPC on a free loopback port, RocksDB log with fsync in a temp dir):
 * proposals, linearizable reads, effects, restart by log replay, restart from snapshot plus log
 * tail, time across restarts. Outcomes never depend on timing: waits are bounded polls.
 */
class SingleNodeTest {
    private static final Duration LEADER_WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<BatonNode> started = new ArrayList<>();

    @AfterEach
    void closeAll() {
        for (BatonNode n : started) {
            n.close();
        }
    }

    static int freePort() throws IOException {
        return dev.baton.server.TestPorts.free();
    }

    static BatonNode.Options options(Path dataDir, int port) {
        return BatonNode.Options.defaults(dataDir).withPort(port).withSnapshotIntervalSecs(0);
    }

    /** A started node that leads; a fresh core; the given effect sink and clock. */
    private BatonNode leader(BatonNode.Options o, CoordinationStateMachine core, EffectListener effects,
                             LongSupplier clock) throws InterruptedException {
        BatonNode n = new BatonNode(o, core, effects, clock);
        started.add(n);
        n.start();
        assertThat(n.waitForLeader(LEADER_WAIT)).contains(o.endpoint());
        assertThat(n.isLeader()).isTrue();
        return n;
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    private static Result one(BatonNode n, Command c) throws Exception {
        Applied a = get(n.propose(c));
        assertThat(a.results()).hasSize(1);
        return a.results().get(0);
    }

    private static long openSession(BatonNode n, String token) throws Exception {
        return ((Result.SessionOpened) one(n, new OpenSession(token, 60_000))).session();
    }

    /** The core's full state as snapshot bytes: equal bytes = equal state. */
    private static byte[] stateBytes(CoordinationStateMachine core) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SnapshotCodec.write(core.state(), out);
        return out.toByteArray();
    }

    @Test
    void raftTimersRunOnSharedSchedulersNotOnAWheelThreadPerNode() throws Exception {
        BatonNode n = leader(options(dir, freePort()).withSnapshotIntervalSecs(3600), new CoordinationStateMachine(),
                EffectListener.NONE, System::currentTimeMillis);
        assertThat(one(n, new OpenSession(null, 60_000))).isInstanceOf(Result.SessionOpened.class);
        assertThat(n.read(new dev.baton.core.command.Query.GetSummary()).get(20, java.util.concurrent.TimeUnit.SECONDS)
                .sessions()).isEqualTo(1); // a linearizable read times out on Baton's scheduler, not on a wheel
        List<String> threads = Thread.getAllStackTraces().keySet().stream().map(Thread::getName).toList();
        assertThat(threads).noneMatch(t -> t.startsWith("read-index.timeout.scanner"));
        // a per-node timer is a hashed wheel that wakes every millisecond, idle or not
        assertThat(threads).noneMatch(t -> t.startsWith("JRaft-ElectionTimer") || t.startsWith("JRaft-VoteTimer")
                || t.startsWith("JRaft-StepDownTimer") || t.startsWith("JRaft-SnapshotTimer"));
        assertThat(threads).as("the leader's step-down timer runs on the shared one")
                .anyMatch(t -> t.startsWith("JRaft-Global-StepDownTimer"));
    }

    @Test
    void proposesReadsDeliversEffectsAndKeepsStateAcrossLogReplayAndSnapshotRestarts() throws Exception {
        int port = freePort();
        BatonNode.Options o = options(dir, port);
        List<String> delivered = new CopyOnWriteArrayList<>();
        EffectListener sink = (index, effects) -> {
            for (Effect e : effects) {
                delivered.add(index + " " + e);
            }
        };

        // ---- first life: propose, read, effects ----
        CoordinationStateMachine core1 = new CoordinationStateMachine();
        BatonNode n1 = leader(o, core1, sink, System::currentTimeMillis);
        long s1 = openSession(n1, "client-1");

        Applied acquired = get(n1.propose(new PoolAcquire(s1, 1, "k", 1, 5, 0, false)));
        PoolReply locked = (PoolReply) acquired.results().get(0);
        assertThat(locked.status()).isEqualTo(PoolStatus.LOCKED);
        assertThat(locked.fence() >>> 16).as("fence names the granting log index").isEqualTo(acquired.index());

        View.Pool pool = get(n1.read(new Query.GetPool("k")));
        assertThat(pool.holders()).singleElement().satisfies(h -> {
            assertThat(h.session()).isEqualTo(s1);
            assertThat(h.fence()).isEqualTo(locked.fence());
        });

        long s2 = openSession(n1, "client-2");
        PoolReply queued = (PoolReply) one(n1, new PoolAcquire(s2, 1, "k", 1, 5, 60_000, false));
        assertThat(queued.status()).isEqualTo(PoolStatus.QUEUED);

        Applied released = get(n1.propose(new PoolRelease(s1, 2, "k", locked.fence())));
        assertThat(((PoolReply) released.results().get(0)).status()).isEqualTo(PoolStatus.RELEASED);
        assertThat(released.effects()).singleElement().isInstanceOfSatisfying(Effect.PoolWaitEnded.class, e -> {
            assertThat(e.session()).isEqualTo(s2);
            assertThat(e.requestId()).isEqualTo(1);
            assertThat(e.status()).isEqualTo(PoolStatus.LOCKED);
            assertThat(e.fence() >>> 16).isEqualTo(released.index());
        });
        assertThat(delivered).as("the listener got the same effect, tagged with its entry's index")
                .containsExactly(released.index() + " " + released.effects().get(0));

        // A batch of several commands is one entry, applied in order.
        Applied batch = get(n1.propose(List.of(new PoolAcquire(s1, 3, "other", 2, 5, 0, false),
                new PoolAcquire(s2, 2, "other", 2, 5, 0, false))));
        assertThat(batch.results()).hasSize(2).allSatisfy(r ->
                assertThat(((PoolReply) r).status()).isEqualTo(PoolStatus.LOCKED));

        View.Summary before1 = get(n1.read(new Query.GetSummary()));
        byte[] bytes1 = stateBytes(core1);
        assertThat(before1.lastIndex()).isEqualTo(batch.index());
        n1.close();

        // ---- second life: same data dir, no snapshot yet: the whole log is replayed ----
        CoordinationStateMachine core2 = new CoordinationStateMachine();
        BatonNode n2 = leader(o, core2, EffectListener.NONE, System::currentTimeMillis);
        assertThat(n2.lastLoadedSnapshotIndex()).isEqualTo(-1);
        assertThat(get(n2.read(new Query.GetSummary()))).isEqualTo(before1);
        assertThat(stateBytes(core2)).isEqualTo(bytes1);
        assertThat(get(n2.read(new Query.GetPool("k"))).holders()).singleElement()
                .satisfies(h -> assertThat(h.session()).isEqualTo(s2));

        // Snapshot, then a tail of entries after it.
        get(n2.snapshotNow());
        assertThat(snapshotFiles(dir)).as("a snapshot directory holding baton.snapshot").isNotEmpty();
        long snapshotIndex = core2.lastApplied();
        one(n2, new PoolRelease(s2, 3, "k", 0));
        one(n2, new CloseSession(s1, 0));
        Applied last = get(n2.propose(new PoolAcquire(s2, 4, "tail", 1, 5, 0, false)));
        View.Summary before2 = get(n2.read(new Query.GetSummary()));
        byte[] bytes2 = stateBytes(core2);
        assertThat(before2.lastIndex()).isEqualTo(last.index()).isGreaterThan(snapshotIndex);
        n2.close();

        // ---- third life: snapshot + log tail; and a clock far in the past ----
        CoordinationStateMachine core3 = new CoordinationStateMachine();
        AtomicLong slowClock = new AtomicLong(1_000); // 1970: must not move time back
        BatonNode n3 = leader(o, core3, EffectListener.NONE, slowClock::get);
        assertThat(n3.lastLoadedSnapshotIndex()).as("recovered from the snapshot").isEqualTo(snapshotIndex);
        assertThat(get(n3.read(new Query.GetSummary()))).isEqualTo(before2);
        assertThat(stateBytes(core3)).isEqualTo(bytes2);
        assertThat(get(n3.read(new Query.GetSession(s1)))).isNull();
        assertThat(get(n3.read(new Query.GetPool("tail"))).holders()).singleElement()
                .satisfies(h -> assertThat(h.session()).isEqualTo(s2));

        // Time never goes backwards: the first entry after the restart is stamped at least at the last
        // applied stamp, although the new leader's clock says 1970.
        assertThat(n3.lastAppliedStamp()).isEqualTo(before2.lastTime());
        long beforeNanos = System.nanoTime();
        Applied afterRestart = get(n3.propose(new Command.ExpireWaits()));
        long stamp = stampOf(n3, afterRestart.index());
        assertThat(stamp).isGreaterThanOrEqualTo(before2.lastTime());
        View.Summary after = get(n3.read(new Query.GetSummary()));
        assertThat(after.lastTime()).isGreaterThanOrEqualTo(before2.lastTime());
        assertThat(after.lastIndex()).isEqualTo(afterRestart.index());

        // A wall clock that jumps forward is not followed while this node leads: the cluster time
        // moves on with the monotonic time that really passed (a jump would end waits early).
        slowClock.set(before2.lastTime() + 60_000);
        Applied later = get(n3.propose(new Command.ExpireWaits()));
        long passedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - beforeNanos) + 1;
        assertThat(stampOf(n3, later.index())).isBetween(stamp, stamp + passedMs);
    }

    /**
     * The leader timestamp written in the Raft log at {@code index}. A proposal's future completes
     * inside onApply, before SOFAJRaft advances its own applied index (which readCommittedUserLog
     * checks), so wait for that first.
     */
    private static long stampOf(BatonNode n, long index) throws InterruptedException {
        long deadline = System.nanoTime() + LEADER_WAIT.toNanos();
        while (n.lastAppliedIndex() < index && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        UserLog log = n.raftNode().readCommittedUserLog(index);
        assertThat(log.getIndex()).isEqualTo(index);
        return RaftEntryCodec.timestamp(index, log.getData());
    }

    private static List<Path> snapshotFiles(Path dataDir) throws IOException {
        try (Stream<Path> s = Files.walk(dataDir.resolve("snapshot"))) {
            return s.filter(p -> p.getFileName().toString().equals(BatonStateMachine.SNAPSHOT_FILE)).toList();
        }
    }

    /**
     * The leader's stamps follow the monotonic clock from where this node took the lead: a wall clock
     * stepped back neither freezes nor reverses them, one stepped forward does not make them jump.
     */
    @Test
    void stampsFollowMonotonicTimeWhateverTheWallClockDoes() throws Exception {
        AtomicLong clock = new AtomicLong(5_000_000);
        long t0 = System.nanoTime();
        BatonNode n = leader(options(dir, freePort()), new CoordinationStateMachine(), EffectListener.NONE,
                clock::get);
        long a = get(n.propose(new Command.ExpireWaits())).index();
        clock.set(4_000_000);
        long b = get(n.propose(new Command.ExpireWaits())).index();
        clock.set(6_000_000);
        long c = get(n.propose(new Command.ExpireWaits())).index();
        long passedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + 1;
        long sa = stampOf(n, a);
        long sb = stampOf(n, b);
        long sc = stampOf(n, c);
        assertThat(sa).isBetween(5_000_000L, 5_000_000L + passedMs);
        assertThat(sb).as("a step back neither reverses nor freezes it").isGreaterThanOrEqualTo(sa);
        assertThat(sc).as("a step forward is not followed").isGreaterThanOrEqualTo(sb)
                .isLessThanOrEqualTo(5_000_000L + passedMs);
        assertThat(get(n.read(new Query.GetSummary())).lastTime()).isEqualTo(sc);
    }

    @Test
    void manyConcurrentProposalsAllApplyInLogOrder() throws Exception {
        BatonNode n = leader(options(dir, freePort()), new CoordinationStateMachine(), EffectListener.NONE,
                System::currentTimeMillis);
        List<CompletableFuture<Applied>> fs = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            fs.add(n.propose(new OpenSession("c" + i, 60_000)));
        }
        List<Long> indexes = new ArrayList<>();
        for (CompletableFuture<Applied> f : fs) {
            Applied a = get(f);
            assertThat(a.results().get(0)).isInstanceOf(Result.SessionOpened.class);
            indexes.add(a.index());
        }
        assertThat(indexes).isSorted().doesNotHaveDuplicates();
        assertThat(get(n.read(new Query.GetSummary())).sessions()).isEqualTo(500);
    }

    @Test
    void refusesWhatItCannotDo() throws Exception {
        BatonNode.Options o = options(dir, freePort());
        BatonNode notStarted = new BatonNode(o);
        started.add(notStarted);
        assertThatThrownBy(() -> get(notStarted.propose(new Command.ExpireWaits())))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(RaftOperationException.class);
        assertThatThrownBy(() -> get(notStarted.read(new Query.GetSummary())))
                .cause().isInstanceOf(RaftOperationException.class);

        BatonNode n = leader(o.withDataDir(dir.resolve("real")), new CoordinationStateMachine(),
                EffectListener.NONE, System::currentTimeMillis);
        String tooLong = "x".repeat(5000);
        assertThatThrownBy(() -> get(n.propose(new PoolAcquire(1, 1, tooLong, 1, 1, 0, false))))
                .cause().isInstanceOf(IllegalArgumentException.class);
        // The core still answers a bad but encodable command with a rejection, never a failure.
        Result r = one(n, new PoolAcquire(12345, 1, "k", 1, 1, 0, false));
        assertThat(r).isInstanceOf(Result.Rejected.class);

        n.close();
        assertThatThrownBy(() -> get(n.propose(new Command.ExpireWaits())))
                .cause().isInstanceOf(RaftOperationException.class);
        assertThatThrownBy(n::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void anUnreadableEntryHaltsTheReplicaAtThatEntryAndAgainAfterRestart() throws Exception {
        BatonNode.Options o = options(dir, freePort());
        CoordinationStateMachine core1 = new CoordinationStateMachine();
        BatonNode n1 = leader(o, core1, EffectListener.NONE, System::currentTimeMillis);
        long before = get(n1.propose(new OpenSession("a", 60_000))).index();

        // An entry written by "a newer Baton": header version 99.
        java.nio.ByteBuffer bad = RaftEntryCodec.encode(System.currentTimeMillis(),
                dev.baton.core.command.CommandCodec.encodeBatch(List.of(new OpenSession("b", 60_000))));
        bad.put(0, (byte) 99);
        ProposalClosure badDone = new ProposalClosure(java.util.Optional::empty);
        n1.raftNode().apply(new com.alipay.sofa.jraft.entity.Task(bad, badDone));

        assertThatThrownBy(() -> get(badDone.future())).cause().isInstanceOf(RaftOperationException.class);
        assertThat(awaitFailure(n1)).contains("version 99");
        assertThat(core1.lastApplied()).as("nothing skipped, nothing after it applied").isEqualTo(before);
        assertThat(n1.isLeader()).isFalse();
        assertThatThrownBy(() -> get(n1.propose(new Command.ExpireWaits()))).cause()
                .isInstanceOf(NotLeaderException.class);
        n1.close();

        // The entry is committed in the log: a restart replays up to it and stops there again.
        CoordinationStateMachine core2 = new CoordinationStateMachine();
        BatonNode n2 = new BatonNode(o, core2, EffectListener.NONE, System::currentTimeMillis);
        started.add(n2);
        n2.start();
        assertThat(awaitFailure(n2)).contains("version 99");
        assertThat(core2.lastApplied()).isEqualTo(before);
        assertThat(core2.lookup(new Query.GetSummary()).sessions()).isEqualTo(1);
    }

    private static String awaitFailure(BatonNode n) throws InterruptedException {
        long deadline = System.nanoTime() + LEADER_WAIT.toNanos();
        while (n.failure().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return n.failure().orElseThrow();
    }

    @Test
    void aBusyPortFailsTheStartCleanlyAndTheDataDirCanBeReused() throws Exception {
        int port;
        BatonNode.Options o;
        try (ServerSocket squatter = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            port = squatter.getLocalPort();
            o = options(dir, port);
            BatonNode n = new BatonNode(o);
            started.add(n);
            assertThatThrownBy(n::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(o.endpoint());
        }
        // The failed start released the RocksDB log lock and the node: the same dir and port work now.
        BatonNode again = leader(o, new CoordinationStateMachine(), EffectListener.NONE, System::currentTimeMillis);
        assertThat(openSession(again, "after")).isPositive();
    }
}
