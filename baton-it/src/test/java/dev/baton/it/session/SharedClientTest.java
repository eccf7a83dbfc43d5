package dev.baton.it.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonSession;
import dev.baton.client.LockReply;
import dev.baton.client.LockStatus;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.SessionLostException;
import dev.baton.it.Nodes;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One client shared by many threads: any number of them may wait for and hold pool slots and locks
 * at once (the client spreads them over sessions of its own, within the server's per-session limits),
 * and losing one of those sessions fails only the holds on it.
 */
class SharedClientTest {
    private static final int THREADS = 32;
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @Test
    void thirtyTwoThreadsWaitAndHoldThroughOneClient() throws Exception {
        try (Nodes nodes = Nodes.single();
             BatonClient client = nodes.clientBuilder().idleSessionClose(Duration.ofMillis(200)).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                // every thread holds a slot of its own key at once: far more than one session may hold
                CountDownLatch allHold = new CountDownLatch(THREADS);
                Set<Long> sessions = ConcurrentHashMap.newKeySet();
                List<Future<?>> holds = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    String key = "own-" + t;
                    holds.add(pool.submit(() -> {
                        PoolReply r = client.pools().acquire(key, 1, 10, PATIENCE, false);
                        assertThat(r.status()).isEqualTo(PoolStatus.LOCKED);
                        sessions.add(r.session());
                        allHold.countDown();
                        assertThat(allHold.await(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
                        assertThat(client.pools().release(r).status()).isEqualTo(PoolStatus.RELEASED);
                        return null;
                    }));
                }
                for (Future<?> f : holds) {
                    f.get(PATIENCE.toSeconds() * 2, TimeUnit.SECONDS);
                }
                assertThat(sessions.size()).as("sessions used for %d holds", THREADS).isGreaterThan(1);

                // every thread waits for one slot of one key and for one lock, all at once
                AtomicInteger holdingSlot = new AtomicInteger();
                AtomicInteger holdingLock = new AtomicInteger();
                List<String> overlaps = new CopyOnWriteArrayList<>();
                List<Future<?>> waits = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    waits.add(pool.submit(() -> {
                        PoolReply slot = client.pools().acquire("shared", 1, THREADS + 1, PATIENCE, false);
                        assertThat(slot.status()).isEqualTo(PoolStatus.LOCKED);
                        if (holdingSlot.incrementAndGet() != 1) {
                            overlaps.add("two holders of a one-worker pool");
                        }
                        Thread.sleep(2);
                        holdingSlot.decrementAndGet();
                        assertThat(client.pools().release(slot).status()).isEqualTo(PoolStatus.RELEASED);

                        LockReply lock = client.locks().acquire("shared-lock", PATIENCE);
                        assertThat(lock.status()).isEqualTo(LockStatus.LOCKED);
                        if (holdingLock.incrementAndGet() != 1) {
                            overlaps.add("two holders of a lock");
                        }
                        Thread.sleep(2);
                        holdingLock.decrementAndGet();
                        assertThat(client.locks().release("shared-lock", lock.fence()).status())
                                .isEqualTo(LockStatus.UNLOCKED);
                        return null;
                    }));
                }
                for (Future<?> f : waits) {
                    f.get(PATIENCE.toSeconds() * 4, TimeUnit.SECONDS);
                }
                assertThat(overlaps).isEmpty();
                assertThat(client.pools().get("shared").processing()).isZero();
                assertThat(client.locks().get("shared-lock").holder()).isZero();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void losingOneSessionFailsOnlyTheHoldsOnIt() throws Exception {
        List<SessionLostException> lost = new CopyOnWriteArrayList<>();
        try (Nodes nodes = Nodes.single();
             BatonClient client = nodes.clientBuilder().onSessionLost(lost::add).build()) {
            // more holds than one session may have: they land on at least two sessions
            List<PoolReply> held = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                PoolReply r = client.pools().acquire("slot-" + i, 1, 10, Duration.ZERO, false);
                assertThat(r.status()).isEqualTo(PoolStatus.LOCKED);
                held.add(r);
            }
            long victim = held.stream().mapToLong(PoolReply::session).filter(s -> s != client.sessionId())
                    .findFirst().orElseThrow();

            // an operator closes that session, as `baton sessions close` does
            ManagedChannel ch = ManagedChannelBuilder.forTarget(nodes.endpoints().get(0)).usePlaintext().build();
            try {
                SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .close(CloseSessionRequest.newBuilder().setSession(victim).build());
            } finally {
                ch.shutdownNow();
            }
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (lost.stream().noneMatch(e -> e.sessionId() == victim) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(lost).extracting(SessionLostException::sessionId).containsExactly(victim);

            for (PoolReply r : held) {
                if (r.session() == victim) {
                    assertThatThrownBy(() -> client.pools().release(r)).isInstanceOf(SessionLostException.class);
                    assertThat(client.pools().get(r.key()).processing()).as("released by the server").isZero();
                } else {
                    assertThat(client.pools().release(r).status()).isEqualTo(PoolStatus.RELEASED);
                }
            }
            assertThat(client.sessionAlive()).isTrue();
            PoolReply again = client.pools().acquire("slot-0", 1, 10, Duration.ZERO, false);
            assertThat(again.status()).isEqualTo(PoolStatus.LOCKED);
            assertThat(client.pools().release(again).status()).isEqualTo(PoolStatus.RELEASED);
        }
    }

    @Test
    void aSessionOfItsOwnHasTheServersPerSessionLimits() throws Exception {
        try (Nodes nodes = Nodes.single();
             BatonClient client = nodes.client();
             BatonSession session = client.newSession()) {
            assertThat(session.sessionId()).isNotEqualTo(client.sessionId());
            for (int i = 0; i < 4; i++) {
                assertThat(session.pools().acquire("s-" + i, 1, 10, Duration.ZERO, false).status())
                        .isEqualTo(PoolStatus.LOCKED);
            }
            assertThat(session.pools().acquire("s-4", 1, 10, Duration.ZERO, false).status())
                    .as("a fifth slot on one session").isEqualTo(PoolStatus.LOCK_HELD);
            assertThat(client.pools().acquire("s-4", 1, 10, Duration.ZERO, false).status())
                    .as("the client's own sessions still have room").isEqualTo(PoolStatus.LOCKED);
            session.close();
            // close() gives up on the cluster after about 2 s (the session then lapses by its TTL).
            dev.baton.server.TestWaits.await("closing the session released its slots",
                    () -> client.pools().get("s-0").processing() == 0);
        }
    }
}
