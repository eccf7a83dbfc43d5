package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;

import dev.baton.api.internal.v1.ForwardGrpc;
import dev.baton.api.internal.v1.KeepAliveBatch;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.server.TestWaits;
import dev.baton.server.raft.BatonNode;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Forged leader-only commands, exactly as an attacker on the network would run them
 * against a default single node: a plain gRPC client (no secret, nothing but the public port) calls
 * the node-to-node forwarding link ({@code ForwardLink.Link}, which replaced the unary
 * {@code Forward.Propose} those reproductions used) with leader-only commands. Each must be refused and
 * change nothing. (Before the fix each one succeeded: the victim's slot went to someone else, the
 * limits locked everyone out, the address book pointed the cluster at the attacker.)
 */
class ForwardReproductionTest {
    private ApiServer server;
    private ManagedChannel channel;
    private long victim;

    @BeforeEach
    void start(@TempDir Path dir) throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        // The old constructor, as every embedded single node and "./baton server" without options.
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(60))).isPresent();
        channel = ManagedChannelBuilder.forTarget(server.apiEndpoint()).usePlaintext().build();
        var sessions = SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        victim = sessions.open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession();
        var reply = PoolsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .acquire(PoolAcquireRequest.newBuilder().setSession(victim).setRequestId(1).setKey("render")
                        .setWorkers(1).setMaxQueue(10).build());
        assertThat(reply.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        TestWaits.await("the node's own address in the address book", () -> !nodes().isEmpty());
    }

    @AfterEach
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private List<View.Node> nodes() {
        return server.node().readLocal(new Query.ListNodes());
    }

    private <R> R read(Query<R> q) throws Exception {
        return TestWaits.get(server.router().read(q));
    }

    /** Proposes on the forwarding link as an outsider would; returns the refusal (fails the test if it was accepted). */
    private io.grpc.Status forward(Command c) throws InterruptedException {
        RawLink.Outcome o = RawLink.send(channel, null, List.of(CommandCodec.encodeChecked(c)));
        if (!o.refused()) {
            throw new AssertionError("ForwardLink.Link accepted " + c + " from an outsider: " + o.answers());
        }
        assertThat(o.status().getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED);
        return o.status();
    }

    @Test
    void anOutsiderCannotExpireAnotherClientsSession() throws Exception {
        View.Session before = read(new Query.GetSession(victim));
        assertThat(before.slots()).hasSize(1);

        forward(new Command.ExpireSessions(List.of(victim)));

        View.Session after = read(new Query.GetSession(victim));
        assertThat(after).as("the victim's session lives on, holding its slot").isEqualTo(before);
        assertThat(read(new Query.GetPool("render")).holders()).hasSize(1);
    }

    @Test
    void anOutsiderCannotRewriteTheLimits() throws Exception {
        Limits before = read(new Query.GetLimits());
        Limits lockedOut = before.toBuilder().maxSessions(1).build();

        forward(new Command.SetLimits(lockedOut));

        assertThat(read(new Query.GetLimits())).isEqualTo(before);
        // And a second client can still open a session.
        assertThat(SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .open(OpenSessionRequest.newBuilder().build()).getSession()).isNotZero();
    }

    @Test
    void anOutsiderCannotAnnounceAFalseApiAddress() throws Exception {
        List<View.Node> before = read(new Query.ListNodes());
        String self = server.node().options().endpoint();

        forward(new Command.AnnounceNode(self, "n1", "203.0.113.66:7530"));
        forward(new Command.AnnounceNode("198.51.100.7:7533", "n2", "203.0.113.66:7530"));

        assertThat(read(new Query.ListNodes())).isEqualTo(before);
        assertThat(server.router().leaderApi()).contains(server.apiEndpoint());
    }

    @Test
    void anOutsiderCannotRenewLeases() {
        assertThatThrownBy(() -> ForwardGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .keepAlive(KeepAliveBatch.newBuilder().addSessions(victim).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED));
    }
}
