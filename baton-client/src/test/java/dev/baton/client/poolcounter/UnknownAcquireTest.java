package dev.baton.client.poolcounter;

import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockReleaseRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolSlot;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.SessionInfo;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonSession;
import dev.baton.client.BatonUnavailableException;
import io.grpc.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.baton.client.poolcounter.FakeBaton.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Java client settles a pool or lock acquire whose caller got no answer ({@code Pools.acquire},
 * {@code Locks.acquire}): it sends the same request again (same session, same request id) until the
 * node answers, and releases the grant by its fence if that answer is one; when the node no longer
 * remembers the request id, it reads the session and releases what that request made. Against a
 * scripted node ({@link FakeBaton}) that stands for a cluster which granted the first request but
 * whose answer never arrived.
 */
class UnknownAcquireTest {
    private final FakeBaton node = new FakeBaton();
    private final BatonClient client = node.client(Duration.ofMillis(300));

    @AfterEach
    void close() {
        client.close();
        node.close();
    }

    private static PoolReply reply(PoolStatus status, long fence) {
        return PoolReply.newBuilder().setStatus(status).setFence(fence).build();
    }

    private void acquiresFail() {
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
        };
    }

    @Test
    void aGrantNobodyHeardOfIsReleasedByItsFence() throws InterruptedException {
        // 300 ms of retries fail; the background asks then get the remembered grant (fence 41)
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch callerFailed = new CountDownLatch(1);
        node.poolAcquire = r -> {
            if (calls.incrementAndGet() == 1 || callerFailed.getCount() > 0) {
                throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
            }
            return reply(PoolStatus.POOL_LOCKED, 41);
        };
        assertThatThrownBy(() -> client.pools().acquire("k", 1, 10, Duration.ZERO, false))
                .isInstanceOf(BatonUnavailableException.class);
        callerFailed.countDown();

        await(() -> client.stats().acquiresInDoubt() == 0, "the acquire is settled");
        var acquires = node.received(PoolAcquireRequest.class);
        assertThat(acquires).hasSizeGreaterThan(1);
        assertThat(acquires).allSatisfy(a -> {
            assertThat(a.getRequestId()).isEqualTo(acquires.get(0).getRequestId()); // the same request each time
            assertThat(a.getSession()).isEqualTo(FakeBaton.SESSION);
            assertThat(a.getKey()).isEqualTo("k");
        });
        // the settling's repeats (after the call's own retries) are not held by the server: a request
        // still waiting is answered QUEUED at once
        assertThat(acquires.get(0).getReturnQueued()).isFalse();
        assertThat(acquires.get(acquires.size() - 1).getReturnQueued()).isTrue();
        assertThat(node.received(PoolReleaseRequest.class)).singleElement().satisfies(r -> {
            assertThat(r.getKey()).isEqualTo("k");
            assertThat(r.getFence()).isEqualTo(41);
            assertThat(r.getSession()).isEqualTo(FakeBaton.SESSION);
            assertThat(r.getRequestId()).isGreaterThan(acquires.get(0).getRequestId());
        });
    }

    @Test
    void anOutcomeThatHoldsNothingNeedsNoRelease() throws InterruptedException {
        acquiresFail();
        CompletableFuture<?> f = client.pools().acquireAsync("k", 1, 10, Duration.ZERO, false);
        assertThatThrownBy(f::join).hasCauseInstanceOf(BatonUnavailableException.class);
        assertThat(client.stats().acquiresInDoubt()).isEqualTo(1);
        node.poolAcquire = r -> reply(PoolStatus.POOL_QUEUE_FULL, 0); // the cluster's remembered answer

        await(() -> client.stats().acquiresInDoubt() == 0, "the acquire is settled");
        assertThat(node.received(PoolReleaseRequest.class)).isEmpty();
        assertThat(node.received(PoolAcquireRequest.class)).hasSizeGreaterThan(1);
    }

    @Test
    void aRequestIdNoLongerRememberedIsFoundAmongTheSessionsSlots() throws InterruptedException {
        acquiresFail();
        assertThatThrownBy(() -> client.pools().acquire("k", 1, 10, Duration.ZERO, false))
                .isInstanceOf(BatonUnavailableException.class);
        long requestId = node.received(PoolAcquireRequest.class).get(0).getRequestId();
        node.sessionGet = r -> SessionInfo.newBuilder().setSession(r.getSession())
                .addPoolSlots(PoolSlot.newBuilder().setKey("k").setState("HELD").setId(60).setRequestId(requestId + 5))
                .addPoolSlots(PoolSlot.newBuilder().setKey("k").setState("HELD").setId(61).setRequestId(requestId))
                .addPoolSlots(PoolSlot.newBuilder().setKey("j").setState("HELD").setId(62).setRequestId(requestId))
                .build();
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.FAILED_PRECONDITION, "REQUEST_TOO_OLD");
        };

        await(() -> client.stats().acquiresInDoubt() == 0, "the acquire is settled");
        assertThat(node.received(GetSessionRequest.class)).isNotEmpty();
        assertThat(node.received(PoolReleaseRequest.class)).singleElement().satisfies(r -> {
            assertThat(r.getKey()).isEqualTo("k");
            assertThat(r.getFence()).isEqualTo(61); // only the slot that request made
        });
    }

    @Test
    void aRefusalChangedNothingAndIsNotClearedUp() throws InterruptedException {
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT");
        };
        assertThatThrownBy(() -> client.pools().acquire("k", 1, 10, Duration.ZERO, false))
                .isInstanceOf(dev.baton.client.InvalidArgumentException.class);
        assertThat(client.stats().acquiresInDoubt()).isZero();
        assertThat(node.received(PoolAcquireRequest.class)).hasSize(1);
    }

    // ---- locks ----------------------------------------------------------------------------------

    private static LockReply lockReply(LockStatus status, long fence) {
        return LockReply.newBuilder().setStatus(status).setFence(fence).build();
    }

    private void lockAcquiresFail() {
        node.lockAcquire = r -> {
            throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
        };
    }

    @Test
    void aLockGrantNobodyHeardOfIsReleasedByItsFence() throws InterruptedException {
        lockAcquiresFail();
        assertThatThrownBy(() -> client.locks().acquire("L", Duration.ZERO)).isInstanceOf(BatonUnavailableException.class);
        node.lockAcquire = r -> lockReply(LockStatus.LOCK_LOCKED, 41);

        await(() -> client.stats().acquiresInDoubt() == 0, "the acquire is settled");
        var acquires = node.received(LockAcquireRequest.class);
        assertThat(acquires).hasSizeGreaterThan(1)
                .allSatisfy(a -> assertThat(a.getRequestId()).isEqualTo(acquires.get(0).getRequestId()));
        assertThat(node.received(LockReleaseRequest.class)).singleElement().satisfies(r -> {
            assertThat(r.getName()).isEqualTo("L");
            assertThat(r.getFence()).isEqualTo(41);
        });
    }

    @Test
    void aLockTheSessionHeldBeforeAndTheClientKnowsOfIsLeftAlone() throws InterruptedException {
        BatonSession session = client.newSession();
        node.lockAcquire = r -> lockReply(LockStatus.LOCK_LOCKED, 30);
        assertThat(session.locks().acquire("L", Duration.ZERO).fence()).isEqualTo(30);
        lockAcquiresFail();
        assertThatThrownBy(() -> session.locks().acquire("L", Duration.ZERO)).isInstanceOf(BatonUnavailableException.class);
        node.lockAcquire = r -> lockReply(LockStatus.LOCK_ALREADY_HELD, 30); // the remembered answer

        await(() -> client.stats().acquiresInDoubt() == 0, "the acquire is settled");
        assertThat(node.received(LockReleaseRequest.class)).isEmpty();
    }

    @Test
    void onOneSessionTheNextAcquireOfTheLockWaitsUntilTheOneInDoubtIsSettled() throws InterruptedException {
        BatonSession session = client.newSession();
        lockAcquiresFail();
        assertThatThrownBy(() -> session.locks().acquire("L", Duration.ZERO)).isInstanceOf(BatonUnavailableException.class);
        long inDoubt = node.received(LockAcquireRequest.class).get(0).getRequestId();
        var next = session.locks().acquireAsync("L", Duration.ZERO);
        await(() -> node.received(LockAcquireRequest.class).size() >= 3, "the request in doubt asked about again");
        // not sent while the first is in doubt: it could be told ALREADY_HELD for the grant about to be released
        assertThat(node.received(LockAcquireRequest.class)).allSatisfy(a -> assertThat(a.getRequestId()).isEqualTo(inDoubt));
        assertThat(next).isNotDone();

        node.lockAcquire = r -> lockReply(LockStatus.LOCK_LOCKED, r.getRequestId() == inDoubt ? 41 : 42);
        assertThat(next.join().fence()).isEqualTo(42);
        assertThat(node.received(LockReleaseRequest.class)).singleElement()
                .satisfies(r -> assertThat(r.getFence()).isEqualTo(41));
        assertThat(client.stats().acquiresInDoubt()).isZero();
    }
}
