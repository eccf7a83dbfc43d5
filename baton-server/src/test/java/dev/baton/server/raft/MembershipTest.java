package dev.baton.server.raft;

import static dev.baton.server.TestWaits.await;
import static dev.baton.server.TestWaits.get;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.machine.SnapshotCodec;
import dev.baton.core.sm.Applied;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Membership on real SOFAJRaft nodes in one JVM over loopback: a fourth node joins (started with an
 * empty configuration, added by the leader) and catches up, leadership moves to it, an old node is
 * removed and the cluster keeps serving; peers, commit index and refusals on followers. Engine
 * refusals (EBUSY, a leader change) are retried; every write here is idempotent (client tokens,
 * request ids) and the membership operations are too. Waits are bounded polls; no outcome depends on
 * timing.
 */
class MembershipTest {
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



    /** Runs op on whichever of the nodes leads, retrying engine refusals for up to {@link #WAIT}. */
    private <T> T onLeader(List<BatonNode> among, Function<BatonNode, CompletableFuture<T>> op) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                return get(op.apply(leaderAmong(among)));
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof RaftOperationException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    private static BatonNode leaderAmong(List<BatonNode> among) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (BatonNode n : among) {
                if (n.isLeader()) {
                    return n;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no leader within " + WAIT);
    }

    private static byte[] stateBytes(CoordinationStateMachine core) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            SnapshotCodec.write(core.state(), out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private BatonNode node(String id, int port, List<String> peers) {
        BatonNode.Options o = new BatonNode.Options(id, "baton", dir.resolve(id), "127.0.0.1", port, peers, 1000, 0,
                true);
        CoordinationStateMachine core = new CoordinationStateMachine();
        BatonNode n = new BatonNode(o, core, EffectListener.NONE, System::currentTimeMillis);
        nodes.add(n);
        cores.add(core);
        return n;
    }

    private CoordinationStateMachine coreOf(BatonNode n) {
        return cores.get(nodes.indexOf(n));
    }

    /** Waits until every node in the list has applied exactly what {@code reference} has, byte for byte. */
    private void awaitSameState(BatonNode reference, List<BatonNode> others) throws InterruptedException {
        for (BatonNode n : others) {
            await(n.options().nodeId() + " to reach " + reference.options().nodeId() + "'s state", () ->
                    coreOf(n).lastApplied() == coreOf(reference).lastApplied()
                            && Arrays.equals(stateBytes(coreOf(n)), stateBytes(coreOf(reference))));
        }
    }

    @Test
    void aNodeJoinsCatchesUpTakesTheLeadAndAnOldOneLeaves() throws Exception {
        int[] ports = new int[4];
        List<String> endpoints = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ports[i] = SingleNodeTest.freePort();
            endpoints.add("127.0.0.1:" + ports[i]);
        }
        List<String> three = endpoints.subList(0, 3);
        for (int i = 0; i < 3; i++) {
            node("n" + (i + 1), ports[i], three).start();
        }
        List<BatonNode> cluster = new ArrayList<>(nodes);

        long s = ((Result.SessionOpened) onLeader(cluster, n -> n.submit(new OpenSession("c", 60_000)))).session();
        onLeader(cluster, n -> n.submit(new PoolAcquire(s, 1, "k1", 1, 5, 0, false)));
        BatonNode leader = leaderAmong(cluster);
        for (BatonNode n : cluster) {
            await(n.options().nodeId() + " to know three peers", () -> n.peers().size() == 3);
            assertThat(n.peers()).containsExactlyInAnyOrderElementsOf(three);
        }

        // Followers refuse membership operations and submits, naming the leader.
        BatonNode follower = cluster.stream().filter(n -> n != leader).findFirst().orElseThrow();
        assertThat(follower.waitForLeader(WAIT)).contains(leader.options().endpoint());
        for (CompletableFuture<?> f : List.of(follower.addPeer(endpoints.get(3)),
                follower.removePeer(leader.options().endpoint()),
                follower.transferLeadership(follower.options().endpoint()),
                follower.submit(new OpenSession("x", 60_000)))) {
            assertThatThrownBy(() -> get(f)).cause().isInstanceOfSatisfying(NotLeaderException.class,
                    e -> assertThat(e.leader()).contains(leader.options().endpoint()));
        }
        assertThatThrownBy(() -> get(leader.addPeer("no port"))).cause().isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> get(leader.transferLeadership("127.0.0.1:1"))).cause()
                .isInstanceOfSatisfying(RaftOperationException.class, e -> assertThat(e.code()).isEqualTo("EINVAL"));

        // ---- a fourth node joins: started with an empty configuration, then added by the leader ----
        BatonNode n4 = node("n4", ports[3], List.of()).startJoining();
        assertThat(n4.peers()).as("not part of any configuration yet").isEmpty();
        assertThat(n4.isLeader()).isFalse();
        onLeader(cluster, n -> n.addPeer(endpoints.get(3)));
        cluster.add(n4);
        for (BatonNode n : cluster) {
            await(n.options().nodeId() + " to know four peers", () -> n.peers().size() == 4);
            assertThat(n.peers()).containsExactlyInAnyOrderElementsOf(endpoints);
        }
        onLeader(cluster, n -> n.addPeer(endpoints.get(3))); // again: already there, completes at once
        onLeader(cluster, n -> n.submit(new PoolAcquire(s, 2, "k2", 1, 5, 0, false)));
        awaitSameState(leaderAmong(cluster), cluster);
        assertThat(n4.read(new Query.GetPool("k1")).get(20, TimeUnit.SECONDS).holders()).singleElement()
                .satisfies(h -> assertThat(h.session()).isEqualTo(s));

        // ---- leadership moves to the newcomer ----
        BatonNode old = leaderAmong(cluster);
        onLeader(cluster, n -> n.transferLeadership(n4.options().endpoint()));
        await("n4 to lead", n4::isLeader);
        assertThat(old.isLeader()).isFalse();
        await("the old leader to follow n4", () -> old.leader().equals(n4.leader()));
        assertThat(get(n4.transferLeadership(n4.options().endpoint()))).as("to itself: nothing to do").isNull();
        Result r = onLeader(cluster, n -> n.submit(new PoolAcquire(s, 3, "k3", 1, 5, 0, false)));
        assertThat(((Result.PoolReply) r).status()).isEqualTo(Result.PoolStatus.LOCKED);

        // ---- the old leader leaves; the remaining three keep serving ----
        onLeader(cluster, n -> n.removePeer(old.options().endpoint()));
        cluster.remove(old);
        List<String> remaining = new ArrayList<>(endpoints);
        remaining.remove(old.options().endpoint());
        for (BatonNode n : cluster) {
            await(n.options().nodeId() + " to know the three remaining peers",
                    () -> n.peers().size() == 3 && !n.peers().contains(old.options().endpoint()));
            assertThat(n.peers()).containsExactlyInAnyOrderElementsOf(remaining);
        }
        onLeader(cluster, n -> n.removePeer(old.options().endpoint())); // again: completes at once
        old.close();

        Applied last = onLeader(cluster, n -> n.propose(new Command.PoolRelease(s, 4, "k1", 0)));
        assertThat(((Result.PoolReply) last.results().get(0)).status()).isEqualTo(Result.PoolStatus.RELEASED);
        BatonNode now = leaderAmong(cluster);
        assertThat(now.commitIndex()).isGreaterThanOrEqualTo(last.index());
        for (BatonNode n : cluster) {
            await(n.options().nodeId() + " to commit and apply " + last.index(),
                    () -> n.commitIndex() >= last.index() && n.lastAppliedIndex() >= last.index());
        }
        awaitSameState(now, cluster);
        assertThat(coreOf(now).lookup(new Query.GetPool("k1"))).as("released: the key is gone").isNull();
    }
}
