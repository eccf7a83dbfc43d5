package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;
import dev.baton.server.route.Router;

import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.server.TestWaits;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** Three real nodes in this JVM; a follower forwards over its batched link. */
class ForwardLinkClusterTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("the-shared-cluster-secret-0123456789");
    private final List<ApiServer> servers = new ArrayList<>();

    @AfterEach
    void stop() {
        for (ApiServer s : servers) {
            s.close();
        }
    }

    private void startCluster(Path root) throws Exception {
        List<Integer> ports = List.of(TestWaits.freePort(), TestWaits.freePort(), TestWaits.freePort());
        List<String> peers = ports.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.toList());
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", root.resolve("n" + (i + 1)),
                    "127.0.0.1", ports.get(i), peers, 1000, 3600, true);
            servers.add(new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 60_000, UnaryOperator.identity(),
                    false, null, null, SECRET)).start());
        }
    }

    /**
     * Writes submitted one after another on a follower, many in flight at once, enter the log in
     * that order: sessions get their ids in log order.
     */
    @Test
    void writesForwardedInOrderEnterTheLogInOrder(@TempDir Path root) throws Exception {
        startCluster(root);
        TestWaits.await("a leader", () -> servers.stream().anyMatch(s -> s.node().isLeader()));
        ApiServer follower = servers.stream().filter(s -> !s.node().isLeader()).findFirst().orElseThrow();
        TestWaits.await("the follower knows the leader's API address", () -> follower.router().leaderApi().isPresent());
        Router router = follower.router();
        int n = 3000;
        List<CompletableFuture<Result>> writes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            writes.add(router.write(new Command.OpenSession("ordered-" + i, 60_000)));
        }
        long previous = 0;
        for (int i = 0; i < n; i++) {
            long session = ((Result.SessionOpened) writes.get(i).get(60, TimeUnit.SECONDS)).session();
            assertThat(session).as("write %d's session comes after write %d's", i, i - 1).isGreaterThan(previous);
            previous = session;
        }
        assertThat(router.commandsForwarded()).isGreaterThanOrEqualTo(n);
        System.out.printf("[ForwardLinkClusterTest] in order: %d commands in %d frames%n", router.commandsForwarded(),
                router.framesForwarded());
    }

    /**
     * The lead moves to the other follower while a follower forwards a stream of writes: the
     * commands still pending on the link to the old leader are failed when this follower sees the
     * leader change (or refused by the old leader) and sent again, over a new link, to the new one.
     * Every write is answered, each exactly once in effect (opening a session with a client token:
     * a repeat returns the first session).
     */
    @Test
    void writesPendingWhenTheLeaderChangesAreAnsweredByTheNewLeader(@TempDir Path root) throws Exception {
        startCluster(root);
        TestWaits.await("a leader", () -> servers.stream().anyMatch(s -> s.node().isLeader()));
        ApiServer leader = servers.stream().filter(s -> s.node().isLeader()).findFirst().orElseThrow();
        List<ApiServer> followers = servers.stream().filter(s -> s != leader).toList();
        ApiServer follower = followers.get(0);
        ApiServer next = followers.get(1);
        TestWaits.await("the follower knows the leader's API address",
                () -> follower.router().leaderApi().isPresent() && next.router().leaderApi().isPresent());

        Router router = follower.router();
        int n = 3000;
        List<CompletableFuture<Result>> writes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            writes.add(router.write(new Command.OpenSession("client-" + i, 60_000)));
            if (i == n / 3) {
                leader.node().transferLeadership(next.node().options().endpoint());
            }
        }
        Set<Long> sessions = new HashSet<>();
        for (CompletableFuture<Result> w : writes) {
            Result r = w.get(60, TimeUnit.SECONDS);
            assertThat(r).isInstanceOf(Result.SessionOpened.class);
            sessions.add(((Result.SessionOpened) r).session());
        }
        assertThat(sessions).as("one session per client token").hasSize(n);
        assertThat(router.framesForwarded()).isPositive();
        assertThat(router.commandsForwarded()).isGreaterThanOrEqualTo(n);
        System.out.printf("[ForwardLinkClusterTest] leader moved: %s; %d commands in %d frames, %d abandoned at"
                        + " the change, %d resent%n", next.node().isLeader(), router.commandsForwarded(),
                router.framesForwarded(), router.forwardsAbandoned(), router.writesResent());

        // Every node ends up with exactly these sessions.
        TestWaits.await("the sessions on every node", () -> servers.stream().allMatch(
                s -> s.node().readLocal(new Query.ListSessionLeases()).size() == n));
    }
}
