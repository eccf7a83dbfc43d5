package dev.baton.server.cluster;

import dev.baton.api.v1.StatusResponse;
import dev.baton.cli.Baton;
import dev.baton.client.BatonClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code baton admin add-member, transfer-leader, remove-member} on real {@code baton server}
 * processes ({@link ProcessCluster}, from the server's tests: this class sits in its package to use
 * it). Conditions are polled with generous bounds; durations never decide the outcome.
 */
class MembershipCliProcessTest {
    /** For a cluster's first leader, and a JVM's start: a loaded 2-core box may take over 30 s. */
    private static final long START_MS = 120_000;

    @TempDir
    Path tmp;

    @Test
    void aNodeIsAddedLeadershipTransferredAndAMemberRemovedWithTheCli() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            ProcessCluster.NodeProc leader = c.awaitLeader(START_MS).orElseThrow();
            Set<Long> lost = ConcurrentHashMap.newKeySet();
            try (BatonClient a = ClusterTest.client(c, lost)) {
                a.dispatch().init("g", Map.of("t1", "db1"));
                a.dispatch().advance("g", 42);
                ProcessCluster.NodeProc n4 = c.startJoining();
                c.awaitStatus(n4); // up and serving, as the procedure in docs/server.md says, before adding it
                // any node takes the change; a follower forwards it to the leader
                ProcessCluster.NodeProc follower = c.awaitFollower();
                assertOk(cli("admin", "-e", follower.api(), "add-member", n4.raft()));
                ClusterTest.await("n4 caught up", () -> c.status(n4).map(s -> s.getMembersCount() == 4
                        && s.getAppliedIndex() >= c.status(leader).map(StatusResponse::getAppliedIndex).orElse(Long.MAX_VALUE))
                        .orElse(false), c);
                // n4 then announces its own API address (one more write), so compare once that settled
                ClusterTest.await("n4 announced", () -> c.status(leader).map(s -> s.getMembersList().stream()
                        .anyMatch(m -> m.getRaftAddress().equals(n4.raft()) && !m.getApiAddress().isEmpty()))
                        .orElse(false), c);
                ClusterTest.await("n4's state equals the leader's", () -> ClusterTest.dump(n4).equals(ClusterTest.dump(leader)), c);

                assertOk(cli("admin", "-e", leader.api(), "transfer-leader", n4.raft()));
                ClusterTest.await("n4 leads", () -> c.status(n4).map(StatusResponse::getIsLeader).orElse(false), c);

                assertOk(cli("admin", "-e", n4.api(), "remove-member", leader.raft()));
                c.stop(leader);
                ClusterTest.await("3 members left", () -> c.status(n4).map(s -> s.getMembersCount() == 3).orElse(false), c);
                assertThat(a.dispatch().advance("g", 43).value()).isEqualTo(43);
                assertThat(a.dispatch().get("g").head()).isEqualTo(43);

                // bad input: a clear error and exit code 1, nothing changed
                Baton.Run bad = cli("admin", "-e", n4.api(), "add-member", "not-an-address");
                assertThat(bad.code()).isEqualTo(1);
                assertThat(bad.err()).contains("INVALID_ARGUMENT").contains("not-an-address");
                assertThat(c.status(n4).map(StatusResponse::getMembersCount)).contains(3);
            }
            assertThat(lost).isEmpty();
        }
    }

    private static Baton.Run cli(String... args) {
        return Baton.run(args);
    }

    /** Exit code 0; otherwise what the command printed is the failure's message. */
    private static void assertOk(Baton.Run r) {
        assertThat(r.code()).as("exit code of a command that printed:%n%s%n%s", r.out(), r.err()).isZero();
    }
}
