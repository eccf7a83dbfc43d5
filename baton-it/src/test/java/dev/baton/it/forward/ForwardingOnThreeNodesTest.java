package dev.baton.it.forward;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import dev.baton.api.internal.v1.ForwardLinkGrpc;
import dev.baton.api.internal.v1.LinkAnswers;
import dev.baton.api.internal.v1.LinkFrame;
import dev.baton.api.v1.GetPoolRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.it.Nodes;
import dev.baton.server.grpc.ApiErrors;
import dev.baton.server.node.ApiServer;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Writes sent to a follower of three real nodes, through the raw API, are forwarded to the leader:
 * many at once, a waiting acquire with its outcome, and the node-to-node calls refusing what they
 * cannot run; and the same over the HTTP/JSON API of a follower.
 */
class ForwardingOnThreeNodesTest {
    private static Nodes nodes;
    private static ApiServer leader;
    private static ApiServer follower;
    private static ManagedChannel toFollower;
    private static ManagedChannel toLeader;

    @BeforeAll
    static void start() throws Exception {
        nodes = Nodes.threeWithHttp();
        leader = nodes.awaitLeader(Duration.ofSeconds(60));
        follower = nodes.servers().stream().filter(s -> s != leader).findFirst().orElseThrow();
        toFollower = ManagedChannelBuilder.forTarget(follower.apiEndpoint()).usePlaintext().build();
        toLeader = ManagedChannelBuilder.forTarget(leader.apiEndpoint()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        toFollower.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        toLeader.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        nodes.close();
    }

    private static long open(ManagedChannel ch) {
        return SessionsGrpc.newBlockingStub(ch).open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession();
    }

    private static PoolAcquireRequest acquire(long session, long rid, String key, long timeoutMs) {
        return PoolAcquireRequest.newBuilder().setSession(session).setRequestId(rid).setKey(key).setWorkers(1)
                .setMaxQueue(10).setTimeoutMs(timeoutMs).build();
    }

    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newHttpClient();

    private static java.util.concurrent.CompletableFuture<java.net.http.HttpResponse<String>> postAsync(ApiServer node,
            String path, String json) {
        return HTTP.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://"
                        + node.httpDoor().endpoint() + path)).timeout(Duration.ofSeconds(90))
                .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(json))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    private static com.google.gson.JsonObject post(ApiServer node, String path, String json) throws Exception {
        java.net.http.HttpResponse<String> r = postAsync(node, path, json).get(90, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as("%s %s: %s", path, json, r.body()).isEqualTo(200);
        return com.google.gson.JsonParser.parseString(r.body()).getAsJsonObject();
    }

    @Test
    void httpJsonWritesOnAFollowerAreForwardedAndItsLongPollsAnswered() throws Exception {
        String holder = post(follower, "/v1/Sessions/Open", "{\"ttlMs\":\"60000\"}").get("session").getAsString();
        String waiter = post(leader, "/v1/Sessions/Open", "{\"ttlMs\":\"60000\"}").get("session").getAsString();
        assertThat(post(follower, "/v1/Pools/Acquire", "{\"session\":\"" + holder + "\",\"requestId\":\"1\","
                + "\"key\":\"http-fwd\",\"workers\":1,\"maxQueue\":5}").get("status").getAsString()).isEqualTo("POOL_LOCKED");
        var poll = postAsync(follower, "/v1/Pools/Acquire", "{\"session\":\"" + waiter + "\",\"requestId\":\"1\","
                + "\"key\":\"http-fwd\",\"workers\":1,\"maxQueue\":5,\"timeoutMs\":\"60000\"}");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (post(follower, "/v1/Pools/Get", "{\"key\":\"http-fwd\"}").get("waiting").getAsInt() != 1) {
            assertThat(System.nanoTime()).as("the waiter queued").isLessThan(deadline);
            Thread.sleep(20);
        }
        assertThat(poll).isNotDone();
        assertThat(post(leader, "/v1/Pools/Release", "{\"session\":\"" + holder + "\",\"requestId\":\"2\","
                + "\"key\":\"http-fwd\"}").get("status").getAsString()).isEqualTo("POOL_RELEASED");
        java.net.http.HttpResponse<String> granted = poll.get(60, TimeUnit.SECONDS);
        assertThat(granted.statusCode()).as(granted.body()).isEqualTo(200);
        assertThat(granted.body()).contains("\"POOL_LOCKED\"");
        assertThat(post(follower, "/v1/Sessions/Close", "{\"session\":\"" + waiter + "\",\"requestId\":\"2\"}")
                .get("session").getAsString()).isEqualTo(waiter);
    }

    @Test
    void manyWritesAtOnceOnAFollowerAreAllAnswered() throws Exception {
        long s = open(toFollower);
        PoolsGrpc.PoolsFutureStub pools = PoolsGrpc.newFutureStub(toFollower);
        List<ListenableFuture<PoolReply>> acquired = new ArrayList<>();
        for (int i = 1; i <= 40; i++) { // within the client window of 48 request ids
            acquired.add(pools.acquire(acquire(s, i, "many-" + i, 0)));
        }
        Set<Long> fences = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            PoolReply r = acquired.get(i).get(30, TimeUnit.SECONDS);
            assertThat(r.getKey()).isEqualTo("many-" + (i + 1));
            // a session holds at most maxSlotsPerSession slots; the rest are refused, and answered
            if (r.getStatus() == PoolStatus.POOL_LOCKED) {
                assertThat(fences.add(r.getFence())).isTrue();
            } else {
                assertThat(r.getStatus()).isEqualTo(PoolStatus.POOL_LOCK_HELD);
            }
        }
        assertThat(fences).isNotEmpty();
        // the same request id again, through the other node: the first answer, nothing done twice
        PoolReply again = PoolsGrpc.newBlockingStub(toLeader).acquire(acquire(s, 1, "many-1", 0));
        assertThat(again).isEqualTo(acquired.get(0).get());
    }

    @Test
    void aWaitingAcquireOnAFollowerGetsItsOutcomeWhenTheHolderReleases() throws Exception {
        long holder = open(toLeader);
        long waiter = open(toFollower);
        PoolReply held = PoolsGrpc.newBlockingStub(toLeader).acquire(acquire(holder, 1, "hot", 0));
        assertThat(held.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);

        ListenableFuture<PoolReply> waiting = PoolsGrpc.newFutureStub(toFollower).acquire(acquire(waiter, 1, "hot", 60_000));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (PoolsGrpc.newBlockingStub(toLeader).get(GetPoolRequest.newBuilder().setKey("hot").build()).getWaiting() < 1) {
            assertThat(System.nanoTime() - deadline).as("the waiter queued within 30 s").isNegative();
            Thread.sleep(10);
        }
        PoolsGrpc.newBlockingStub(toLeader).release(PoolReleaseRequest.newBuilder().setSession(holder).setRequestId(2)
                .setKey("hot").setFence(held.getFence()).build());

        PoolReply got = waiting.get(30, TimeUnit.SECONDS);
        assertThat(got.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        assertThat(got.getFence()).isGreaterThan(held.getFence());
    }

    /**
     * One frame on the members-only forwarding link, opened by hand: the first thing that comes back,
     * either the frame's answers or the error that ended the stream.
     */
    private static Object link(ManagedChannel to, boolean withSecret, byte[]... commands) throws Exception {
        var stub = ForwardLinkGrpc.newStub(to);
        if (withSecret) {
            stub = stub.withInterceptors(Nodes.SECRET.clientInterceptor());
        }
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        StreamObserver<LinkFrame> frames = stub.link(new StreamObserver<>() {
            @Override
            public void onNext(LinkAnswers a) {
                events.add(a);
            }

            @Override
            public void onError(Throwable t) {
                events.add(t);
            }

            @Override
            public void onCompleted() {
                events.add(Status.OK);
            }
        });
        LinkFrame.Builder frame = LinkFrame.newBuilder();
        for (byte[] c : commands) {
            frame.addCommands(ByteString.copyFrom(c));
        }
        frames.onNext(frame.build());
        try {
            Object first = events.poll(60, TimeUnit.SECONDS);
            assertThat(first).as("an answer or the end of the stream within 60 s").isNotNull();
            return first;
        } finally {
            frames.onError(Status.CANCELLED.asRuntimeException());
        }
    }

    @Test
    void theLeaderRefusesUndecodableForwardedCommandsAndAFollowerRefusesForwardedOnes() throws Exception {
        // The link is members-only: the nodes' cluster secret goes with every call.
        Object refused = link(toLeader, true, "not a command".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                CommandCodec.encodeChecked(new Command.ExpireWaits()));
        assertThat(refused).isInstanceOfSatisfying(LinkAnswers.class, a -> {
            assertThat(a.getAnswersList()).extracting(x -> Status.fromCodeValue(x.getError().getCode()).getCode())
                    .as("undecodable, then not a client command (only those are forwarded, even between members)")
                    .containsExactly(Status.Code.INVALID_ARGUMENT, Status.Code.PERMISSION_DENIED);
            assertThat(a.getAnswers(0).getError().getBatonCode()).isEqualTo("MALFORMED");
        });

        // a forwarded write is never forwarded again: the follower names the leader instead
        byte[] open = CommandCodec.encodeChecked(new Command.OpenSession(null, 10_000));
        assertThat(link(toFollower, true, open)).isInstanceOfSatisfying(Throwable.class, t -> {
            assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(Status.trailersFromThrowable(t).get(ApiErrors.LEADER_KEY)).isEqualTo(leader.apiEndpoint());
        });

        // and without the secret nobody gets that far
        assertThat(link(toLeader, false, open)).isInstanceOfSatisfying(Throwable.class,
                t -> assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    }

    @Test
    void everyFollowerIsInTheAddressBookThroughTheLeader() throws Exception {
        // Followers cannot propose the address book; they ask the leader (Forward.Announce).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        List<String> expected = nodes.endpoints().stream().sorted().toList();
        List<String> book = List.of();
        while (System.nanoTime() < deadline) {
            book = leader.node().readLocal(new dev.baton.core.command.Query.ListNodes()).stream()
                    .map(n -> n.apiEndpoint()).sorted().toList();
            if (book.equals(expected)) {
                break;
            }
            Thread.sleep(20);
        }
        assertThat(book).isEqualTo(expected);
    }
}
