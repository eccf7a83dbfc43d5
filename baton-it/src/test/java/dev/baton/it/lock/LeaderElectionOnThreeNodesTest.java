package dev.baton.it.lock;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.BatonClient;
import dev.baton.client.LockInfo;
import dev.baton.client.lock.LeaderElection;
import dev.baton.it.Nodes;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link LeaderElection} against a three-node cluster: contenders on clients of their own, exactly one
 * leader, a hand-over with a larger fence when the leader closes, and {@code lost()} then another
 * leader when the leader's session is closed on the cluster. Every listener call goes into one log in
 * the order made, so the test sees that a {@code lost()} comes before the next {@code gained()}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LeaderElectionOnThreeNodesTest {
    private static final AtomicInteger NAMES = new AtomicInteger();

    private Nodes nodes;
    private final List<BatonClient> clients = new ArrayList<>();
    private final List<LeaderElection> elections = new ArrayList<>();
    /** "who gained FENCE" and "who lost", in the order the listeners were called. */
    private final List<String> log = new CopyOnWriteArrayList<>();

    @BeforeAll
    void startNodes() {
        nodes = Nodes.three();
    }

    @AfterAll
    void stopNodes() {
        nodes.close();
    }

    @AfterEach
    void closeAll() {
        elections.forEach(LeaderElection::close);
        elections.clear();
        clients.forEach(BatonClient::close);
        clients.clear();
        log.clear();
    }

    private LeaderElection contender(String election, String who) {
        BatonClient client = nodes.client();
        clients.add(client);
        LeaderElection e = LeaderElection.builder(client, election).listener(new LeaderElection.Listener() {
            @Override
            public void gained(long fence) {
                log.add(who + " gained " + fence);
            }

            @Override
            public void lost() {
                log.add(who + " lost");
            }
        }).build();
        elections.add(e);
        e.start();
        return e;
    }

    /**
     * Waits for exactly one leader among {@code contenders} whose {@code gained()} was called, checking
     * there is never more than one.
     */
    private LeaderElection awaitOneLeader(List<LeaderElection> contenders) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            List<LeaderElection> leaders = contenders.stream().filter(LeaderElection::isLeader).collect(Collectors.toList());
            assertThat(leaders).as("leaders at once; listener calls %s", log).hasSizeLessThanOrEqualTo(1);
            // isLeader() turns true just before gained() is called: wait for the call too
            if (leaders.size() == 1 && log.stream().anyMatch(c -> c.endsWith(" gained " + leaders.get(0).fence()))) {
                return leaders.get(0);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no leader within 60 s; listener calls " + log);
            }
            Thread.sleep(20);
        }
    }

    private void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 60 s: " + what + "; listener calls " + log);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void threeContendersHaveOneLeaderAndClosingItHandsOverWithALargerFence() throws Exception {
        String name = "election-" + NAMES.incrementAndGet();
        List<LeaderElection> contenders = new ArrayList<>(List.of(
                contender(name, "a"), contender(name, "b"), contender(name, "c")));

        LeaderElection first = awaitOneLeader(contenders);
        long firstFence = first.fence();
        LockInfo seen = first.currentLeader().orElseThrow();
        assertThat(seen.holder()).isEqualTo(first.sessionId().orElseThrow());
        assertThat(seen.fence()).isEqualTo(firstFence);
        for (LeaderElection other : contenders) {
            if (other != first) {
                assertThat(other.currentLeader().orElseThrow().holder()).isEqualTo(seen.holder());
            }
        }

        first.close(); // lost() is called before close() returns, then the lock is released
        assertThat(first.isLeader()).isFalse();
        String firstLost = log.get(log.size() - 1);
        assertThat(firstLost).endsWith(" lost");
        contenders.remove(first);

        LeaderElection second = awaitOneLeader(contenders);
        assertThat(second.fence()).isGreaterThan(firstFence);
        assertThat(log.indexOf(firstLost)).isLessThan(log.size() - 1); // the new leader's gained came after

        second.close();
        contenders.remove(second);
        LeaderElection third = awaitOneLeader(contenders);
        assertThat(third.fence()).isGreaterThan(firstFence);
        assertThat(log).as("three terms, each lost before the next gained").hasSize(5);
    }

    @Test
    void closingTheLeadersSessionOnTheClusterMakesItLoseAndAnotherLead() throws Exception {
        String name = "election-" + NAMES.incrementAndGet();
        LeaderElection a = contender(name, "a");
        LeaderElection b = contender(name, "b");
        LeaderElection leader = awaitOneLeader(List.of(a, b));
        LeaderElection other = leader == a ? b : a;
        String who = leader == a ? "a" : "b";
        long fence = leader.fence();
        long session = leader.sessionId().orElseThrow();

        closeSessionFromOutside(session); // as an operator's `baton admin` close of the session would

        await(() -> log.contains(who + " lost"), who + " told it lost leadership");
        LeaderElection next = awaitOneLeader(List.of(a, b));
        assertThat(next).isSameAs(other);
        assertThat(next.fence()).isGreaterThan(fence);
        // the old leader contends again, on a new session of its own
        await(() -> leader.sessionId().isPresent() && leader.sessionId().getAsLong() != session,
                who + " contends on a new session");
        assertThat(leader.isLeader()).isFalse();
    }

    /** Sends {@code Sessions.Close} for {@code session} on a channel of its own (request id 0 is not remembered). */
    private void closeSessionFromOutside(long session) {
        ManagedChannel channel = ManagedChannelBuilder.forTarget(nodes.endpoints().get(0)).usePlaintext().build();
        try {
            SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .close(CloseSessionRequest.newBuilder().setSession(session).setRequestId(0).build());
        } finally {
            channel.shutdownNow();
        }
    }
}
