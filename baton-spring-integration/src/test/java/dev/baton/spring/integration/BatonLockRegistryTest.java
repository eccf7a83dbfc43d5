package dev.baton.spring.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.client.BatonClient;
import dev.baton.client.lock.LockLostException;
import dev.baton.server.testing.InProcessNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.integration.leader.Context;
import org.springframework.integration.leader.DefaultCandidate;
import org.springframework.integration.support.leader.LockRegistryLeaderInitiator;

/** {@link BatonLockRegistry} against one real node, with two clients as two processes would have. */
class BatonLockRegistryTest {
    private static InProcessNode node;
    private static BatonClient clientA;
    private static BatonClient clientB;
    private static BatonLockRegistry registryA;
    private static BatonLockRegistry registryB;

    @BeforeAll
    static void start() {
        node = InProcessNode.start();
        clientA = node.client();
        clientB = node.client();
        registryA = new BatonLockRegistry(clientA, "registry-test/");
        registryB = new BatonLockRegistry(clientB, "registry-test/");
    }

    @AfterAll
    static void stop() {
        if (clientA != null) {
            clientA.close();
        }
        if (clientB != null) {
            clientB.close();
        }
        if (node != null) {
            node.close();
        }
    }

    @Test
    void threadsOfTwoRegistriesTakeTurnsWithGrowingFences() throws Exception {
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicLong lastFence = new AtomicLong();
        AtomicInteger fencesOutOfOrder = new AtomicInteger();
        List<CompletableFuture<Void>> workers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            BatonLockRegistry registry = t % 2 == 0 ? registryA : registryB;
            workers.add(CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 5; i++) {
                    BatonLock lock = registry.obtain("turns");
                    lock.lock();
                    try {
                        if (inside.incrementAndGet() != 1) {
                            overlaps.incrementAndGet();
                        }
                        long fence = lock.fence();
                        if (fence <= lastFence.getAndSet(fence)) {
                            fencesOutOfOrder.incrementAndGet();
                        }
                        Thread.yield();
                        inside.decrementAndGet();
                    } finally {
                        lock.unlock();
                    }
                }
            }, runnable -> new Thread(runnable).start()));
        }
        CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        assertThat(overlaps).hasValue(0);
        assertThat(fencesOutOfOrder).hasValue(0);
        assertThat(lastFence.get()).isPositive();
    }

    @Test
    void tryLockGivesUpWhileAnotherProcessHoldsTheLock() throws Exception {
        BatonLock held = registryA.obtain("try");
        held.lock();
        try {
            BatonLock other = registryB.obtain("try");
            assertThat(onOtherThread(other::tryLock)).isFalse();
            assertThat(onOtherThread(() -> other.tryLock(200, TimeUnit.MILLISECONDS))).isFalse();
            // Another thread of the same process waits locally, and gives up too.
            assertThat(onOtherThread(() -> held.tryLock(50, TimeUnit.MILLISECONDS))).isFalse();
        } finally {
            held.unlock();
        }
        BatonLock other = registryB.obtain("try");
        assertThat(other.tryLock(30, TimeUnit.SECONDS)).isTrue();
        other.unlock();
    }

    @Test
    void aThreadMayLockAgainAndTheLastUnlockReleases() throws Exception {
        BatonLock lock = registryA.obtain("reentrant");
        lock.lock();
        long fence = lock.fence();
        assertThat(lock.tryLock()).isTrue();
        lock.lockInterruptibly();
        assertThat(lock.fence()).isEqualTo(fence);
        lock.unlock();
        lock.unlock();
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        assertThat(onOtherThread(() -> registryB.obtain("reentrant").tryLock())).isFalse();
        lock.unlock();
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        BatonLock other = registryB.obtain("reentrant");
        assertThat(other.tryLock(30, TimeUnit.SECONDS)).isTrue();
        assertThat(other.fence()).isGreaterThan(fence);
        other.unlock();
    }

    @Test
    void onlyTheOwningThreadUnlocks() throws Exception {
        BatonLock lock = registryA.obtain("owned");
        lock.lock();
        try {
            CompletableFuture<Void> attempt = CompletableFuture.runAsync(lock::unlock,
                    runnable -> new Thread(runnable).start());
            assertThatThrownBy(() -> attempt.get(30, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IllegalMonitorStateException.class);
            assertThat(lock.isHeldByCurrentThread()).isTrue();
        } finally {
            lock.unlock();
        }
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
        assertThatThrownBy(lock::fence).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(lock::newCondition).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> registryA.obtain(42)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unlockAfterTheSessionEndedReportsTheLossAndFreesTheLocalLock() throws Exception {
        BatonLock lock;
        try (BatonClient doomed = node.client()) {
            lock = new BatonLockRegistry(doomed, "registry-test/").obtain("lost");
            lock.lock();
            assertThat(lock.isLost()).isFalse();
        } // closing the client ends its session, which frees the lock on the cluster
        assertThat(lock.isLost()).isTrue();
        assertThatThrownBy(lock::fence).isInstanceOf(LockLostException.class);
        assertThatThrownBy(lock::unlock).isInstanceOf(LockLostException.class);
        assertThat(lock.isAcquiredInThisProcess()).isFalse();
        BatonLock other = registryB.obtain("lost");
        assertThat(other.tryLock(30, TimeUnit.SECONDS)).isTrue();
        other.unlock();
    }

    @Test
    void sameLockForSameKeyUntilExpired() {
        BatonLock lock = registryA.obtain("expiring");
        assertThat(registryA.obtain("expiring")).isSameAs(lock);
        assertThat(lock.name()).isEqualTo("registry-test/expiring");
        lock.lock();
        registryA.expireUnusedOlderThan(0);
        assertThat(registryA.obtain("expiring")).isSameAs(lock); // held: kept
        lock.unlock();
        registryA.expireUnusedOlderThan(0);
        assertThat(registryA.obtain("expiring")).isNotSameAs(lock);
    }

    @Test
    void leaderInitiatorsOverTwoRegistriesHandLeadershipOver() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        LockRegistryLeaderInitiator first = initiator(registryA, "first", events);
        LockRegistryLeaderInitiator second = initiator(registryB, "second", events);
        first.start();
        try {
            assertThat(events.poll(60, TimeUnit.SECONDS)).isEqualTo("granted first");
            second.start();
            assertThat(events.poll(1, TimeUnit.SECONDS)).isNull(); // not a proof, a sanity check: second waits
            assertThat(second.getContext().isLeader()).isFalse();
            first.stop();
            // The initiator unlocks before it tells its candidate, so the two may come in either order.
            assertThat(List.of(events.poll(60, TimeUnit.SECONDS), events.poll(60, TimeUnit.SECONDS)))
                    .containsExactlyInAnyOrder("revoked first", "granted second");
            assertThat(second.getContext().isLeader()).isTrue();
        } finally {
            first.stop();
            second.stop();
        }
    }

    private static LockRegistryLeaderInitiator initiator(BatonLockRegistry registry, String name,
            BlockingQueue<String> events) {
        DefaultCandidate candidate = new DefaultCandidate(name, "leader") {
            @Override
            public void onGranted(Context ctx) {
                events.add("granted " + name);
            }

            @Override
            public void onRevoked(Context ctx) {
                events.add("revoked " + name);
            }
        };
        LockRegistryLeaderInitiator initiator = new LockRegistryLeaderInitiator(registry, candidate);
        initiator.setBusyWaitMillis(100);
        initiator.setHeartBeatMillis(100);
        return initiator;
    }

    private interface Attempt {
        boolean run() throws Exception;
    }

    private static boolean onOtherThread(Attempt attempt) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        boolean[] result = new boolean[1];
        Exception[] failure = new Exception[1];
        Thread t = new Thread(() -> {
            try {
                result[0] = attempt.run();
            } catch (Exception e) {
                failure[0] = e;
            } finally {
                done.countDown();
            }
        });
        t.start();
        assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
        if (failure[0] != null) {
            throw failure[0];
        }
        return result[0];
    }
}
