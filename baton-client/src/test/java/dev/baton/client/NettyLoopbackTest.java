package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The default transport (plaintext over grpc-netty) against real servers on loopback. */
class NettyLoopbackTest extends TestSupport {

    private static BatonClient.Builder nettyBuilder(String... endpoints) {
        return BatonClient.builder()
                .endpoints(endpoints)
                .requestTimeout(Duration.ofSeconds(5))
                .retryFor(Duration.ofSeconds(15));
    }

    @Test
    void callsAndKeepAlivesSurviveTheDeathOfANode() {
        FakeNode a = nettyNode();
        FakeNode b = nettyNode();
        for (FakeNode n : List.of(a, b)) {
            n.grantedTtlMs = 600;
            n.handle(PoolsGrpc.getAcquireMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED)
                    .setKey(((PoolAcquireRequest) req).getKey()).setFence(((PoolAcquireRequest) req).getRequestId())
                    .build());
        }
        List<SessionLostException> lost = new CopyOnWriteArrayList<>();
        BatonClient client = track(nettyBuilder(a.name(), b.name()).onSessionLost(lost::add).build());

        assertThat(client.pools().acquire("one", 1, 1, Duration.ZERO, false).key()).isEqualTo("one");
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
        await("keep-alives on a", () -> a.keepAlives.size() >= 2);

        a.kill();

        await("keep-alives on b", () -> b.keepAlives.size() >= 2);
        var reply = client.pools().acquire("two", 1, 1, Duration.ZERO, false);
        assertThat(reply.key()).isEqualTo("two");
        assertThat(reply.fence()).isGreaterThan(1);
        assertThat(b.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
        assertThat(lost).isEmpty();

        client.close();
        assertThat(b.received(SessionsGrpc.getCloseMethod())).hasSize(1);
    }

    @Test
    void anUnreachableFirstEndpointIsSkipped() {
        FakeNode dead = nettyNode();
        String deadAddress = dead.name();
        dead.kill();
        FakeNode b = nettyNode();

        BatonClient client = track(nettyBuilder(deadAddress, b.name()).build());

        assertThat(client.sessionId()).isEqualTo(FakeNode.SESSION);
        assertThat(b.received(SessionsGrpc.getOpenMethod())).hasSize(1);
        client.pools().get("x");
        assertThat(b.received(PoolsGrpc.getGetMethod())).hasSize(1);
    }

    private static void grantAndRelease(FakeNode n) {
        n.handle(PoolsGrpc.getAcquireMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED)
                .setKey(((PoolAcquireRequest) req).getKey()).setFence(100 + ((PoolAcquireRequest) req).getRequestId())
                .build());
        n.handle(PoolsGrpc.getReleaseMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_RELEASED)
                .setKey(((PoolReleaseRequest) req).getKey()).build());
    }

    /**
     * The default channels run gRPC callbacks on the I/O thread; an async method's future must still
     * complete elsewhere, so that a continuation may block. This one makes a blocking call, whose reply
     * only the I/O thread can read: completed on that thread, it would hang until the deadline.
     */
    @Test
    void asyncContinuationsRunOffTheIoThreadAndMayMakeBlockingCalls() throws Exception {
        FakeNode a = nettyNode();
        grantAndRelease(a);
        // The grant is held back until the continuation is attached: attached to a future already
        // complete, it would run on this thread and show nothing about the client's threads.
        CountDownLatch attached = new CountDownLatch(1);
        a.handle(PoolsGrpc.getAcquireMethod(), req -> {
            attached.await(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            return PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED)
                    .setKey(((PoolAcquireRequest) req).getKey()).setFence(100 + ((PoolAcquireRequest) req).getRequestId())
                    .build();
        });
        BatonClient client = track(nettyBuilder(a.name()).build());

        AtomicReference<String> continuationThread = new AtomicReference<>();
        var released = client.pools().acquireAsync("k", 1, 1, Duration.ZERO, false)
                .thenApply(granted -> {
                    continuationThread.set(Thread.currentThread().getName());
                    return client.pools().release("k", granted.fence());
                });
        attached.countDown();

        assertThat(released.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        assertThat(continuationThread.get()).startsWith("baton-client-callback-");
        PoolReleaseRequest release = (PoolReleaseRequest) a.received(PoolsGrpc.getReleaseMethod()).get(0).request();
        assertThat(release.getFence()).isEqualTo(101);
    }

    /** Async futures complete on the executor the user chose; blocking calls never go through it. */
    @Test
    void asyncFuturesCompleteOnTheCallbackExecutorAndBlockingCallsSkipIt() throws Exception {
        FakeNode a = nettyNode();
        grantAndRelease(a);
        AtomicInteger handedOver = new AtomicInteger();
        Executor mine = r -> {
            handedOver.incrementAndGet();
            Thread t = new Thread(r, "my-callbacks");
            t.setDaemon(true);
            t.start();
        };
        BatonClient client = track(nettyBuilder(a.name()).callbackExecutor(mine).build());

        var granted = client.pools().acquire("k", 1, 1, Duration.ZERO, false);
        client.pools().release("k", granted.fence());
        client.pools().get("k");
        assertThat(handedOver).hasValue(0);

        // The answer is held back until the continuation is attached (see the test above).
        CountDownLatch attached = new CountDownLatch(1);
        a.handle(PoolsGrpc.getGetMethod(), req -> {
            attached.await(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            return dev.baton.api.v1.PoolInfo.getDefaultInstance();
        });
        AtomicReference<String> thread = new AtomicReference<>();
        var seen = client.pools().getAsync("k").thenAccept(info -> thread.set(Thread.currentThread().getName()));
        attached.countDown();
        seen.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        assertThat(thread.get()).isEqualTo("my-callbacks");
        client.pools().acquireAsync("k", 1, 1, Duration.ZERO, false).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        assertThat(handedOver).hasValue(2);
    }
}
