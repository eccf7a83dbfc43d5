package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.EventsGrpc;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.QueuesGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Error mapping, blocking and async failures, interrupts, and many threads on one client. */
class ErrorsAndConcurrencyTest extends TestSupport {

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", InvalidArgumentException.class),
                Arguments.of(Status.Code.INVALID_ARGUMENT, null, InvalidArgumentException.class),
                Arguments.of(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", LimitExceededException.class),
                Arguments.of(Status.Code.FAILED_PRECONDITION, "STALE_FENCE", StaleFenceException.class),
                Arguments.of(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION", SessionLostException.class),
                Arguments.of(Status.Code.FAILED_PRECONDITION, "REQUEST_TOO_OLD", BatonException.class),
                Arguments.of(Status.Code.FAILED_PRECONDITION, "WAIT_FOR_RESPONSE", BatonException.class),
                Arguments.of(Status.Code.NOT_FOUND, "NOT_FOUND", NotFoundException.class),
                Arguments.of(Status.Code.INTERNAL, "MALFORMED", BatonException.class),
                Arguments.of(Status.Code.PERMISSION_DENIED, null, AccessDeniedException.class),
                Arguments.of(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED", AccessDeniedException.class),
                Arguments.of(Status.Code.CANCELLED, null, BatonException.class));
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @MethodSource("refusals")
    void refusalsMapToTheirExceptionAndAreNotRetried(Status.Code code, String batonError,
            Class<? extends BatonException> expected) {
        FakeNode a = node("e1:" + code + batonError);
        FakeNode b = node("e2:" + code + batonError);
        a.handle(LocksGrpc.getReleaseMethod(), req -> {
            throw FakeNode.error(code, batonError);
        });
        BatonClient client = client(a.name(), b.name());

        assertThatThrownBy(() -> client.locks().release("l", 5))
                .isExactlyInstanceOf(expected)
                .satisfies(e -> {
                    BatonException be = (BatonException) e;
                    assertThat(be.statusCode()).isEqualTo(code);
                    assertThat(be.errorCode()).isEqualTo(batonError);
                    assertThat(be.getCause()).isInstanceOf(StatusRuntimeException.class);
                    assertThat(((StatusRuntimeException) be.getCause()).getStatus().getCode()).isEqualTo(code);
                    // the stack trace is the caller's, not a gRPC thread's
                    assertThat(be.getStackTrace()).anyMatch(f -> f.getMethodName().contains("refusalsMapToTheirException"));
                });
        assertThat(a.received(LocksGrpc.getReleaseMethod())).hasSize(1);
        assertThat(b.received(LocksGrpc.getReleaseMethod())).isEmpty();
    }

    @Test
    void asyncCallsCompleteExceptionallyWithTheSameExceptions() throws Exception {
        FakeNode a = node("e:async");
        a.handle(QueuesGrpc.getDoneMethod(), req -> {
            throw FakeNode.error(Status.Code.FAILED_PRECONDITION, "STALE_FENCE");
        });
        BatonClient client = client(a.name());

        CompletableFuture<?> f = client.queues().doneAsync("q", "item", 3);
        assertThatThrownBy(f::get)
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isExactlyInstanceOf(StaleFenceException.class)
                .hasCauseInstanceOf(StatusRuntimeException.class);
        assertThat(f.isCompletedExceptionally()).isTrue();
    }

    @Test
    void blockingCallsAreInterruptible() throws Exception {
        FakeNode a = node("e:interrupt");
        CountDownLatch arrived = new CountDownLatch(1);
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            arrived.countDown();
            hang();
            return LockReply.getDefaultInstance();
        });
        BatonClient client = client(a.name());
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicReference<Boolean> flag = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                client.locks().acquire("l", Duration.ofMinutes(5));
            } catch (Throwable e) {
                thrown.set(e);
                flag.set(Thread.currentThread().isInterrupted());
            }
        });
        t.start();
        assertThat(arrived.await(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
        t.interrupt();
        t.join(PATIENCE.toMillis());

        assertThat(t.isAlive()).isFalse();
        assertThat(thrown.get()).isExactlyInstanceOf(BatonInterruptedException.class)
                .hasCauseInstanceOf(InterruptedException.class);
        assertThat(flag.get()).isTrue();
    }

    @Test
    void cancellingAFutureCancelsTheCall() {
        FakeNode a = node("e:cancel");
        CountDownLatch arrived = new CountDownLatch(1);
        CountDownLatch cancelledOnServer = new CountDownLatch(1);
        a.handle(PoolsGrpc.getAcquireMethod(), req -> {
            if (arrived.getCount() == 0) {
                // the client settling the request it gave up on: the wait timed out, it holds nothing
                return PoolReply.newBuilder().setStatus(PoolStatus.POOL_TIMEOUT).build();
            }
            arrived.countDown();
            io.grpc.Context context = io.grpc.Context.current();
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (!context.isCancelled() && System.nanoTime() - deadline < 0) {
                Thread.sleep(5);
            }
            if (context.isCancelled()) {
                cancelledOnServer.countDown();
            }
            return PoolReply.getDefaultInstance();
        });
        BatonClient client = client(a.name());
        var f = client.pools().acquireAsync("k", 1, 1, Duration.ofMinutes(5), false);
        await("the call arrives", () -> arrived.getCount() == 0);
        assertThat(f.cancel(true)).isTrue();
        await("the server sees the cancellation", () -> cancelledOnServer.getCount() == 0);
        // The caller's call is not retried; but the wait may still be on the cluster (a cancelled call
        // does not end it) and be granted later, so the client settles that same request in the
        // background: sent again with the same request id, never as a new request.
        await("the request is settled", () -> client.stats().acquiresInDoubt() == 0);
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(2)
                .allSatisfy(r -> assertThat(r.requestId()).isEqualTo(1));
    }

    @Test
    void manyThreadsShareOneClientAndEachGetsItsOwnAnswer() throws Exception {
        FakeNode a = node("e:many");
        FakeNode b = node("e:many2");
        // Answers echo the key and carry the request id as the fence; a fails every third call.
        for (FakeNode n : List.of(a, b)) {
            n.handle(PoolsGrpc.getAcquireMethod(), req -> {
                PoolAcquireRequest r = (PoolAcquireRequest) req;
                if (n == a && r.getRequestId() % 3 == 0) {
                    throw FakeNode.error(Status.Code.UNAVAILABLE, null);
                }
                return PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED).setKey(r.getKey())
                        .setFence(r.getRequestId()).build();
            });
        }
        BatonClient client = client(a.name(), b.name());
        // one session, so that request ids (echoed as fences) are unique across all the threads
        BatonSession session = client.newSession();
        int threads = 16;
        int calls = 50;
        Set<Long> fences = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < calls; i++) {
                        String key = "k-" + thread + "-" + i;
                        var reply = i % 2 == 0
                                ? session.pools().acquire(key, 1, 10, Duration.ZERO, false)
                                : session.pools().acquireAsync(key, 1, 10, Duration.ZERO, false).join();
                        assertThat(reply.key()).isEqualTo(key);
                        assertThat(fences.add(reply.fence())).as("fence (request id) %d unique", reply.fence()).isTrue();
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(PATIENCE.toSeconds() * 3, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(fences).hasSize(threads * calls);
        assertThat(fences).allMatch(id -> id >= 1 && id <= threads * calls);
    }

    @Test
    void argumentsAreCheckedAtOnce() {
        node("e:args");
        BatonClient client = client("e:args");
        assertThatThrownBy(() -> client.pools().acquireAsync(null, 1, 1, Duration.ZERO, false))
                .isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> client.pools().acquireAsync("k", -1, 1, Duration.ZERO, false))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> client.locks().acquireAsync("k", Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> client.events().beginAsync(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void notFoundFromAnEventCallMapsToNotFound() {
        FakeNode a = node("e:nf");
        a.handle(EventsGrpc.getGetMethod(), req -> {
            throw FakeNode.error(Status.Code.NOT_FOUND, "NOT_FOUND");
        });
        BatonClient client = client(a.name());
        assertThatThrownBy(() -> client.events().get("nope")).isExactlyInstanceOf(NotFoundException.class);
    }
}
