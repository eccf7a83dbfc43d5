package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;
import dev.baton.server.route.Router;

import com.google.protobuf.ByteString;
import dev.baton.api.internal.v1.AnnounceRequest;
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
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.core.util.BinaryReader;
import dev.baton.server.TestWaits;
import dev.baton.server.metrics.BatonMetrics;
import dev.baton.server.http.HttpDoor;
import dev.baton.server.line.LineClient;
import dev.baton.server.line.LineDoor;
import dev.baton.server.raft.BatonNode;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Only client commands come from outside. One real node with a configured cluster secret, its
 * PoolCounter and HTTP ports; a victim client holds a pool slot. Every leader-only command is sent
 * through every public entry point: the forwarding link ({@code ForwardLink.Link}) without the
 * secret, with a wrong one and with the right one (a member may still not propose a leader-only
 * command), {@code Forward.KeepAlive} and {@code Forward.Announce}, raw bytes on the PoolCounter
 * port and on HTTP. Each is refused and nothing changes: the victim's session, its slot, the limits
 * and the address book are exactly as before.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LeaderOnlyCommandsTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("the-right-cluster-secret-0123456789");
    private static final byte[] WRONG = "a-wrong-cluster-secret-0123456789".getBytes(StandardCharsets.UTF_8);

    private ApiServer server;
    private ManagedChannel channel;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private long victim;

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-leader-only");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        HttpDoor.Config h = new HttpDoor.Config("127.0.0.1", 0, 2, BatonMetrics.Limits.DEFAULTS, 100, 600);
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withLine(LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0)).withHttp(h)
                .withClusterSecret(SECRET)).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(60))).isPresent();
        channel = ManagedChannelBuilder.forTarget(server.apiEndpoint()).usePlaintext().build();
        victim = SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .open(OpenSessionRequest.newBuilder().setTtlMs(600_000).build()).getSession();
        var reply = PoolsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .acquire(PoolAcquireRequest.newBuilder().setSession(victim).setRequestId(1).setKey("render")
                        .setWorkers(1).setMaxQueue(10).build());
        assertThat(reply.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        TestWaits.await("the node's own address in the address book",
                () -> !server.node().readLocal(new Query.ListNodes()).isEmpty());
        // a new leader refuses forwarded keep-alives (UNAVAILABLE) until it has loaded the leases
        TestWaits.await("the leader tracks the session leases", () -> server.leases().tracking());
    }

    @AfterAll
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    /** Everything an attack could change, read linearizably. */
    private record State(View.Session victim, View.Pool pool, Limits limits, List<View.Node> nodes) {}

    private State state() throws Exception {
        return new State(TestWaits.get(server.router().read(new Query.GetSession(victim))),
                TestWaits.get(server.router().read(new Query.GetPool("render"))),
                TestWaits.get(server.router().read(new Query.GetLimits())),
                TestWaits.get(server.router().read(new Query.ListNodes())));
    }

    /** Every command only the leader may issue, aimed where it would hurt most. */
    private Map<String, Command.LeaderCommand> leaderOnly() {
        Limits current = server.node().readLocal(new Query.GetLimits());
        Map<String, Command.LeaderCommand> m = new LinkedHashMap<>();
        m.put("expire the victim's session", new Command.ExpireSessions(List.of(victim)));
        m.put("SetLimits maxSessions=1", new Command.SetLimits(current.toBuilder().maxSessions(1).build()));
        m.put("a false API address for the leader",
                new Command.AnnounceNode(server.node().options().endpoint(), "n1", "203.0.113.66:7530"));
        m.put("a false member", new Command.AnnounceNode("198.51.100.7:7533", "evil", "203.0.113.66:7530"));
        m.put("expire waits", new Command.ExpireWaits());
        return m;
    }

    private enum Secret { NONE, WRONG, RIGHT }

    private ForwardGrpc.ForwardBlockingStub forward(Secret s) {
        var stub = ForwardGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        return switch (s) {
            case NONE -> stub;
            case WRONG -> stub.withInterceptors(header(WRONG));
            case RIGHT -> stub.withInterceptors(SECRET.clientInterceptor());
        };
    }

    private static ClientInterceptor header(byte[] secret) {
        Metadata m = new Metadata();
        m.put(ClusterSecret.HEADER, secret);
        return MetadataUtils.newAttachHeadersInterceptor(m);
    }

    private static Status.Code refusal(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
        throw new AssertionError("accepted");
    }

    private double refusedMetric(String reason) {
        return server.metrics().registry().get(ApiServer.FORWARD_REFUSED_METRIC).tag("reason", reason)
                .functionCounter().count();
    }

    private ClientInterceptor interceptor(Secret s) {
        return switch (s) {
            case NONE -> null;
            case WRONG -> header(WRONG);
            case RIGHT -> SECRET.clientInterceptor();
        };
    }

    @Test
    void everyLeaderOnlyCommandIsRefusedOnTheLinkWithOrWithoutTheSecret() throws Exception {
        State before = state();
        double unauthenticated = refusedMetric("unauthenticated");
        double leaderOnly = refusedMetric("leader_only_command");
        List<byte[]> bytes = leaderOnly().values().stream().map(c -> CommandCodec.encodeChecked(c)).toList();
        for (Secret s : Secret.values()) {
            RawLink.Outcome o = RawLink.send(channel, interceptor(s), bytes);
            if (s == Secret.RIGHT) {
                // A member may not propose a leader-only command either: each is refused on its own.
                assertThat(o.refused()).isFalse();
                assertThat(o.answers()).extracting(RawLink::kind).as("secret %s", s)
                        .containsOnly("PERMISSION_DENIED/PERMISSION_DENIED").hasSize(bytes.size());
            } else {
                assertThat(o.status().getCode()).as("secret %s", s).isEqualTo(Status.Code.UNAUTHENTICATED);
                assertThat(o.answers()).isEmpty();
            }
        }
        assertThat(state()).isEqualTo(before);
        assertThat(refusedMetric("unauthenticated") - unauthenticated).isEqualTo(2.0);
        assertThat(refusedMetric("leader_only_command") - leaderOnly).isEqualTo(bytes.size());
    }

    @Test
    void theForwardingLinkRefusesLeaderOnlyCommandsOneByOneAndStrangersAltogether() throws Exception {
        State before = state();
        double leaderOnly = refusedMetric("leader_only_command");
        Map<String, Command.LeaderCommand> commands = leaderOnly();
        for (Secret s : Secret.values()) {
            ClientInterceptor secret = switch (s) {
                case NONE -> header(new byte[0]);
                case WRONG -> header(WRONG);
                case RIGHT -> SECRET.clientInterceptor();
            };
            ForwardLink link = new ForwardLink(server.node().options().endpoint(), server.apiEndpoint(), channel,
                    secret, ForwardLink.Limits.defaults(), server.node()::whenApplied,
                    new java.util.concurrent.atomic.LongAdder(), new java.util.concurrent.atomic.LongAdder(), l -> { });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            // One frame, in order: every leader-only command, garbage, and one client command.
            List<java.util.concurrent.CompletableFuture<dev.baton.core.command.Result>> answers = new ArrayList<>();
            for (Command.LeaderCommand c : commands.values()) {
                answers.add(link.submit(CommandCodec.encodeChecked(c), false, null, deadline, deadline));
            }
            answers.add(link.submit("not a command".getBytes(StandardCharsets.UTF_8), false, null, deadline, deadline));
            answers.add(link.submit(CommandCodec.encodeChecked(new Command.OpenSession(null, 10_000)), false, null,
                    deadline, deadline));
            List<String> outcomes = new ArrayList<>();
            for (var f : answers) {
                try {
                    outcomes.add(f.get(60, TimeUnit.SECONDS).getClass().getSimpleName());
                } catch (java.util.concurrent.ExecutionException e) {
                    StatusRuntimeException st = (StatusRuntimeException) e.getCause();
                    outcomes.add(st.getStatus().getCode() + "/" + st.getTrailers().get(ApiErrors.ERROR_KEY));
                }
            }
            List<String> expected = new ArrayList<>();
            if (s == Secret.RIGHT) {
                commands.forEach((k, v) -> expected.add("PERMISSION_DENIED/PERMISSION_DENIED"));
                expected.add("INVALID_ARGUMENT/MALFORMED");
                expected.add("SessionOpened");
            } else {
                // The node refuses the whole link: this node hears "cannot forward: the cluster secret".
                for (int i = 0; i < commands.size() + 2; i++) {
                    expected.add("UNAVAILABLE/UNAVAILABLE");
                }
            }
            assertThat(outcomes).as("secret %s", s).isEqualTo(expected);
            link.fail(ApiErrors.unavailable("test over", null));
        }
        assertThat(state()).isEqualTo(before);
        assertThat(refusedMetric("leader_only_command") - leaderOnly).isEqualTo(commands.size());
    }

    @Test
    void theRefusalSaysWhy() throws Exception {
        List<byte[]> bytes = List.of(CommandCodec.encodeChecked(new Command.ExpireSessions(List.of(victim))));
        RawLink.Outcome member = RawLink.send(channel, interceptor(Secret.RIGHT), bytes);
        assertThat(member.answers()).singleElement().satisfies(a -> assertThat(a.getError().getDescription())
                .contains("ExpireSessions").contains("leader"));
        RawLink.Outcome stranger = RawLink.send(channel, interceptor(Secret.WRONG), bytes);
        assertThat(stranger.status().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(stranger.status().getDescription()).contains("cluster secret");
    }

    @Test
    void garbageOnTheLinkIsRefusedAndChangesNothing() throws Exception {
        State before = state();
        Random random = new Random(15);
        List<byte[]> garbage = new ArrayList<>(List.of(new byte[0], new byte[] {(byte) 0xff}, new byte[] {0x7f, 0, 0}));
        for (int i = 0; i < 50; i++) {
            byte[] b = new byte[1 + random.nextInt(64)];
            random.nextBytes(b);
            garbage.add(b);
        }
        assertThat(RawLink.send(channel, interceptor(Secret.NONE), garbage).status().getCode())
                .isEqualTo(Status.Code.UNAUTHENTICATED);
        // With the secret: each is either undecodable, or (if the random bytes happen to decode) not a
        // leader-only command that got through.
        RawLink.Outcome o = RawLink.send(channel, interceptor(Secret.RIGHT), garbage);
        assertThat(o.answers()).hasSize(garbage.size());
        for (int i = 0; i < garbage.size(); i++) {
            var a = o.answers().get(i);
            if (a.hasError()) {
                assertThat(Status.fromCodeValue(a.getError().getCode()).getCode())
                        .isIn(Status.Code.INVALID_ARGUMENT, Status.Code.PERMISSION_DENIED);
            } else {
                assertThat(CommandCodec.decode(new BinaryReader(garbage.get(i)))).isInstanceOf(Command.ClientCommand.class);
            }
        }
        assertThat(state().victim()).isEqualTo(before.victim());
        assertThat(state().limits()).isEqualTo(before.limits());
        assertThat(state().nodes()).isEqualTo(before.nodes());
    }

    @Test
    void keepAliveAndAnnounceAreForMembersOnly() throws Exception {
        State before = state();
        KeepAliveBatch batch = KeepAliveBatch.newBuilder().addSessions(victim).build();
        assertThat(refusal(() -> forward(Secret.NONE).keepAlive(batch))).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(refusal(() -> forward(Secret.WRONG).keepAlive(batch))).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(forward(Secret.RIGHT).keepAlive(batch).getUnknownList()).isEmpty(); // a member may renew

        String self = server.node().options().endpoint();
        AnnounceRequest falseLeader = AnnounceRequest.newBuilder().setRaftAddress(self).setNodeId("n1")
                .setApiAddress("203.0.113.66:7530").build();
        AnnounceRequest nonMember = AnnounceRequest.newBuilder().setRaftAddress("198.51.100.7:7533")
                .setNodeId("evil").setApiAddress("203.0.113.66:7530").build();
        for (AnnounceRequest a : List.of(falseLeader, nonMember)) {
            assertThat(refusal(() -> forward(Secret.NONE).announce(a))).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(refusal(() -> forward(Secret.WRONG).announce(a))).isEqualTo(Status.Code.UNAUTHENTICATED);
            // Even a member cannot rename the leader or announce a node that is not in the configuration.
            assertThat(refusal(() -> forward(Secret.RIGHT).announce(a))).isEqualTo(Status.Code.FAILED_PRECONDITION);
        }
        assertThat(state()).isEqualTo(before);
    }

    @Test
    void aMemberCanStillForwardClientCommands() throws Exception {
        byte[] open = CommandCodec.encodeChecked(new Command.OpenSession(null, 10_000));
        RawLink.Outcome opened = RawLink.send(channel, interceptor(Secret.RIGHT), List.of(open));
        Result r = ForwardLink.decodeResult(opened.answers().get(0).getResult().toByteArray());
        assertThat(r).isInstanceOf(Result.SessionOpened.class);
        long s = ((Result.SessionOpened) r).session();
        byte[] close = CommandCodec.encodeChecked(new Command.CloseSession(s, 1));
        RawLink.Outcome closed = RawLink.send(channel, interceptor(Secret.RIGHT), List.of(close));
        assertThat(ForwardLink.decodeResult(closed.answers().get(0).getResult().toByteArray()))
                .isInstanceOf(Result.SessionClosed.class);
        // ... but not without the secret, not even a client command.
        assertThat(RawLink.send(channel, interceptor(Secret.NONE), List.of(open)).status().getCode())
                .isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void leaderOnlyCommandsSentToThePoolCounterPortAreRefused() throws Exception {
        State before = state();
        List<byte[]> attacks = new ArrayList<>();
        for (Command.LeaderCommand c : leaderOnly().values()) {
            attacks.add(CommandCodec.encodeChecked(c));
        }
        for (String line : List.of("EXPIRE " + victim, "EXPIRESESSIONS " + victim, "SETLIMITS maxSessions=1",
                "SET_LIMITS 1", "ANNOUNCE n1 203.0.113.66:7530", "ANNOUNCENODE " + server.node().options().endpoint()
                        + " n1 203.0.113.66:7530", "RELEASE " + victim, "\u0000\u0001\u0002")) {
            attacks.add(line.getBytes(StandardCharsets.UTF_8));
        }
        for (byte[] attack : attacks) {
            try (LineClient c = new LineClient(server.lineDoor().port())) {
                byte[] withNewline = new byte[attack.length + 1];
                System.arraycopy(attack, 0, withNewline, 0, attack.length);
                withNewline[attack.length] = '\n';
                c.sendBytes(withNewline);
                String reply;
                try {
                    reply = c.read();
                } catch (IllegalStateException closed) {
                    reply = "(closed) " + closed.getMessage();
                }
                // RELEASE on a fresh connection releases nothing of anyone else's: its own session has no slot.
                assertThat(reply).as("reply to %s", new String(attack, StandardCharsets.ISO_8859_1))
                        .matches("(ERROR|NOT_LOCKED|\\(closed\\)).*");
            }
        }
        assertThat(state().victim()).isEqualTo(before.victim());
        assertThat(state().pool()).isEqualTo(before.pool());
        assertThat(state().limits()).isEqualTo(before.limits());
        assertThat(state().nodes()).isEqualTo(before.nodes());
    }

    @Test
    void leaderOnlyCommandsSentToTheHttpPortAreRefused() throws Exception {
        State before = state();
        String base = "http://127.0.0.1:" + server.httpDoor().port();
        List<String> paths = List.of("/api/sessions/" + Long.toUnsignedString(victim) + "/expire", "/api/limits",
                "/api/nodes", "/api/cluster", "/api/commands", "/api/forward", "/baton.internal.v1.ForwardLink/Link",
                "/api/sessions/" + Long.toUnsignedString(victim));
        Iterator<Command.LeaderCommand> commands = leaderOnly().values().iterator();
        for (String path : paths) {
            byte[] body = CommandCodec.encodeChecked(commands.hasNext() ? commands.next()
                    : new Command.ExpireSessions(List.of(victim)));
            for (String method : List.of("POST", "PUT", "DELETE")) {
                HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                        .header("Content-Type", "application/octet-stream")
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(body)).build();
                HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                assertThat(resp.statusCode()).as("%s %s", method, path).isGreaterThanOrEqualTo(400);
            }
        }
        assertThat(state()).isEqualTo(before);
    }
}
