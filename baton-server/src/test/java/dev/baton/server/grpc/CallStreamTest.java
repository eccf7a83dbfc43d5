package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;

import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolSlot;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.SessionInfo;
import dev.baton.client.AccessDeniedException;
import dev.baton.client.BatonClient;
import dev.baton.server.TestWaits;
import dev.baton.server.raft.BatonNode;
import io.grpc.Status;
import io.micrometer.core.instrument.FunctionCounter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Java client's writes over {@code Calls/Stream} against real nodes in this JVM: many threads
 * through one client, a waiting acquire granted when the holder releases, a call in flight on a node
 * that is stopped (retried elsewhere with the same request id), a refused token (the same error
 * as a unary call); and the context a call runs in: its stream's caller, nothing of it kept once it
 * ended, cancelled when its stream is.
 */
class CallStreamTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("the-call-stream-cluster-secret-0123456789");
    private final List<ApiServer> servers = new ArrayList<>();
    private final List<BatonClient> clients = new ArrayList<>();

    @AfterEach
    void stop() {
        for (BatonClient c : clients) {
            c.close();
        }
        for (ApiServer s : servers) {
            s.close();
        }
    }

    private ApiServer single(UnaryOperator<ApiServer.Config> config) throws Exception {
        Path dir = Files.createTempDirectory("baton-call-stream");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        ApiServer s = new ApiServer(config.apply(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())))
                .start();
        servers.add(s);
        assertThat(s.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        return s;
    }

    private List<ApiServer> cluster() throws Exception {
        Path root = Files.createTempDirectory("baton-call-stream-cluster");
        List<Integer> ports = List.of(TestWaits.freePort(), TestWaits.freePort(), TestWaits.freePort());
        List<String> peers = ports.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.toList());
        for (int i = 0; i < 3; i++) {
            BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", root.resolve("n" + (i + 1)),
                    "127.0.0.1", ports.get(i), peers, 1000, 3600, true);
            servers.add(new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity(),
                    false, null, null, SECRET)).start());
        }
        TestWaits.await("a leader", () -> servers.stream().anyMatch(s -> s.node().isLeader()));
        return List.copyOf(servers);
    }

    private BatonClient client(BatonClient.Builder b) {
        BatonClient c = b.requestTimeout(Duration.ofSeconds(10)).retryFor(Duration.ofSeconds(60)).build();
        clients.add(c);
        return c;
    }

    private static double counter(ApiServer s, String name) {
        FunctionCounter c = s.metrics().registry().find(name).functionCounter();
        return c == null ? -1 : c.count();
    }

    @Test
    void manyThreadsShareOneStreamAndEachGetsItsOwnAnswers() throws Exception {
        ApiServer s = single(UnaryOperator.identity());
        BatonClient c = client(BatonClient.builder().endpoints(s.apiEndpoint()));
        int threads = 16;
        int rounds = 100;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String name = "many-" + t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        var granted = c.locks().acquire(name, Duration.ZERO);
                        assertThat(granted.status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);
                        assertThat(granted.name()).isEqualTo(name);
                        var released = c.locks().release(name, granted.fence());
                        assertThat(released.status()).isEqualTo(dev.baton.client.LockStatus.UNLOCKED);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(5, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        // Every write went over the stream, and one stream carried them.
        assertThat(counter(s, "baton.api.stream_calls")).isGreaterThanOrEqualTo(2.0 * threads * rounds);
        assertThat(counter(s, "baton.api.call_streams.opened")).isEqualTo(1.0);
        assertThat(c.sessions().get().locksHeld()).isEmpty();
    }

    @Test
    void aWaitingAcquireOnTheStreamIsGrantedWhenTheHolderReleases() throws Exception {
        ApiServer s = single(UnaryOperator.identity());
        BatonClient holder = client(BatonClient.builder().endpoints(s.apiEndpoint()));
        BatonClient waiter = client(BatonClient.builder().endpoints(s.apiEndpoint()));

        var held = holder.pools().acquire("w", 1, 5, Duration.ZERO, false);
        assertThat(held.status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        var waiting = waiter.pools().acquireAsync("w", 1, 5, Duration.ofSeconds(60), false);
        TestWaits.await("the waiter queued", () -> holder.pools().get("w").waiting() == 1);
        assertThat(waiting).isNotDone();

        var lock = holder.locks().acquire("l", Duration.ZERO);
        assertThat(lock.status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);
        var lockWaiting = waiter.locks().acquireAsync("l", Duration.ofSeconds(60));
        TestWaits.await("the lock waiter queued", () -> holder.locks().get("l").waiters().size() == 1);

        // Other calls on the waiter's stream are answered meanwhile.
        assertThat(waiter.locks().acquire("other", Duration.ZERO).status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);

        assertThat(holder.pools().release("w").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        var granted = waiting.get(30, TimeUnit.SECONDS);
        assertThat(granted.status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        assertThat(granted.fence()).isGreaterThan(held.fence());

        assertThat(holder.locks().release("l").status()).isEqualTo(dev.baton.client.LockStatus.UNLOCKED);
        assertThat(lockWaiting.get(30, TimeUnit.SECONDS).status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);
        assertThat(counter(s, "baton.api.call_streams.opened")).isEqualTo(2.0);
    }

    @Test
    void aCallInFlightOnAStoppedNodeIsRetriedElsewhereWithTheSameRequestId() throws Exception {
        List<ApiServer> nodes = cluster();
        ApiServer leader = nodes.stream().filter(n -> n.node().isLeader()).findFirst().orElseThrow();
        ApiServer doomed = nodes.stream().filter(n -> n != leader).findFirst().orElseThrow();
        List<String> endpoints = new ArrayList<>();
        endpoints.add(doomed.apiEndpoint()); // the waiter's first node, a follower
        nodes.stream().filter(n -> n != doomed).forEach(n -> endpoints.add(n.apiEndpoint()));

        BatonClient holder = client(BatonClient.builder().endpoints(leader.apiEndpoint()));
        assertThat(holder.pools().acquire("f", 1, 5, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        BatonClient waiter = client(BatonClient.builder().endpoints(endpoints));
        var waiting = waiter.pools().acquireAsync("f", 1, 5, Duration.ofSeconds(120), false);
        AtomicReference<Long> waitRequestId = new AtomicReference<>();
        TestWaits.await("the waiter queued", () -> {
            var waiters = holder.pools().get("f").waiters();
            if (waiters.size() == 1) {
                waitRequestId.set(waiters.get(0).requestId());
                return true;
            }
            return false;
        });
        assertThat(counter(doomed, "baton.api.stream_calls")).isGreaterThanOrEqualTo(1.0);

        doomed.close(); // the waiter's stream breaks with its acquire in flight
        servers.remove(doomed);
        TestWaits.await("the others still lead", () -> servers.stream().anyMatch(n -> n.node().isLeader()));
        // Retried on another node with the same request id: still one wait, the same one.
        // (The holder's acquire was one stream call; the waiter's retry is another.)
        TestWaits.await("the retry arrived elsewhere", () -> servers.stream()
                .mapToDouble(n -> counter(n, "baton.api.stream_calls")).sum() >= 2.0);
        assertThat(holder.pools().get("f").waiters()).singleElement()
                .satisfies(w -> assertThat(w.requestId()).isEqualTo(waitRequestId.get()));
        assertThat(waiting).isNotDone();

        assertThat(holder.pools().release("f").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        assertThat(waiting.get(60, TimeUnit.SECONDS).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        var info = waiter.sessions().get();
        assertThat(info.poolSlots()).singleElement().satisfies((dev.baton.client.PoolSlot slot) -> {
            assertThat(slot.state()).isEqualTo("HELD");
            assertThat(slot.requestId()).isEqualTo(waitRequestId.get());
        });
    }

    @Test
    void aRefusedTokenGivesTheSameErrorOverTheStreamAsUnary() throws Exception {
        Path dir = Files.createTempDirectory("baton-call-stream-tokens");
        String good = AuthTokens.newToken();
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(good, "app", "client") + "\n");
        ApiServer s = single(cfg -> cfg.withAuth(AuthTokens.load(tokens, 10_000)));
        List<AccessDeniedException> refusals = new ArrayList<>();
        for (boolean stream : List.of(true, false)) {
            AtomicReference<String> token = new AtomicReference<>(good);
            BatonClient c = client(BatonClient.builder().endpoints(s.apiEndpoint()).authToken(token::get)
                    .callStream(stream));
            token.set(AuthTokens.newToken()); // unknown to the node; the stream opens with the first write
            assertThatThrownBy(() -> c.pools().acquire("t", 1, 1, Duration.ZERO, false))
                    .isInstanceOfSatisfying(AccessDeniedException.class, refusals::add);
            token.set(good); // the next stream opens with the good token again
            assertThat(c.pools().acquire("t-" + stream, 1, 1, Duration.ZERO, false).status())
                    .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        }
        assertThat(refusals).hasSize(2);
        assertThat(refusals.get(0).statusCode()).isEqualTo(Status.Code.UNAUTHENTICATED)
                .isEqualTo(refusals.get(1).statusCode());
        assertThat(refusals.get(0).errorCode()).isEqualTo("UNAUTHENTICATED").isEqualTo(refusals.get(1).errorCode());
        assertThat(refusals.get(0).getMessage()).isEqualTo(refusals.get(1).getMessage());
        // The refused stream never reached the service; the good one did (the unary client has none).
        assertThat(counter(s, "baton.api.call_streams.opened")).isEqualTo(1.0);
    }

    /** A session of 60 s, opened by a unary call. */
    private static long openSession(io.grpc.Channel channel) {
        return dev.baton.api.v1.SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .open(dev.baton.api.v1.OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession();
    }

    @Test
    void theRawStreamAnswersEachCallByIdAndHonoursCancellationsAndDeadlines() throws Exception {
        ApiServer s = single(UnaryOperator.identity());
        io.grpc.ManagedChannel channel = io.grpc.ManagedChannelBuilder.forTarget(s.apiEndpoint()).usePlaintext().build();
        try {
            long holder = openSession(channel);
            long waiter = openSession(channel);
            long other = openSession(channel);
            java.util.concurrent.BlockingQueue<dev.baton.api.v1.CallReply> replies = new java.util.concurrent.LinkedBlockingQueue<>();
            io.grpc.stub.StreamObserver<dev.baton.api.v1.CallRequest> calls = dev.baton.api.v1.CallsGrpc.newStub(channel)
                    .stream(new io.grpc.stub.StreamObserver<>() {
                        @Override
                        public void onNext(dev.baton.api.v1.CallReply r) {
                            replies.add(r);
                        }

                        @Override
                        public void onError(Throwable t) {}

                        @Override
                        public void onCompleted() {}
                    });
            java.util.function.BiFunction<Long, dev.baton.api.v1.LockAcquireRequest.Builder, dev.baton.api.v1.CallRequest> acquire =
                    (id, r) -> dev.baton.api.v1.CallRequest.newBuilder().setCallId(id).setLockAcquire(r).build();
            calls.onNext(acquire.apply(1L, dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(holder)
                    .setRequestId(1).setName("raw")));
            dev.baton.api.v1.CallReply granted = replies.poll(30, TimeUnit.SECONDS);
            assertThat(granted.getCallId()).isEqualTo(1);
            assertThat(granted.getLock().getStatus()).isEqualTo(LockStatus.LOCK_LOCKED);

            // Two waits, one cancelled and one with a short deadline, then a refusal the unary call also gives.
            calls.onNext(acquire.apply(2L, dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(waiter)
                    .setRequestId(1).setName("raw").setTimeoutMs(60_000)));
            calls.onNext(acquire.apply(3L, dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(waiter)
                    .setRequestId(2).setName("raw-free").setTimeoutMs(0)));
            dev.baton.api.v1.CallReply free = replies.poll(30, TimeUnit.SECONDS);
            assertThat(free.getCallId()).isEqualTo(3); // answered while call 2 waits
            assertThat(free.getLock().getStatus()).isEqualTo(LockStatus.LOCK_LOCKED);
            calls.onNext(dev.baton.api.v1.CallRequest.newBuilder().setCallId(2)
                    .setCancel(dev.baton.api.v1.CancelCall.getDefaultInstance()).build());
            dev.baton.api.v1.CallReply cancelled = replies.poll(30, TimeUnit.SECONDS);
            assertThat(cancelled.getCallId()).isEqualTo(2);
            assertThat(cancelled.getError().getCode()).isEqualTo(Status.Code.CANCELLED.value());

            calls.onNext(acquire.apply(4L, dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(other)
                    .setRequestId(1).setName("raw").setTimeoutMs(60_000)).toBuilder().setDeadlineMs(200).build());
            dev.baton.api.v1.CallReply late = replies.poll(30, TimeUnit.SECONDS);
            assertThat(late.getCallId()).isEqualTo(4);
            assertThat(late.getError().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED.value());

            calls.onNext(acquire.apply(5L, dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(waiter)
                    .setRequestId(4).setName("")));
            dev.baton.api.v1.CallReply refused = replies.poll(30, TimeUnit.SECONDS);
            io.grpc.StatusRuntimeException unary = org.junit.jupiter.api.Assertions.assertThrows(
                    io.grpc.StatusRuntimeException.class, () -> dev.baton.api.v1.LocksGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(30, TimeUnit.SECONDS).acquire(dev.baton.api.v1.LockAcquireRequest.newBuilder()
                                    .setSession(waiter).setRequestId(5).setName("").build()));
            assertThat(refused.getCallId()).isEqualTo(5);
            assertThat(refused.getError().getCode()).isEqualTo(unary.getStatus().getCode().value());
            assertThat(refused.getError().getMessage()).isEqualTo(unary.getStatus().getDescription());
            assertThat(refused.getError().getBatonError()).isEqualTo(unary.getTrailers().get(ApiErrors.ERROR_KEY));

            calls.onNext(dev.baton.api.v1.CallRequest.newBuilder().setCallId(0).setLockRelease(
                    dev.baton.api.v1.LockReleaseRequest.newBuilder().setSession(holder).setRequestId(2).setName("raw")).build());
            assertThat(replies.poll(30, TimeUnit.SECONDS).getError().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
            calls.onCompleted();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aTokenRemovedFromTheFileIsRefusedOnTheStreamAlreadyOpen() throws Exception {
        Path dir = Files.createTempDirectory("baton-call-stream-reload");
        String first = AuthTokens.newToken();
        String second = AuthTokens.newToken();
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(first, "app", "client") + "\n");
        ApiServer s = single(cfg -> cfg.withAuth(AuthTokens.load(tokens, 50)));
        AtomicReference<String> token = new AtomicReference<>(first);
        BatonClient c = client(BatonClient.builder().endpoints(s.apiEndpoint()).authToken(token::get));
        assertThat(c.locks().acquire("r", Duration.ZERO).status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);

        Files.writeString(tokens, AuthTokens.fileLine(second, "app", "client") + "\n");
        TestWaits.await("the file reloaded", () -> s.tokenAuth().tokens().lookup(first) == null);
        // The stream opened with the first token; its next call is checked against the file as it is now.
        assertThatThrownBy(() -> c.locks().release("r")).isInstanceOfSatisfying(AccessDeniedException.class,
                e -> assertThat(e.statusCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
        token.set(second); // asked for when the next stream opens
        assertThat(c.locks().release("r").status()).isEqualTo(dev.baton.client.LockStatus.UNLOCKED);
        assertThat(counter(s, "baton.api.call_streams.opened")).isEqualTo(2.0);
    }

    @Test
    void aCallsContextHasTheStreamsCallerAndIsForgottenWhenTheCallEnds() throws Exception {
        io.grpc.Context.Key<String> caller = io.grpc.Context.key("caller");
        io.grpc.Context.CancellableContext stream = io.grpc.Context.ROOT.withCancellation();
        io.grpc.Context base = stream.withValue(caller, "alice");
        java.util.concurrent.ScheduledThreadPoolExecutor timer = new java.util.concurrent.ScheduledThreadPoolExecutor(1);
        timer.setRemoveOnCancelPolicy(true);
        try {
            List<java.lang.ref.WeakReference<io.grpc.Context>> ended = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                io.grpc.Context.CancellableContext call = CallStreamService.callContext(base, i % 2 == 0 ? 60_000 : 0, timer);
                assertThat(caller.get(call)).isEqualTo("alice");
                call.addListener(c -> { }, Runnable::run); // as the stream's calls do: their cancellation listener
                call.cancel(null);
                ended.add(new java.lang.ref.WeakReference<>(call));
            }
            // The stream lives on; nothing of its ended calls may stay reachable from it (a child of
            // its context would: gRPC keeps a cancelled child registered with its cancellable ancestor).
            TestWaits.await("the ended calls' contexts collected", () -> {
                System.gc();
                return ended.stream().allMatch(r -> r.get() == null);
            });
            assertThat(stream.isCancelled()).isFalse();
        } finally {
            timer.shutdownNow();
            stream.cancel(null);
        }
    }

    @Test
    void aWaitingCallIsCancelledWhenItsStreamIsCancelled() throws Exception {
        ApiServer s = single(UnaryOperator.identity());
        io.grpc.ManagedChannel channel = io.grpc.ManagedChannelBuilder.forTarget(s.apiEndpoint()).usePlaintext().build();
        try {
            long holder = openSession(channel);
            long waiter = openSession(channel);
            assertThat(dev.baton.api.v1.LocksGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .acquire(dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(holder).setRequestId(1)
                            .setName("held").build()).getStatus()).isEqualTo(LockStatus.LOCK_LOCKED);
            io.grpc.stub.ClientCallStreamObserver<dev.baton.api.v1.CallRequest> calls =
                    (io.grpc.stub.ClientCallStreamObserver<dev.baton.api.v1.CallRequest>) dev.baton.api.v1.CallsGrpc
                            .newStub(channel).stream(new io.grpc.stub.StreamObserver<>() {
                                @Override
                                public void onNext(dev.baton.api.v1.CallReply r) {}

                                @Override
                                public void onError(Throwable t) {}

                                @Override
                                public void onCompleted() {}
                            });
            calls.onNext(dev.baton.api.v1.CallRequest.newBuilder().setCallId(1).setLockAcquire(
                    dev.baton.api.v1.LockAcquireRequest.newBuilder().setSession(waiter).setRequestId(1).setName("held")
                            .setTimeoutMs(60_000)).build());
            TestWaits.await("the acquire waiting", () -> counter(s, "baton.api.stream_calls") >= 1
                    && s.node().readLocal(new dev.baton.core.command.Query.GetSummary()).waits() >= 1);
            assertThat(counter(s, "baton.api.stream_calls.cancelled_with_stream")).isZero();
            calls.cancel("the client went away", null);
            TestWaits.await("the waiting call cancelled with its stream",
                    () -> counter(s, "baton.api.stream_calls.cancelled_with_stream") == 1);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
