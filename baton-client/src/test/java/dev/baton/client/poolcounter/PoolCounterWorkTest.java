package dev.baton.client.poolcounter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.poolcounter.PoolCounterStatus.Code;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link PoolCounterWork#execute} step by step, against a node whose acquire replies are scripted: which
 * acquire is sent (for me, for anyone, with which timeout) and which callback decides the result.
 */
class PoolCounterWorkTest {
    private static final PoolType TYPE = PoolType.of(2, 100, 15);
    private static final PoolType FAST_STALE =
            PoolType.builder().workers(2).maxQueue(100).timeoutSeconds(15).fastStale(true).build();

    private final FakeBaton node = new FakeBaton();
    private final BatonClient client = node.client(Duration.ofMillis(300));
    /** Replies to the next acquires, in order; LOCKED when empty. */
    private final Deque<PoolStatus> script = new ArrayDeque<>();
    /** What the work did, in order. */
    private final List<String> calls = new ArrayList<>();
    private final AtomicInteger fences = new AtomicInteger(10);
    /** True: every acquire fails with UNAVAILABLE. */
    private volatile boolean unreachable;

    PoolCounterWorkTest() {
        node.poolAcquire = r -> {
            if (unreachable) {
                throw FakeBaton.error(Status.Code.UNAVAILABLE, null); // the client retries, then gives up
            }
            PoolStatus s = script.isEmpty() ? PoolStatus.POOL_LOCKED : script.poll();
            return PoolReply.newBuilder().setStatus(s).setFence(s == PoolStatus.POOL_LOCKED ? fences.incrementAndGet() : 0)
                    .build();
        };
    }

    @AfterEach
    void close() {
        client.close();
        node.close();
    }

    /** A work whose callbacks log their calls and return what the test says (null = PHP's false). */
    private final class Work extends PoolCounterWork<String> {
        String cached;
        String fastFallback;
        String slowFallback;
        String errorResult = "error-result";
        PoolCounterStatus errorStatus;

        Work(PoolType type, FailMode mode) {
            super(new PoolCounter(client, "ArticleView", type, "page"), mode);
        }

        @Override
        protected String doWork() {
            calls.add("doWork");
            return "fresh";
        }

        @Override
        protected String getCachedWork() {
            calls.add("getCachedWork");
            return cached;
        }

        @Override
        protected String fallback(boolean fast) {
            calls.add("fallback(" + fast + ")");
            return fast ? fastFallback : slowFallback;
        }

        @Override
        protected String error(PoolCounterStatus status) {
            calls.add("error(" + status.code() + ")");
            errorStatus = status;
            return errorResult;
        }
    }

    private List<String> acquires() {
        return node.received(PoolAcquireRequest.class).stream()
                .map(r -> (r.getForAnyone() ? "ACQ4ANY " : "ACQ4ME ") + r.getTimeoutMs())
                .toList();
    }

    private List<Long> releasedFences() {
        return node.received(PoolReleaseRequest.class).stream().map(PoolReleaseRequest::getFence).toList();
    }

    @Test
    void notCacheableAcquiresForMeWorksAndReleases() {
        PoolCounterWork<String> work = new PoolCounterWork<>(new PoolCounter(client, "T", TYPE, "k")) {
            @Override
            protected String doWork() {
                calls.add("doWork");
                return "fresh";
            }
        };
        assertThat(work.execute()).isEqualTo("fresh");
        assertThat(acquires()).containsExactly("ACQ4ME 15000");
        assertThat(calls).containsExactly("doWork");
        assertThat(releasedFences()).containsExactly(11L);
    }

    @Test
    void cacheableAcquiresForAnyone() {
        Work work = new Work(TYPE, PoolCounterWork.FailMode.OPEN);
        assertThat(work.execute()).isEqualTo("fresh");
        assertThat(acquires()).containsExactly("ACQ4ANY 15000");
        assertThat(releasedFences()).containsExactly(11L);
        // skipCache acquires for me.
        assertThat(work.execute(true)).isEqualTo("fresh");
        assertThat(acquires()).containsExactly("ACQ4ANY 15000", "ACQ4ME 15000");
    }

    @Test
    void doneServesTheCacheOrRedoesTheWorkForMe() {
        script.add(PoolStatus.POOL_DONE);
        Work work = new Work(TYPE, PoolCounterWork.FailMode.OPEN);
        work.cached = "cached";
        assertThat(work.execute()).isEqualTo("cached");
        assertThat(calls).containsExactly("getCachedWork");
        assertThat(releasedFences()).isEmpty(); // DONE holds nothing

        calls.clear();
        script.add(PoolStatus.POOL_DONE);
        work.cached = null;
        assertThat(work.execute()).isEqualTo("fresh");
        assertThat(calls).containsExactly("getCachedWork", "doWork");
        assertThat(acquires()).containsExactly("ACQ4ANY 15000", "ACQ4ANY 15000", "ACQ4ME 15000");
    }

    @Test
    void doneAfterAcquireForMeIsALogicError() {
        script.add(PoolStatus.POOL_DONE);
        script.add(PoolStatus.POOL_DONE);
        Work work = new Work(TYPE, PoolCounterWork.FailMode.OPEN);
        assertThatThrownBy(work::execute).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'ArticleView' was DONE despite skipping the cache");
        assertThat(acquires()).containsExactly("ACQ4ANY 15000", "ACQ4ME 15000");
    }

    @Test
    void fastStaleTriesWithoutWaitingAndServesStale() {
        script.add(PoolStatus.POOL_TIMEOUT);
        Work work = new Work(FAST_STALE, PoolCounterWork.FailMode.OPEN);
        work.fastFallback = "stale";
        assertThat(work.execute()).isEqualTo("stale");
        assertThat(acquires()).containsExactly("ACQ4ANY 0");
        assertThat(calls).containsExactly("fallback(true)");
    }

    @Test
    void fastStaleWithoutStaleResultWaits() {
        script.add(PoolStatus.POOL_TIMEOUT);
        script.add(PoolStatus.POOL_DONE);
        Work work = new Work(FAST_STALE, PoolCounterWork.FailMode.OPEN);
        work.cached = "cached";
        assertThat(work.execute()).isEqualTo("cached");
        assertThat(acquires()).containsExactly("ACQ4ANY 0", "ACQ4ANY 15000");
        assertThat(calls).containsExactly("fallback(true)", "getCachedWork");
    }

    @Test
    void fastStaleLockedAtOnceWorks() {
        Work work = new Work(FAST_STALE, PoolCounterWork.FailMode.OPEN);
        assertThat(work.execute()).isEqualTo("fresh");
        assertThat(acquires()).containsExactly("ACQ4ANY 0");
        assertThat(releasedFences()).containsExactly(11L);
    }

    @Test
    void queueFullAndTimeoutFallBackThenError() {
        for (PoolStatus busy : new PoolStatus[] {PoolStatus.POOL_QUEUE_FULL, PoolStatus.POOL_TIMEOUT}) {
            calls.clear();
            script.add(busy);
            Work work = new Work(TYPE, PoolCounterWork.FailMode.OPEN);
            work.slowFallback = "fallback";
            assertThat(work.execute()).isEqualTo("fallback");
            assertThat(calls).containsExactly("fallback(false)");

            calls.clear();
            script.add(busy);
            work.slowFallback = null;
            assertThat(work.execute()).isEqualTo("error-result");
            assertThat(calls).containsExactly("fallback(false)", "error(" + busy.name().substring(5) + ")");
            assertThat(work.errorStatus.message()).startsWith("pool-");
        }
        assertThat(releasedFences()).isEmpty();
    }

    @Test
    void lockHeldStillWorks() {
        script.add(PoolStatus.POOL_LOCK_HELD);
        Work work = new Work(TYPE, PoolCounterWork.FailMode.OPEN);
        assertThat(work.execute()).isEqualTo("fresh");
        assertThat(calls).containsExactly("doWork");
        assertThat(releasedFences()).isEmpty(); // nothing was granted to this counter, nothing to release
    }

    @Test
    void errorFailsOpen() {
        unreachable = true;
        // A waiting acquire retries unavailability for its timeout plus retryFor: keep the timeout short.
        Work open = new Work(PoolType.of(2, 100, 1), PoolCounterWork.FailMode.OPEN);
        assertThat(open.execute()).isEqualTo("fresh");
        assertThat(calls).containsExactly("doWork");
        assertThat(releasedFences()).isEmpty();
    }

    @Test
    void errorFailsClosed() {
        unreachable = true;
        Work closed = new Work(PoolType.of(2, 100, 1), PoolCounterWork.FailMode.CLOSED);
        assertThat(closed.execute()).isEqualTo("error-result");
        assertThat(calls).containsExactly("error(ERROR)");
        assertThat(closed.errorStatus.message()).contains("BatonUnavailableException");
    }

    @Test
    void anInterruptedCallerDoesNotWorkUnprotected() {
        CountDownLatch testOver = new CountDownLatch(1);
        node.poolAcquire = r -> {
            try {
                testOver.await(); // the acquire waits while the test runs
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw FakeBaton.error(Status.Code.CANCELLED, null);
        };
        Work work = new Work(TYPE, PoolCounterWork.FailMode.OPEN);
        Thread.currentThread().interrupt();
        try {
            assertThat(work.execute()).isEqualTo("error-result");
        } finally {
            Thread.interrupted();
            testOver.countDown();
        }
        assertThat(calls).containsExactly("error(ERROR)");
        assertThat(work.errorStatus.message()).contains("BatonInterruptedException");
    }

    @Test
    void theWorkIsReleasedWhenItThrows() {
        PoolCounterWork<String> work = PoolCounterWork.<String>builder(new PoolCounter(client, "T", TYPE, "k"), () -> {
            throw new IllegalArgumentException("render failed");
        }).build();
        assertThatThrownBy(work::execute).hasMessage("render failed");
        assertThat(releasedFences()).containsExactly(11L);
    }

    @Test
    void cacheabilityFollowsGetCachedWork() {
        PoolCounter pc = new PoolCounter(client, "T", TYPE, "k");
        PoolCounterWork<String> plain = new PoolCounterWork<>(pc) {
            @Override
            protected String doWork() {
                return "x";
            }
        };
        assertThat(plain.isCacheable()).isFalse();
        assertThat(new Work(TYPE, PoolCounterWork.FailMode.OPEN).isCacheable()).isTrue();
        assertThat(PoolCounterWork.builder(pc, () -> "x").build().isCacheable()).isFalse();
        assertThat(PoolCounterWork.builder(pc, () -> "x").cachedWork(() -> null).build().isCacheable()).isTrue();
        assertThat(plain.failMode()).isEqualTo(PoolCounterWork.FailMode.OPEN);
    }

    @Test
    void viaCallbacksRunsTheSameSteps() {
        script.add(PoolStatus.POOL_QUEUE_FULL);
        List<PoolCounterStatus> errors = new ArrayList<>();
        PoolCounterWork<String> work = PoolCounterWork.builder(new PoolCounter(client, "T", TYPE, "k"), () -> "fresh")
                .cachedWork(() -> "cached")
                .fallback(fast -> null)
                .error(status -> {
                    errors.add(status);
                    return "sorry";
                })
                .failMode(PoolCounterWork.FailMode.CLOSED)
                .build();
        assertThat(work.execute()).isEqualTo("sorry");
        assertThat(errors).extracting(PoolCounterStatus::code).containsExactly(Code.QUEUE_FULL);
        assertThat(acquires()).containsExactly("ACQ4ANY 15000");
    }
}
