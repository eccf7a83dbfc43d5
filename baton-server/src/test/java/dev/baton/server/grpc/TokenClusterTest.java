package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;

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
 * cluster secret instead of a token. Tenants: a token limited to a key prefix cannot touch another
 * tenant's keys, and a client token cannot use, end, keep alive, look at or list another caller's
 * session, also when it was opened through another node a moment ago.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenClusterTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("the-shared-cluster-secret-0123456789");
    private final String clientToken = AuthTokens.newToken();
    private final String adminToken = AuthTokens.newToken();
    private final String tenantAToken = AuthTokens.newToken();
    private final String tenantBToken = AuthTokens.newToken();
    private final List<ApiServer> servers = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        Path root = Files.createTempDirectory("baton-token-cluster");
        Path tokens = root.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(clientToken, "app", "client") + "\n"
                + AuthTokens.fileLine(adminToken, "ops", "admin,client") + "\n"
                + AuthTokens.fileLine(tenantAToken, "tenant-a", "client", "a:") + "\n"
                + AuthTokens.fileLine(tenantBToken, "tenant-b", "client", "b:") + "\n");
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

    private static SessionsGrpc.SessionsBlockingStub sessions(Channel ch) {
        return SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static PoolsGrpc.PoolsBlockingStub pools(Channel ch) {
        return PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static Status.Code refusal(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
        throw new AssertionError("the call was not refused");
    }

    /** What the leader has committed, read linearizably on the leader itself (no token involved). */
    private <R> R committed(dev.baton.core.command.Query<R> q) throws Exception {
        return leader().node().read(q).get(30, TimeUnit.SECONDS);
    }

    @Test
    void aTokenLimitedToAPrefixCannotTouchAnotherTenantsKeysAndChangesNothing() throws Exception {
        Channel a = channel(follower(), tenantAToken);
        long session = retrying(() -> sessions(a).open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession());
        PoolAcquireRequest other = PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1).setKey("b:x")
                .setWorkers(1).setMaxQueue(1).build();
        assertThat(refusal(() -> pools(a).acquire(other))).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(committed(new dev.baton.core.command.Query.GetPool("b:x"))).as("b:x untouched").isNull();
        assertThat(refusal(() -> pools(a).get(dev.baton.api.v1.GetPoolRequest.newBuilder().setKey("b:x").build())))
                .isEqualTo(Status.Code.PERMISSION_DENIED);

        PoolAcquireRequest own = other.toBuilder().setRequestId(2).setKey("a:x").build();
        assertThat(retrying(() -> pools(a).acquire(own)).getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        assertThat(committed(new dev.baton.core.command.Query.GetPool("a:x")).holders()).hasSize(1);
        assertThat(servers.stream().mapToDouble(n -> n.metrics().registry().find(ApiServer.AUTH_REFUSED_METRIC)
                .tag("port", "api").tag("reason", "outside_key_prefixes").functionCounter().count()).sum())
                .as("baton_auth_refused_total{reason=outside_key_prefixes}").isGreaterThanOrEqualTo(2);
    }

    @Test
    void aClientTokenActsOnlyOnItsOwnSessions() throws Exception {
        List<ApiServer> followers = servers.stream().filter(s -> !s.node().isLeader()).toList();
        Channel owner = channel(followers.get(0), tenantAToken);
        long session = retrying(() -> sessions(owner).open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build())
                .getSession());
        // At once through the other follower, which may not have applied the open yet: the owner may.
        Channel ownerElsewhere = channel(followers.get(1), tenantAToken);
        PoolAcquireRequest acquire = PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1).setKey("a:own")
                .setWorkers(1).setMaxQueue(1).build();
        assertThat(retrying(() -> pools(ownerElsewhere).acquire(acquire)).getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);

        for (ApiServer node : servers) {
            Channel intruder = channel(node, tenantBToken);
            assertThat(refusal(() -> pools(intruder).release(dev.baton.api.v1.PoolReleaseRequest.newBuilder()
                    .setSession(session).setRequestId(2).setKey("a:own").build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(refusal(() -> sessions(intruder).close(dev.baton.api.v1.CloseSessionRequest.newBuilder()
                    .setSession(session).setRequestId(3).build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(refusal(() -> sessions(intruder).get(dev.baton.api.v1.GetSessionRequest.newBuilder()
                    .setSession(session).build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(sessions(intruder).list(dev.baton.api.v1.ListSessionsRequest.getDefaultInstance()).getSessionsList())
                    .extracting(dev.baton.api.v1.SessionLease::getSession).doesNotContain(session);
            // A keep-alive stream for someone else's session is refused before it renews the lease.
            java.util.concurrent.CompletableFuture<Status> ended = new java.util.concurrent.CompletableFuture<>();
            io.grpc.stub.StreamObserver<dev.baton.api.v1.KeepAliveRequest> keepAlive = SessionsGrpc.newStub(intruder)
                    .keepAlive(new io.grpc.stub.StreamObserver<>() {
                        @Override
                        public void onNext(dev.baton.api.v1.SessionEvent e) {
                            ended.complete(Status.OK); // an ack: the stream was accepted
                        }

                        @Override
                        public void onError(Throwable t) {
                            ended.complete(Status.fromThrowable(t));
                        }

                        @Override
                        public void onCompleted() {
                            ended.complete(Status.OK);
                        }
                    });
            keepAlive.onNext(dev.baton.api.v1.KeepAliveRequest.newBuilder().setSession(session).build());
            assertThat(ended.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            keepAlive.onCompleted();
        }
        assertThat(servers.stream().mapToDouble(n -> n.metrics().registry().find(ApiServer.AUTH_REFUSED_METRIC)
                .tag("port", "api").tag("reason", "not_session_owner").functionCounter().count()).sum())
                .as("baton_auth_refused_total{reason=not_session_owner}: close, get and keep-alive on each node (the"
                        + " release named a key outside tenant-b's prefix: refused for that first)").isEqualTo(3 * 3);
        dev.baton.core.command.View.Session s = committed(new dev.baton.core.command.Query.GetSession(session));
        assertThat(s).as("the session lives on").isNotNull();
        assertThat(s.token()).startsWith("tenant-a/");
        assertThat(s.slots()).hasSize(1);
        assertThat(sessions(owner).list(dev.baton.api.v1.ListSessionsRequest.getDefaultInstance()).getSessionsList())
                .extracting(dev.baton.api.v1.SessionLease::getSession).contains(session);

        // An admin may end any session.
        Channel ops = channel(leader(), adminToken);
        sessions(ops).close(dev.baton.api.v1.CloseSessionRequest.newBuilder().setSession(session).build());
        assertThat(committed(new dev.baton.core.command.Query.GetSession(session))).isNull();
    }
}
