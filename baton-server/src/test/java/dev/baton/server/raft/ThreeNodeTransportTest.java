package dev.baton.server.raft;

import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.machine.SnapshotCodec;
import dev.baton.core.sm.Applied;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Three nodes in one JVM over SOFAJRaft's bolt transport on loopback: exercises the RPC path (and so
 * the Netty version this module pins), replication, follower ReadIndex, NotLeader answers and one
 * leader change. Not the cluster tests (those run real processes); a smoke test of the host.
 * Engine refusals (no leader yet, read-index timeout under load) are retried: every proposal here is
 * idempotent (session token, request ids), so a retry cannot apply twice.
 */
class ThreeNodeTransportTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private final List<BatonNode> nodes = new ArrayList<>();
    private final List<CoordinationStateMachine> cores = new ArrayList<>();

    @AfterEach
    void closeAll() {
        for (BatonNode n : nodes) {
            n.close();
        }
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    /** Retries what the engine refused (RaftOperationException) for up to {@link #WAIT}. */
    private static <T> T retrying(java.util.function.Supplier<CompletableFuture<T>> op) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                return get(op.get());
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof RaftOperationException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    /** Proposes on whichever node leads, retrying across refusals and leader changes. */
    private Applied onLeader(List<BatonNode> candidates, dev.baton.core.command.Command c) throws Exception {
        return retrying(() -> {
            try {
                return leaderAmong(candidates).propose(c);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static byte[] stateBytes(CoordinationStateMachine core) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SnapshotCodec.write(core.state(), out);
        return out.toByteArray();
    }

    private BatonNode leaderAmong(List<BatonNode> candidates) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (BatonNode n : candidates) {
                if (n.isLeader()) {
                    return n;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no leader within " + WAIT);
    }

    @Test
    void replicatesReadsOnFollowersAndSurvivesTheLeadersExit() throws Exception {
        List<String> peers = new ArrayList<>();
        int[] ports = new int[3];
        for (int i = 0; i < 3; i++) {
            ports[i] = SingleNodeTest.freePort();
            peers.add("127.0.0.1:" + ports[i]);
        }
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", dir.resolve("n" + (i + 1)),
                    "127.0.0.1", ports[i], peers, 1000, 0, true);
            CoordinationStateMachine core = new CoordinationStateMachine();
            cores.add(core);
            nodes.add(new BatonNode(o, core, EffectListener.NONE, System::currentTimeMillis).start());
        }

        long s = ((Result.SessionOpened) onLeader(nodes, new OpenSession("c", 60_000)).results().get(0)).session();
        Applied locked = onLeader(nodes, new PoolAcquire(s, 1, "k", 1, 5, 0, false));
        BatonNode leader = leaderAmong(nodes);

        for (BatonNode n : nodes) {
            assertThat(n.waitForLeader(WAIT)).contains(leader.options().endpoint());
            // Linearizable on every node: a follower asks the leader for the read index over RPC.
            View.Pool pool = retrying(() -> n.read(new Query.GetPool("k")));
            assertThat(pool.holders()).singleElement()
                    .satisfies(h -> assertThat(h.fence() >>> 16).isEqualTo(locked.index()));
            if (n != leader) {
                assertThatThrownBy(() -> get(n.propose(new OpenSession("x", 60_000)))).cause()
                        .isInstanceOfSatisfying(NotLeaderException.class,
                                e -> assertThat(e.leader()).contains(leader.options().endpoint()));
            }
        }
        byte[] leaderBytes = stateBytes(cores.get(nodes.indexOf(leader)));
        for (CoordinationStateMachine c : cores) {
            assertThat(stateBytes(c)).as("replicas agree byte for byte").isEqualTo(leaderBytes);
        }
        long lastTime = retrying(() -> leader.read(new Query.GetSummary())).lastTime();

        // The leader leaves; the other two elect a new one, which keeps the state and the time.
        leader.close();
        List<BatonNode> rest = new ArrayList<>(nodes);
        rest.remove(leader);
        Applied after = onLeader(rest, new PoolAcquire(s, 2, "k2", 1, 5, 0, false));
        BatonNode next = leaderAmong(rest);
        assertThat(next.term()).isGreaterThan(1);
        assertThat(after.index()).isGreaterThan(locked.index());
        assertThat(retrying(() -> next.read(new Query.GetPool("k"))).holders()).hasSize(1);
        View.Summary summary = retrying(() -> next.read(new Query.GetSummary()));
        assertThat(summary.lastTime()).as("time kept across the leader change").isGreaterThanOrEqualTo(lastTime);
        for (BatonNode n : rest) {
            assertThat(n.waitForLeader(WAIT)).isPresent();
            assertThat(retrying(() -> n.read(new Query.GetSummary())).lastIndex())
                    .isGreaterThanOrEqualTo(summary.lastIndex());
        }
        assertThat(stateBytes(cores.get(nodes.indexOf(rest.get(0)))))
                .isEqualTo(stateBytes(cores.get(nodes.indexOf(rest.get(1)))));
    }
}
