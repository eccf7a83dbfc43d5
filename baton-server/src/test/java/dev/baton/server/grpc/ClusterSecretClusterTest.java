package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;

import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.server.TestWaits;
import dev.baton.server.raft.BatonNode;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Three real nodes in this JVM (SOFAJRaft, gRPC on loopback): n1 and n2 share the cluster secret,
 * n3 was started with another one. Raft itself is unaffected (n3 still replicates), but n3 is not a
 * member of the forwarding link: its clients' writes get a clear error naming the secret, and the
 * leader never records n3's address; n1 and n2 forward to each other as before.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterSecretClusterTest {
    private static final ClusterSecret SHARED = ClusterSecret.of("the-shared-cluster-secret-0123456789");
    private static final ClusterSecret OTHER = ClusterSecret.of("another-cluster-secret-9876543210");

    private final List<ApiServer> servers = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        Path root = Files.createTempDirectory("baton-secret-cluster");
        List<Integer> ports = List.of(TestWaits.freePort(), TestWaits.freePort(), TestWaits.freePort());
        List<String> peers = ports.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.toList());
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", root.resolve("n" + (i + 1)),
                    "127.0.0.1", ports.get(i), peers, 1000, 3600, true);
            servers.add(new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity(),
                    false, null, null, i < 2 ? SHARED : OTHER)).start());
        }
        // n3 must not lead: no one could forward to it. Move the lead to n1 if it has it.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            Optional<ApiServer> leader = servers.stream().filter(s -> s.node().isLeader()).findFirst();
            if (leader.isPresent() && leader.get() != n3()) {
                break;
            }
            if (leader.isPresent()) {
                n3Led = true;
                try {
                    leader.get().node().transferLeadership(servers.get(0).node().options().endpoint())
                            .get(30, TimeUnit.SECONDS);
                } catch (Exception retry) {
                    // the transfer gave up; try again
                }
            }
            assertThat(System.nanoTime()).as("a leader among n1, n2").isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    @AfterAll
    void stop() throws Exception {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        for (ApiServer s : servers) {
            s.close();
        }
    }

    /** n3 was elected first: it then recorded its own address itself, as any leader does. */
    private boolean n3Led;

    private ApiServer n3() {
        return servers.get(2);
    }

    private ApiServer leader() {
        return servers.stream().filter(s -> s.node().isLeader()).findFirst().orElseThrow();
    }

    /** n1 or n2, whichever follows. */
    private ApiServer goodFollower() {
        return servers.subList(0, 2).stream().filter(s -> !s.node().isLeader()).findFirst().orElseThrow();
    }

    private ManagedChannel channel(ApiServer s) {
        ManagedChannel c = ManagedChannelBuilder.forTarget(s.apiEndpoint()).usePlaintext().build();
        channels.add(c);
        return c;
    }

    @Test
    void membersWithTheSecretForwardAsBefore() throws Exception {
        ApiServer follower = goodFollower();
        ManagedChannel ch = channel(follower);
        long session = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (session == 0) {
            try { // until the follower knows where the leader's API is
                session = SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession();
            } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                assertThat(System.nanoTime()).as("forwarding from %s: %s", follower.apiEndpoint(), e).isLessThan(deadline);
                Thread.sleep(50);
            }
        }
        var reply = PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                .acquire(PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1).setKey("k")
                        .setWorkers(1).setMaxQueue(1).build());
        assertThat(reply.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);

        // The good follower got into the address book through the leader.
        TestWaits.await("the good follower's address recorded by the leader", () -> leader().node()
                .readLocal(new Query.ListNodes()).stream().anyMatch(n -> n.apiEndpoint().equals(follower.apiEndpoint())));
    }

    @Test
    void aNodeWithAnotherSecretCannotForwardAndItsClientsAreToldWhy() throws Exception {
        ManagedChannel ch = channel(n3());
        // Until n3 has learnt the leader's address it answers "has not announced" (UNAVAILABLE too);
        // then every write ends in the leader refusing n3's secret.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        StatusRuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try {
                SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .open(OpenSessionRequest.newBuilder().build());
                throw new AssertionError("n3 forwarded a write with the wrong cluster secret");
            } catch (StatusRuntimeException e) {
                last = e;
                if (String.valueOf(e.getStatus().getDescription()).contains("cluster secret")) {
                    break;
                }
            }
            Thread.sleep(50);
        }
        assertThat(last).isNotNull();
        assertThat(last.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(last.getStatus().getDescription()).contains("cluster secret").contains("--cluster-secret-file");

        // n3's address never made it into the book through the leader (unless n3 led at the start
        // and wrote its own entry, as any leader does): nobody will be sent to it.
        String n3Api = n3().apiEndpoint();
        if (!n3Led) {
            for (View.Node n : leader().node().readLocal(new Query.ListNodes())) {
                assertThat(n.apiEndpoint()).isNotEqualTo(n3Api);
            }
        }
        // The leader counted n3's refused calls.
        assertThat(leader().metrics().registry().get(ApiServer.FORWARD_REFUSED_METRIC).tag("reason", "unauthenticated")
                .functionCounter().count()).isPositive();
    }

    @Test
    void aClusterNodeWithoutASecretRefusesToStart() {
        BatonNode.Options o = servers.get(0).node().options();
        assertThatThrownBy(() -> new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--cluster-secret-file");
        BatonNode.Options single = o.withPeers(List.of());
        assertThatThrownBy(() -> new ApiServer.Config(single, "127.0.0.1", 0, 10_000, UnaryOperator.identity(), true))
                .as("--join").isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--cluster-secret-file");
        assertThat(new ApiServer.Config(single, "127.0.0.1", 0, 10_000, UnaryOperator.identity()).clusterSecret()
                .generated()).as("a single node makes up a secret nobody knows").isTrue();
    }

    @Test
    void aShortSecretIsRefused() {
        assertThatThrownBy(() -> ClusterSecret.of("too-short"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 16 bytes");
    }
}
