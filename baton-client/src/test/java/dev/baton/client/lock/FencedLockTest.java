package dev.baton.client.lock;

import static dev.baton.client.poolcounter.FakeBaton.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockReleaseRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.SessionLostException;
import dev.baton.client.poolcounter.FakeBaton;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link FencedLock} against a scripted node: the local rules (thread ownership, no reentrancy, one
 * holder per client and name), the requests sent, and what happens on unknown outcomes and lost
 * sessions. Cross-session behaviour is tested against real nodes in {@code baton-it}.
 */
class FencedLockTest {
    private final FakeBaton node = new FakeBaton();
    private final BatonClient client = node.client(Duration.ofMillis(300));
    /** Released when the test ends, so that handlers blocked on it return. */
    private final CountDownLatch testOver = new CountDownLatch(1);

    @AfterEach
    void close() {
        testOver.countDown();
        client.close();
        node.close();
    }

    private static LockReply reply(LockStatus status, long fence) {
        return LockReply.newBuilder().setStatus(status).setFence(fence).build();
    }

    private void blockAcquiresUntilTestOver() {
        node.lockAcquire = r -> {
            try {
                testOver.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw FakeBaton.error(Status.Code.CANCELLED, null);
        };
    }

    @Test
    void lockUnlockQuotesTheFence() {
        FencedLock lock = new FencedLock(client, "invoices");
        lock.lock();
        long fence = lock.fence();
        assertThat(fence).isPositive();
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        lock.unlock();
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        assertThat(node.received(LockReleaseRequest.class)).singleElement().satisfies(r -> {
            assertThat(r.getName()).isEqualTo("invoices");
            assertThat(r.getFence()).isEqualTo(fence);
        });
        assertThatThrownBy(lock::fence).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aWaitCancelledOnTheClusterIsNotAGrant() throws Exception {
        // the session released the name while this wait was queued: the cluster answers CANCELLED
        node.lockAcquire = r -> reply(LockStatus.LOCK_CANCELLED, 0);
        FencedLock lock = new FencedLock(client, "c");
        assertThat(lock.tryLock(200, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        node.lockAcquire = r -> reply(LockStatus.LOCK_LOCKED, 5);
        assertThat(lock.tryLock()).isTrue(); // the local gate was let go
        lock.unlock();
    }

    @Test
    void notReentrantAndNoConditions() {
        FencedLock lock = new FencedLock(client, "r");
        lock.lock();
        assertThatThrownBy(lock::lock).isInstanceOf(IllegalStateException.class).hasMessageContaining("not reentrant");
        assertThatThrownBy(lock::tryLock).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> lock.tryLock(1, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(lock::acquire).isInstanceOf(IllegalStateException.class);
        // Another object for the same client and name is the same lock.
        assertThatThrownBy(() -> new FencedLock(client, "r").lock()).isInstanceOf(IllegalStateException.class);
        assertThat(node.received(LockAcquireRequest.class)).hasSize(1);
        assertThatThrownBy(lock::newCondition).isInstanceOf(UnsupportedOperationException.class);
        lock.unlock();
    }

    @Test
    void onlyTheHoldingThreadMayUnlock() throws Exception {
        FencedLock lock = new FencedLock(client, "t");
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
        lock.lock();
        CompletableFuture<Void> otherThread = CompletableFuture.runAsync(lock::unlock);
        assertThatThrownBy(otherThread::join).hasCauseInstanceOf(IllegalMonitorStateException.class);
        assertThatThrownBy(() -> new FencedLock(client, "t").unlock()).isInstanceOf(IllegalMonitorStateException.class);
        lock.unlock();
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
        assertThat(node.received(LockReleaseRequest.class)).hasSize(1);
    }

    @Test
    void threadsOfOneClientTakeTurns() throws Exception {
        FencedLock a = new FencedLock(client, "shared");
        FencedLock b = new FencedLock(client, "shared");
        a.lock();
        // The cluster would say ALREADY_HELD to this session: the other thread must wait locally instead.
        assertThat(CompletableFuture.supplyAsync(b::tryLock).get()).isFalse();
        CompletableFuture<Long> waiter = CompletableFuture.supplyAsync(() -> {
            b.lock();
            try {
                return b.fence();
            } finally {
                b.unlock();
            }
        });
        Thread.sleep(200);
        assertThat(waiter).isNotDone();
        assertThat(node.received(LockAcquireRequest.class)).hasSize(1);
        long first = a.fence();
        a.unlock();
        assertThat(waiter.get(20, TimeUnit.SECONDS)).isGreaterThan(first);
    }

    @Test
    void aHandleIsTheGrantAndClosesFromAnyThread() throws Exception {
        FencedLock lock = new FencedLock(client, "h");
        FencedLock.Handle h = lock.acquire();
        long fence = h.fence();
        assertThat(fence).isEqualTo(lock.fence());
        CompletableFuture.runAsync(h::close).get();
        h.close(); // idempotent
        assertThat(node.received(LockReleaseRequest.class)).singleElement()
                .satisfies(r -> assertThat(r.getFence()).isEqualTo(fence));
        assertThatThrownBy(h::fence).isInstanceOf(IllegalStateException.class);
        try (FencedLock.Handle again = lock.acquire(Duration.ofSeconds(5))) {
            assertThat(again.fence()).isGreaterThan(fence);
        }
        assertThat(node.received(LockReleaseRequest.class)).hasSize(2);
    }

    @Test
    void lockWaitsInChunksAndTakesAnAlreadyHeldGrant() {
        List<LockStatus> script = new CopyOnWriteArrayList<>(
                List.of(LockStatus.LOCK_TIMEOUT, LockStatus.LOCK_TIMEOUT, LockStatus.LOCK_ALREADY_HELD));
        node.lockAcquire = r -> reply(script.remove(0), 77);
        FencedLock lock = new FencedLock(client, "c");
        lock.lock();
        assertThat(lock.fence()).isEqualTo(77);
        assertThat(node.received(LockAcquireRequest.class)).extracting(LockAcquireRequest::getTimeoutMs)
                .containsExactly(FencedLock.WAIT_CHUNK_MS, FencedLock.WAIT_CHUNK_MS, FencedLock.WAIT_CHUNK_MS);
        lock.unlock();
    }

    @Test
    void tryLockWithATimeoutGivesUpWhenBusy() throws Exception {
        node.lockAcquire = r -> reply(r.getTimeoutMs() == 0 ? LockStatus.LOCK_BUSY : LockStatus.LOCK_TIMEOUT, 0);
        FencedLock lock = new FencedLock(client, "busy");
        assertThat(lock.tryLock()).isFalse();
        assertThat(lock.tryLock(300, TimeUnit.MILLISECONDS)).isFalse();
        assertThatThrownBy(() -> lock.acquire(Duration.ofMillis(100))).isInstanceOf(TimeoutException.class);
        List<Long> waits = node.received(LockAcquireRequest.class).stream().map(LockAcquireRequest::getTimeoutMs).toList();
        assertThat(waits.get(0)).isZero();
        assertThat(waits.subList(1, waits.size())).allSatisfy(ms -> assertThat(ms).isBetween(0L, 300L));
        // The permit was given back each time.
        node.lockAcquire = r -> reply(LockStatus.LOCK_LOCKED, 5);
        assertThat(lock.tryLock()).isTrue();
        lock.unlock();
    }

    @Test
    void anEndlessTryLockDoesNotOverflow() throws Exception {
        FencedLock lock = new FencedLock(client, "endless");
        assertThat(lock.tryLock(Long.MAX_VALUE, TimeUnit.DAYS)).isTrue();
        assertThat(node.received(LockAcquireRequest.class)).singleElement()
                .satisfies(r -> assertThat(r.getTimeoutMs()).isEqualTo(FencedLock.WAIT_CHUNK_MS));
        lock.unlock();
    }

    @Test
    void anUnknownAcquireIsReleasedByNameBeforeTheNextOne() throws Exception {
        AtomicBoolean reachable = new AtomicBoolean();
        node.lockAcquire = r -> {
            if (!reachable.get()) {
                throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
            }
            return reply(LockStatus.LOCK_LOCKED, 9);
        };
        node.lockRelease = r -> {
            if (!reachable.get()) {
                throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
            }
            return reply(LockStatus.LOCK_UNLOCKED, r.getFence());
        };
        FencedLock lock = new FencedLock(client, "u");
        assertThatThrownBy(lock::tryLock).isInstanceOf(BatonUnavailableException.class);
        // The background release holds the lock locally until the cluster answers it.
        assertThat(CompletableFuture.supplyAsync(lock::tryLock).get()).isFalse();
        reachable.set(true);
        await(() -> !node.received(LockReleaseRequest.class).isEmpty()
                && CompletableFuture.supplyAsync(() -> {
                    if (lock.tryLock()) {
                        lock.unlock();
                        return true;
                    }
                    return false;
                }).join(), "the background release let go");
        // FencedLock's own release by name (the client also settles that very request, by its fence)
        assertThat(node.received(LockReleaseRequest.class)).anySatisfy(r -> assertThat(r.getFence()).isZero());
    }

    @Test
    void lockInterruptiblyCancelsTheWaitOnInterrupt() throws Exception {
        blockAcquiresUntilTestOver();
        FencedLock lock = new FencedLock(client, "i");
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                lock.lockInterruptibly();
            } catch (Throwable e) {
                thrown.set(e);
            }
        });
        t.start();
        await(() -> !node.received(LockAcquireRequest.class).isEmpty(), "the acquire was sent");
        t.interrupt();
        t.join(20_000);
        assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
        await(() -> !node.received(LockReleaseRequest.class).isEmpty(), "the wait is cancelled by name");
        assertThat(node.received(LockReleaseRequest.class).get(0).getFence()).isZero();
    }

    @Test
    void lockIsNotInterruptibleButKeepsTheFlag() throws Exception {
        CountDownLatch answer = new CountDownLatch(1);
        node.lockAcquire = r -> {
            try {
                answer.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return reply(LockStatus.LOCK_LOCKED, 12);
        };
        FencedLock lock = new FencedLock(client, "u");
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                lock.lock();
                result.set(Thread.currentThread().isInterrupted() ? lock.fence() : "flag lost");
                lock.unlock();
            } catch (Throwable e) {
                result.set(e);
            }
        });
        t.start();
        await(() -> !node.received(LockAcquireRequest.class).isEmpty(), "the acquire was sent");
        t.interrupt();
        Thread.sleep(100);
        answer.countDown();
        t.join(20_000);
        assertThat(result.get()).isEqualTo(12L);
    }

    @Test
    void aLostSessionIsReportedAndUnlockFails() throws Exception {
        FencedLock lock = new FencedLock(client, "l");
        List<LockLostException> lost = new CopyOnWriteArrayList<>();
        lock.addLostListener(lost::add);
        lock.lock();
        long fence = lock.fence();

        // Any call answered UNKNOWN_SESSION makes the client mark its session lost.
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION");
        };
        assertThatThrownBy(() -> client.pools().acquire("x", 1, 1, Duration.ZERO, false))
                .isInstanceOf(SessionLostException.class);

        await(() -> !lost.isEmpty(), "the listener heard of the loss");
        assertThat(lost).singleElement().satisfies(e -> {
            assertThat(e.lockName()).isEqualTo("l");
            assertThat(e.fence()).isEqualTo(fence);
            assertThat(e.getMessage()).contains("lost");
        });
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        assertThatThrownBy(lock::fence).isInstanceOf(LockLostException.class);
        assertThatThrownBy(lock::unlock).isInstanceOf(LockLostException.class)
                .isInstanceOf(IllegalMonitorStateException.class);
        assertThat(lost).hasSize(1);
        assertThat(node.received(LockReleaseRequest.class)).isEmpty();
        // Released locally: the next attempt reaches the client, which refuses at once.
        assertThatThrownBy(lock::lock).isInstanceOf(SessionLostException.class);
    }

    @Test
    void aLossFoundByUnlockIsReportedToo() {
        FencedLock lock = new FencedLock(client, "f");
        List<LockLostException> lost = new CopyOnWriteArrayList<>();
        lock.addLostListener(lost::add);
        FencedLock.Handle h = lock.acquire();
        node.lockRelease = r -> {
            throw FakeBaton.error(Status.Code.FAILED_PRECONDITION, "STALE_FENCE");
        };
        assertThatThrownBy(h::close).isInstanceOf(LockLostException.class).hasMessageContaining("released elsewhere");
        assertThat(lost).hasSize(1);
        h.close(); // reported once
    }

    @Test
    void closingTheClientLosesTheLock() throws Exception {
        FencedLock lock = new FencedLock(client, "closing");
        List<LockLostException> lost = new CopyOnWriteArrayList<>();
        lock.addLostListener(lost::add);
        lock.lock();
        client.close();
        await(() -> !lost.isEmpty(), "the listener heard of the close");
        assertThatThrownBy(lock::unlock).isInstanceOf(LockLostException.class).hasMessageContaining("closed");
    }
}
