package dev.baton.it.lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.client.LockInfo;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.BatonClient;
import dev.baton.client.LockStatus;
import dev.baton.client.LockReply;
import dev.baton.client.BatonSession;
import dev.baton.client.SessionLostException;
import dev.baton.client.lock.FencedLock;
import dev.baton.client.lock.LockLostException;
import dev.baton.it.Nodes;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every {@link FencedLock} method against real nodes; run on one node and on a three-node cluster by
 * the subclasses. Each test uses its own lock names, so the tests share one cluster.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class FencedLockCases {
    private static final AtomicInteger NAMES = new AtomicInteger();

    Nodes nodes;
    private final List<BatonClient> clients = new ArrayList<>();

    abstract Nodes start();

    @BeforeAll
    void startNodes() {
        nodes = start();
    }

    @AfterAll
    void stopNodes() {
        nodes.close();
    }

    @AfterEach
    void closeClients() {
        clients.forEach(BatonClient::close);
        clients.clear();
    }

    private BatonClient client() {
        return track(nodes.client());
    }

    private BatonClient track(BatonClient c) {
        clients.add(c);
        return c;
    }

    private static String name(String what) {
        return what + "-" + NAMES.incrementAndGet();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            Thread.sleep(20);
        }
    }

    /**
     * A resource guarded by fences, as the lock's users should write one: it remembers the largest
     * fence it has seen and refuses older ones. It also checks that no two writers overlap.
     */
    private static final class FencedStore {
        private long newestFence;
        private int writers;
        final List<Long> accepted = new ArrayList<>();
        final List<String> violations = new CopyOnWriteArrayList<>();

        synchronized void begin(long fence) {
            if (fence <= newestFence) {
                violations.add("fence " + fence + " after " + newestFence);
            }
            newestFence = Math.max(newestFence, fence);
            accepted.add(fence);
            if (++writers > 1) {
                violations.add("two writers at fence " + fence);
            }
        }

        synchronized void end() {
            writers--;
        }
    }

    @Test
    void mutualExclusionAcrossClientsWithIncreasingFences() throws Exception {
        String name = name("exclusive");
        FencedStore store = new FencedStore();
        int workers = 4;
        int rounds = 8;
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                FencedLock lock = new FencedLock(client(), name);
                boolean useHandle = w % 2 == 0;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        if (useHandle) {
                            try (FencedLock.Handle held = lock.acquire()) {
                                store.begin(held.fence());
                                Thread.yield();
                                store.end();
                            }
                        } else {
                            lock.lock();
                            try {
                                store.begin(lock.fence());
                                Thread.yield();
                                store.end();
                            } finally {
                                lock.unlock();
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(store.violations).isEmpty();
        assertThat(store.accepted).hasSize(workers * rounds).isSorted().doesNotHaveDuplicates();
        assertThat(clients.get(0).locks().get(name).exists()).isFalse();
    }

    @Test
    void tryLockNowAndWithATimeout() throws Exception {
        String name = name("try");
        FencedLock a = new FencedLock(client(), name);
        FencedLock b = new FencedLock(client(), name);
        assertThat(a.tryLock()).isTrue();
        long first = a.fence();
        assertThat(b.tryLock()).isFalse();
        assertThat(b.tryLock(300, TimeUnit.MILLISECONDS)).isFalse();
        assertThatThrownBy(() -> b.acquire(java.time.Duration.ofMillis(300))).isInstanceOf(TimeoutException.class);

        CompletableFuture<Long> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                assertThat(b.tryLock(30, TimeUnit.SECONDS)).isTrue();
                long fence = b.fence();
                b.unlock();
                return fence;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        LockInfo info = clients.get(0).locks().get(name);
        await(() -> clients.get(0).locks().get(name).waiters().size() == 1, "b waits");
        assertThat(info.fence()).isEqualTo(first);
        a.unlock();
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isGreaterThan(first);
    }

    @Test
    void lockInterruptiblyWaitsAndCanBeInterrupted() throws Exception {
        String name = name("interruptible");
        BatonClient holderClient = client();
        FencedLock holder = new FencedLock(holderClient, name);
        FencedLock waiter = new FencedLock(client(), name);
        holder.lock();

        List<Throwable> thrown = new CopyOnWriteArrayList<>();
        Thread t = new Thread(() -> {
            try {
                waiter.lockInterruptibly();
                waiter.unlock();
            } catch (Throwable e) {
                thrown.add(e);
            }
        });
        t.start();
        await(() -> holderClient.locks().get(name).waiters().size() == 1, "the waiter is queued");
        t.interrupt();
        t.join(30_000);
        assertThat(thrown).singleElement().isInstanceOf(InterruptedException.class);
        // Its queued request is cancelled in the background.
        await(() -> holderClient.locks().get(name).waiters().size() == 0, "the wait is cancelled");
        holder.unlock();

        CompletableFuture<Long> next = CompletableFuture.supplyAsync(() -> {
            try {
                waiter.lockInterruptibly();
                long fence = waiter.fence();
                waiter.unlock();
                return fence;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(next.get(30, TimeUnit.SECONDS)).isPositive();
    }

    @Test
    void aWaitCancelledByAReleaseOfItsNameIsAnsweredCancelledAtOnce() throws Exception {
        String name = name("cancelled-wait");
        BatonClient holderClient = client();
        assertThat(holderClient.locks().acquire(name, Duration.ZERO).status()).isEqualTo(LockStatus.LOCKED);
        BatonSession waiter = client().newSession();
        // an hour's wait, held by the server: only the cancel can answer it while the test runs
        CompletableFuture<LockReply> wait = waiter.locks().acquireAsync(name, Duration.ofHours(1));
        await(() -> holderClient.locks().get(name).waiters().size() == 1, "the waiter is queued");

        assertThat(waiter.locks().release(name).status()).isEqualTo(LockStatus.CANCELLED);
        assertThat(wait.get(60, TimeUnit.SECONDS).status()).isEqualTo(LockStatus.CANCELLED);
        assertThat(holderClient.locks().get(name).waiters()).isEmpty();
    }

    @Test
    void unlockByANonHolderFails() {
        String name = name("non-holder");
        BatonClient holderClient = client();
        FencedLock holder = new FencedLock(holderClient, name);
        FencedLock other = new FencedLock(client(), name);
        holder.lock();
        assertThatThrownBy(other::unlock).isInstanceOf(IllegalMonitorStateException.class);
        assertThatThrownBy(other::fence).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> CompletableFuture.runAsync(holder::unlock).join())
                .hasCauseInstanceOf(IllegalMonitorStateException.class);
        assertThat(holderClient.locks().get(name).holder()).isEqualTo(holderClient.sessionId());
        assertThatThrownBy(holder::lock).isInstanceOf(IllegalStateException.class).hasMessageContaining("reentrant");
        assertThatThrownBy(holder::newCondition).isInstanceOf(UnsupportedOperationException.class);
        holder.unlock();
        assertThat(holderClient.locks().get(name).exists()).isFalse();
    }

    @Test
    void aLostSessionCallsTheListenerAndUnlockFails() throws Exception {
        String name = name("lost");
        BatonClient holderClient = track(nodes.clientBuilder().onSessionLost(e -> {}).build());
        FencedLock lock = new FencedLock(holderClient, name);
        List<LockLostException> lost = new CopyOnWriteArrayList<>();
        lock.addLostListener(lost::add);
        lock.lock();
        long fence = lock.fence();

        // End the session on the cluster from outside (as an operator, or an expired lease, would):
        // the cluster releases the lock and tells the client on its keep-alive stream.
        closeSessionFromOutside(holderClient.sessionId());

        await(() -> !lost.isEmpty(), "the lost listener was called");
        assertThat(lost).singleElement().satisfies(e -> {
            assertThat(e.lockName()).isEqualTo(name);
            assertThat(e.fence()).isEqualTo(fence);
        });
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        assertThatThrownBy(lock::fence).isInstanceOf(LockLostException.class);
        assertThatThrownBy(lock::unlock).isInstanceOf(LockLostException.class);
        assertThat(lost).hasSize(1);
        assertThatThrownBy(lock::lock).isInstanceOf(SessionLostException.class);

        // Someone else gets it, with a larger fence.
        FencedLock next = new FencedLock(client(), name);
        assertThat(next.tryLock(30, TimeUnit.SECONDS)).isTrue();
        assertThat(next.fence()).isGreaterThan(fence);
        next.unlock();
    }

    /**
     * Sends {@code Sessions.Close} for {@code session} on a channel of its own. Request id 0 is not
     * remembered, so it cannot be mistaken for a request of the session's own client (a second
     * BatonClient opened with the same client token would count its ids from 1 too).
     */
    private void closeSessionFromOutside(long session) {
        ManagedChannel channel = ManagedChannelBuilder.forTarget(nodes.endpoints().get(0)).usePlaintext().build();
        try {
            SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .close(CloseSessionRequest.newBuilder().setSession(session).setRequestId(0).build());
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void threadsOfOneClientExcludeEachOther() throws Exception {
        String name = name("threads");
        BatonClient shared = client();
        FencedStore store = new FencedStore();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                FencedLock lock = new FencedLock(shared, name);
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 5; i++) {
                        try (FencedLock.Handle held = lock.acquire()) {
                            store.begin(held.fence());
                            Thread.yield();
                            store.end();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(store.violations).isEmpty();
        assertThat(store.accepted).hasSize(15).isSorted().doesNotHaveDuplicates();
    }
}
