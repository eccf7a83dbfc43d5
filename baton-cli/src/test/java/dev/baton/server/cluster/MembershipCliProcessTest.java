package dev.baton.server.cluster;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.cli.Baton;
import dev.baton.client.BatonClient;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code baton admin add-member, transfer-leader, remove-member} on real {@code baton server}
 * processes ({@link ProcessCluster}, from the server's tests: this class sits in its package to use
 * it). Conditions are polled with generous bounds; durations never decide the outcome.
 */
class MembershipCliProcessTest {
    private static final long GENEROUS_MS = 30_000;
    /** For a cluster's first leader, and a JVM's start: a loaded 2-core box may take over 30 s. */
    private static final long START_MS = 120_000;

    @TempDir
    Path tmp;

    private static BatonClient client(ProcessCluster c, Set<Long> lost) {
        return BatonClient.builder().endpoints(c.apiEndpoints()).sessionTtl(Duration.ofSeconds(10))
                .retryFor(Duration.ofSeconds(30)).onSessionLost(e -> lost.add(e.sessionId())).build();
    }

    private static void await(String what, java.util.function.BooleanSupplier cond, ProcessCluster c)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GENEROUS_MS);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " not reached within " + GENEROUS_MS + " ms\n" + c.logs());
            }
            Thread.sleep(50);
        }
    }

    private static String dump(ProcessCluster.NodeProc n) {
        ManagedChannel ch = ManagedChannelBuilder.forTarget(n.api()).usePlaintext().build();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true) {
                try {
                    return AdminGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                            .dump(DumpRequest.getDefaultInstance()).getJson();
                } catch (RuntimeException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(50);
                }
            }
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void aNodeIsAddedLeadershipTransferredAndAMemberRemovedWithTheCli() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            ProcessCluster.NodeProc leader = c.awaitLeader(START_MS).orElseThrow();
            Set<Long> lost = ConcurrentHashMap.newKeySet();
            try (BatonClient a = client(c, lost)) {
                a.dispatch().init("g", Map.of("t1", "db1"));
                a.dispatch().advance("g", 42);
                ProcessCluster.NodeProc n4 = c.startJoining();
                c.awaitStatus(n4); // up and serving, as the procedure in docs/server.md says, before adding it
                // any node takes the change; a follower forwards it to the leader
                ProcessCluster.NodeProc follower = c.awaitFollower();
                assertThat(cli("admin", "-e", follower.api(), "add-member", n4.raft())).isZero();
                await("n4 caught up", () -> c.status(n4).map(s -> s.getMembersCount() == 4
                        && s.getAppliedIndex() >= c.status(leader).map(StatusResponse::getAppliedIndex).orElse(Long.MAX_VALUE))
                        .orElse(false), c);
                // n4 then announces its own API address (one more write), so compare once that settled
                await("n4 announced", () -> c.status(leader).map(s -> s.getMembersList().stream()
                        .anyMatch(m -> m.getRaftAddress().equals(n4.raft()) && !m.getApiAddress().isEmpty()))
                        .orElse(false), c);
                await("n4's state equals the leader's", () -> dump(n4).equals(dump(leader)), c);

                assertThat(cli("admin", "-e", leader.api(), "transfer-leader", n4.raft())).isZero();
                await("n4 leads", () -> c.status(n4).map(StatusResponse::getIsLeader).orElse(false), c);

                assertThat(cli("admin", "-e", n4.api(), "remove-member", leader.raft())).isZero();
                c.stop(leader);
                await("3 members left", () -> c.status(n4).map(s -> s.getMembersCount() == 3).orElse(false), c);
                assertThat(a.dispatch().advance("g", 43).value()).isEqualTo(43);
                assertThat(a.dispatch().get("g").head()).isEqualTo(43);
            }
            assertThat(lost).isEmpty();
            // bad input: a clear error and exit code 1, nothing changed
            assertThat(cli("admin", "-e", c.node(1).api(), "add-member", "not-an-address")).isEqualTo(1);
        }
    }

    private static int cli(String... args) {
        return Baton.exec(args);
    }
}
