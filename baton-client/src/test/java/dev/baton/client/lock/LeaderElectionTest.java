package dev.baton.client.lock;

import static dev.baton.client.poolcounter.FakeBaton.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.poolcounter.FakeBaton;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link LeaderElection} against a scripted node: leadership is gained only once confirmed, and given
 * up before the session's lease could run out when confirmations stop being answered, although the
 * node keeps acknowledging keep-alives (as a follower cut off from the cluster's leader would).
 * Several contenders on real nodes: {@code baton-it}.
 */
class LeaderElectionTest {
    private static final long FENCE = 11;

    private final FakeBaton node = new FakeBaton();
    private BatonClient client;
    private LeaderElection election;
    /** Released when the test ends, so that handlers blocked on it return. */
    private final CountDownLatch testOver = new CountDownLatch(1);
    private final List<String> calls = new CopyOnWriteArrayList<>();

    @AfterEach
    void close() {
        testOver.countDown();
        if (election != null) {
            election.close();
        }
        if (client != null) {
            client.close();
        }
        node.close();
    }

    private LeaderElection start(Duration margin) {
        LeaderElection.Builder b = LeaderElection.builder(client, "jobs").listener(new LeaderElection.Listener() {
            @Override
            public void gained(long fence) {
                calls.add("gained " + fence);
            }

            @Override
            public void lost() {
                calls.add("lost");
            }
        });
        if (margin != null) {
            b.margin(margin);
        }
        election = b.build();
        election.start();
        return election;
    }

    @Test
    void givesUpBeforeTheLeaseCanRunOutWhenConfirmationsGoUnanswered() throws Exception {
        node.ttlMs = 3_000;
        client = node.client(Duration.ofSeconds(30));
        AtomicBoolean silent = new AtomicBoolean();
        AtomicLong lastConfirmedArrival = new AtomicLong();
        node.lockAcquire = r -> {
            if (r.getTimeoutMs() > 0) {
                return reply(LockStatus.LOCK_LOCKED); // the contender's wait is granted
            }
            if (silent.get()) {
                try {
                    testOver.await(); // never answered, as by a cluster that lost its quorum
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw FakeBaton.error(Status.Code.CANCELLED, null);
            }
            lastConfirmedArrival.set(System.nanoTime()); // the lease runs at least ttl from here
            return reply(LockStatus.LOCK_ALREADY_HELD);
        };
        // a wide margin: the test's threads may be late on a loaded machine; what is checked is the order
        LeaderElection e = start(Duration.ofMillis(1_400));

        // isLeader() turns true just before gained() is called, on the election's thread
        await(() -> calls.contains("gained " + FENCE), "gained");
        assertThat(e.isLeader()).isTrue();
        assertThat(e.fence()).isEqualTo(FENCE);
        assertThat(calls).containsExactly("gained " + FENCE);
        await(() -> node.received(LockAcquireRequest.class).stream().filter(r -> r.getTimeoutMs() == 0).count() >= 3,
                "confirmations repeated");

        silent.set(true);
        await(() -> calls.contains("lost"), "lost");
        long lostAt = System.nanoTime();
        assertThat(client.sessionAlive()).as("keep-alives still acknowledged").isTrue();
        assertThat(lostAt).as("lost() before the lease of the last confirmed write could run out")
                .isLessThan(lastConfirmedArrival.get() + Duration.ofMillis(node.ttlMs).toNanos());
        assertThat(e.isLeader()).isFalse();
        assertThatThrownBy(e::fence).isInstanceOf(IllegalStateException.class);
        assertThat(calls).containsExactly("gained " + FENCE, "lost");
    }

    @Test
    void aLockHeldByAnotherSessionEndsTheTermAndCloseDoesNotCallLostTwice() throws Exception {
        node.ttlMs = 2_000; // confirmations every 500 ms
        client = node.client(Duration.ofSeconds(30));
        AtomicBoolean takenOver = new AtomicBoolean();
        node.lockAcquire = r -> {
            if (!takenOver.get()) {
                return reply(r.getTimeoutMs() > 0 ? LockStatus.LOCK_LOCKED : LockStatus.LOCK_ALREADY_HELD);
            }
            if (r.getTimeoutMs() > 0) {
                try {
                    testOver.await(); // contending again: waits while the other session holds it
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw FakeBaton.error(Status.Code.CANCELLED, null);
            }
            return reply(LockStatus.LOCK_BUSY, FENCE + 1); // released by name elsewhere, and granted to another
        };
        LeaderElection e = start(null);
        await(() -> calls.contains("gained " + FENCE), "gained");
        takenOver.set(true);
        await(() -> calls.contains("lost"), "lost");
        assertThat(e.isLeader()).isFalse();
        e.close();
        assertThat(calls).containsExactly("gained " + FENCE, "lost");
        assertThatThrownBy(e::start).isInstanceOf(IllegalStateException.class);
    }

    private static LockReply reply(LockStatus status) {
        return reply(status, FENCE);
    }

    private static LockReply reply(LockStatus status, long fence) {
        return LockReply.newBuilder().setStatus(status).setName("jobs").setFence(fence).build();
    }
}
