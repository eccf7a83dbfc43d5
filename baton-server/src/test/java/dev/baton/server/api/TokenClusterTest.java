package dev.baton.server.api;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.MemberRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.StatusResponse;
import dev.baton.client.BearerToken;
import dev.baton.server.TestWaits;
import dev.baton.server.raft.BatonNode;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
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
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three real nodes in this JVM with the same token file: a client with a token on a follower gets a
 * slot (the follower forwards over {@code Forward}, which needs the cluster secret, not a token), and
 * the members' own Admin calls to each other (status, a change passed on to the leader) carry the
 * cluster secret instead of a token.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenClusterTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("the-shared-cluster-secret-0123456789");
    private final String clientToken = AuthTokens.newToken();
    private final String adminToken = AuthTokens.newToken();
    private final List<ApiServer> servers = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        Path root = Files.createTempDirectory("baton-token-cluster");
        Path tokens = root.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(clientToken, "app", "client") + "\n"
                + AuthTokens.fileLine(adminToken, "ops", "admin") + "\n");
        List<Integer> ports = List.of(TestWaits.freePort(), TestWaits.freePort(), TestWaits.freePort());
        List<String> peers = ports.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.toList());
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", root.resolve("n" + (i + 1)),
                    "127.0.0.1", ports.get(i), peers, 1000, 3600, true);
            servers.add(new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity(),
                    false, null, null, SECRET).withAuth(AuthTokens.load(tokens, 10_000))).start());
        }
        TestWaits.await("a leader", () -> servers.stream().anyMatch(s -> s.node().isLeader()));
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

    private ApiServer leader() {
        return servers.stream().filter(s -> s.node().isLeader()).findFirst().orElseThrow();
    }

    private ApiServer follower() {
        return servers.stream().filter(s -> !s.node().isLeader()).findFirst().orElseThrow();
    }

    private Channel channel(ApiServer s, String token) {
        ManagedChannel c = ManagedChannelBuilder.forTarget(s.apiEndpoint()).usePlaintext().build();
        channels.add(c);
        return ClientInterceptors.intercept(c, BearerToken.interceptor(token));
    }

    /** Retries UNAVAILABLE: until the follower knows where the leader's API is. */
    private static <T> T retrying(java.util.function.Supplier<T> call) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).as("%s", e).isEqualTo(Status.Code.UNAVAILABLE);
                assertThat(System.nanoTime()).as("%s", e).isLessThan(deadline);
                Thread.sleep(50);
            }
        }
    }

    @Test
    void aClientWithATokenOnAFollowerGetsASlot() throws Exception {
        Channel ch = channel(follower(), clientToken);
        long session = retrying(() -> SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                .open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession());
        assertThat(retrying(() -> PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                .acquire(PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1).setKey("k").setWorkers(1)
                        .setMaxQueue(1).build())).getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
    }

    @Test
    void membersAskEachOtherWithTheClusterSecretInsteadOfAToken() throws Exception {
        ApiServer follower = follower();
        StatusResponse leaderStatus = follower.statusOf(leader().apiEndpoint(), 10_000).get(20, TimeUnit.SECONDS);
        assertThat(leaderStatus.getIsLeader()).isTrue();

        // A transfer asked of a follower runs on the leader: passed on with the cluster secret.
        ApiServer target = follower;
        Channel ch = channel(follower, adminToken);
        StatusResponse after = retrying(() -> AdminGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                .transferLeader(MemberRequest.newBuilder().setRaftAddress(target.node().options().endpoint()).build()));
        assertThat(after).isNotNull();
        TestWaits.await("the lead moved to " + target.apiEndpoint(), () -> target.node().isLeader());
        assertThat(target.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
    }
}
