package dev.baton.client.poolcounter;

import static dev.baton.client.poolcounter.FakeBaton.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolSlot;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.SessionInfo;
import dev.baton.client.BatonClient;
import dev.baton.client.poolcounter.PoolCounterStatus.Code;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link PoolCounter} against a scripted node: requests sent, replies and failures mapped, MediaWiki's rules. */
class PoolCounterTest {
    private static final PoolType TYPE = PoolType.of(2, 10, 5);
    private static final PoolType NOWAIT = PoolType.of(1, 10, 0);

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

    @ParameterizedTest
    @CsvSource({"POOL_LOCKED, LOCKED", "POOL_DONE, DONE", "POOL_QUEUE_FULL, QUEUE_FULL", "POOL_TIMEOUT, TIMEOUT",
            "POOL_LOCK_HELD, LOCK_HELD", "POOL_QUEUED, ERROR", "POOL_STATUS_UNSPECIFIED, ERROR"})
    void repliesMapToMediaWikiStatuses(PoolStatus reply, Code expected) {
        node.poolAcquire = r -> reply(reply, reply == PoolStatus.POOL_LOCKED ? 9 : 0);
        PoolCounter pc = new PoolCounter(client, "T", TYPE, "k");
        PoolCounterStatus s = pc.acquireForAnyone();
        assertThat(s.code()).isEqualTo(expected);
        assertThat(pc.fence()).isEqualTo(expected == Code.LOCKED ? 9 : 0);
        if (expected == Code.ERROR) {
            assertThat(s.message()).contains(reply == PoolStatus.POOL_STATUS_UNSPECIFIED ? "UNKNOWN"
                    : reply.name().substring("POOL_".length()));
        }
        // Whatever the answer, a might-wait key not LOCKED is free for the next acquire of this client.
        if (expected != Code.LOCKED) {
            node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, 10);
            assertThat(new PoolCounter(client, "T", TYPE, "other").acquireForMe().code()).isEqualTo(Code.LOCKED);
        }
    }

    @Test
    void acquiresSendTheTypeAndTimeout() {
        PoolType t = PoolType.builder().workers(3).maxQueue(7).timeoutSeconds(15).build();
        PoolCounter pc = new PoolCounter(client, "ArticleView", t, "enwiki:page:1");
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
        assertThat(pc.release().code()).isEqualTo(Code.RELEASED);
        assertThat(pc.acquireForAnyone(0).code()).isEqualTo(Code.LOCKED);
        pc.release();
        assertThat(pc.acquireForAnyone((Integer) null).code()).isEqualTo(Code.LOCKED);
        pc.release();
        assertThat(pc.acquireForMe(Duration.ofMillis(1500)).code()).isEqualTo(Code.LOCKED);
        pc.release();

        List<PoolAcquireRequest> sent = node.received(PoolAcquireRequest.class);
        assertThat(sent).extracting(PoolAcquireRequest::getTimeoutMs).containsExactly(15_000L, 0L, 15_000L, 1500L);
        assertThat(sent).extracting(PoolAcquireRequest::getForAnyone).containsExactly(false, true, true, false);
        assertThat(sent).allSatisfy(r -> {
            assertThat(r.getKey()).isEqualTo("enwiki:page:1");
            assertThat(r.getWorkers()).isEqualTo(3);
            assertThat(r.getMaxQueue()).isEqualTo(7);
            assertThat(r.getSession()).isEqualTo(FakeBaton.SESSION);
        });
    }

    @Test
    void slotsReplaceTheKeyWithItsBucket() {
        PoolType slotted = PoolType.builder().workers(2).maxQueue(100).timeoutSeconds(8).slots(8).build();
        PoolCounter pc = new PoolCounter(client, "FileRenderExpensive", slotted, "Main_Page");
        assertThat(pc.key()).isEqualTo("FileRenderExpensive:6"); // sha1("Main_Page") = 8f9e..., 36766 % 8
        pc.acquireForMe();
        assertThat(node.received(PoolAcquireRequest.class).get(0).getKey()).isEqualTo("FileRenderExpensive:6");
        // As in MediaWiki, the hashed key decides nowait-ness: a slotted "nowait:" key may wait.
        assertThat(new PoolCounter(client, "T", slotted, "nowait:x").isMightWaitKey()).isTrue();
    }

    @Test
    void releaseQuotesTheGrantsFenceSoSharedSessionsReleaseExactly() {
        AtomicInteger fence = new AtomicInteger(40);
        node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, fence.incrementAndGet());
        PoolCounter first = new PoolCounter(client, "T", NOWAIT, "nowait:k");
        PoolCounter second = new PoolCounter(client, "T", NOWAIT, "nowait:k");
        assertThat(first.acquireForMe().code()).isEqualTo(Code.LOCKED);
        assertThat(second.acquireForMe().code()).isEqualTo(Code.LOCKED);
        assertThat(first.fence()).isEqualTo(41);
        assertThat(second.fence()).isEqualTo(42);

        assertThat(first.release().code()).isEqualTo(Code.RELEASED);
        assertThat(node.received(PoolReleaseRequest.class)).singleElement().satisfies(r -> {
            assertThat(r.getKey()).isEqualTo("nowait:k");
            assertThat(r.getFence()).isEqualTo(41);
        });
        assertThat(first.fence()).isZero();
        assertThat(second.fence()).isEqualTo(42);
    }

    @Test
    void releaseWithoutASlotIsNotLockedAndSendsNothing() {
        PoolCounter pc = new PoolCounter(client, "T", TYPE, "k");
        assertThat(pc.release()).isEqualTo(PoolCounterStatus.NOT_LOCKED);
        node.poolAcquire = r -> reply(PoolStatus.POOL_TIMEOUT, 0);
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.TIMEOUT);
        assertThat(pc.release().code()).isEqualTo(Code.NOT_LOCKED);
        assertThat(node.received(PoolReleaseRequest.class)).isEmpty();
    }

    @Test
    void aClientMayHoldOnlyOneMightWaitKey() {
        PoolCounter a = new PoolCounter(client, "T", TYPE, "a");
        PoolCounter b = new PoolCounter(client, "T", TYPE, "b");
        assertThat(a.acquireForMe().code()).isEqualTo(Code.LOCKED);

        PoolCounterStatus refused = b.acquireForAnyone();
        assertThat(refused.code()).isEqualTo(Code.ERROR);
        assertThat(refused.message()).contains("single non-nowait lock");
        // The holder itself may not take a second one either (MediaWiki checks before LOCK_HELD).
        assertThat(a.acquireForMe().code()).isEqualTo(Code.ERROR);
        assertThat(node.received(PoolAcquireRequest.class)).hasSize(1); // refused locally

        // nowait: keys do not count, and a second client is another "process".
        PoolCounter nowait = new PoolCounter(client, "T", NOWAIT, "nowait:n");
        assertThat(nowait.acquireForMe(0).code()).isEqualTo(Code.LOCKED);
        try (BatonClient other = node.client(Duration.ofMillis(300))) {
            assertThat(new PoolCounter(other, "T", TYPE, "b").acquireForMe().code()).isEqualTo(Code.LOCKED);
        }

        assertThat(a.release().code()).isEqualTo(Code.RELEASED);
        assertThat(b.acquireForMe().code()).isEqualTo(Code.LOCKED);
    }

    @Test
    void nowaitKeysMustNotWait() {
        PoolCounter configuredToWait = new PoolCounter(client, "T", TYPE, "nowait:x");
        PoolCounterStatus s = configuredToWait.acquireForMe(0);
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("nowait: must have 0 timeout");

        PoolCounter nowait = new PoolCounter(client, "T", NOWAIT, "nowait:x");
        assertThat(nowait.acquireForAnyone(3).code()).isEqualTo(Code.ERROR);
        assertThat(node.received(PoolAcquireRequest.class)).isEmpty();

        assertThat(nowait.acquireForAnyone().code()).isEqualTo(Code.LOCKED);
        // This object holds its slot already: PoolCounterRedis's LOCK_HELD, without asking the server.
        assertThat(nowait.acquireForMe().code()).isEqualTo(Code.LOCK_HELD);
        assertThat(node.received(PoolAcquireRequest.class)).hasSize(1);
    }

    @Test
    void refusalsAreErrorsThatFreeTheMightWaitKey() {
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT");
        };
        PoolCounterStatus s = new PoolCounter(client, "T", TYPE, "k").acquireForMe();
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("InvalidArgumentException").contains("INVALID_ARGUMENT");

        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.FAILED_PRECONDITION, "WAIT_FOR_RESPONSE");
        };
        assertThat(new PoolCounter(client, "T", TYPE, "k").acquireForMe().message()).contains("WAIT_FOR_RESPONSE");

        node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, 5);
        assertThat(new PoolCounter(client, "T", TYPE, "k").acquireForMe().code()).isEqualTo(Code.LOCKED);
    }

    @Test
    void anUnknownAcquireIsClearedUpByFenceInTheBackground() throws InterruptedException {
        // Another PoolCounter of the client holds a slot on the key (fence 50): it must survive.
        node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, 50);
        PoolCounter other = new PoolCounter(client, "T", NOWAIT, "nowait:k");
        assertThat(other.acquireForMe().code()).isEqualTo(Code.LOCKED);

        // The next acquire gets no answer: the cluster may have granted it (as fence 51).
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
        };
        node.sessionGet = r -> SessionInfo.newBuilder().setSession(r.getSession())
                .addPoolSlots(PoolSlot.newBuilder().setKey("nowait:k").setState("HELD").setId(50))
                .addPoolSlots(PoolSlot.newBuilder().setKey("nowait:k").setState("HELD").setId(51))
                .addPoolSlots(PoolSlot.newBuilder().setKey("elsewhere").setState("HELD").setId(52))
                .build();
        PoolCounter pc = new PoolCounter(client, "T", NOWAIT, "nowait:k");
        PoolCounterStatus s = pc.acquireForMe();
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("unknown");

        await(() -> !ClientRegistry.inDoubt(client, "nowait:k"), "the key is cleared up");
        assertThat(node.received(GetSessionRequest.class)).isNotEmpty();
        assertThat(node.received(PoolReleaseRequest.class)).singleElement().satisfies(r -> {
            assertThat(r.getKey()).isEqualTo("nowait:k");
            assertThat(r.getFence()).isEqualTo(51);
        });
        node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, 60);
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
    }

    @Test
    void whileAnAcquireIsInDoubtTheKeyAndTheMightWaitKeyStayTaken() throws InterruptedException {
        node.poolAcquire = r -> {
            throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
        };
        AtomicBoolean reachable = new AtomicBoolean();
        AtomicBoolean waitEnded = new AtomicBoolean();
        node.sessionGet = r -> {
            if (!reachable.get()) {
                throw FakeBaton.error(Status.Code.UNAVAILABLE, null); // still unreachable for a while
            }
            // the acquire waits, then is granted (fence 3) with nobody to tell
            return SessionInfo.newBuilder().setSession(r.getSession()).addPoolSlots(waitEnded.get()
                    ? PoolSlot.newBuilder().setKey("k").setState("HELD").setId(3)
                    : PoolSlot.newBuilder().setKey("k").setState("WAIT_ME").setId(77)).build();
        };
        // A waiting acquire retries unavailability for its timeout plus retryFor: keep the timeout short.
        PoolCounter pc = new PoolCounter(client, "T", PoolType.of(2, 10, 1), "k");
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.ERROR);
        assertThat(new PoolCounter(client, "T", TYPE, "j").acquireForMe().message()).contains("single non-nowait");
        assertThat(pc.acquireForMe(0).code()).isEqualTo(Code.ERROR);
        assertThat(ClientRegistry.inDoubt(client, "k")).isTrue();
        int readsBefore = node.received(GetSessionRequest.class).size();
        reachable.set(true);
        await(() -> node.received(GetSessionRequest.class).size() >= readsBefore + 2, "the session read while the slot waits");
        // A waiting slot is left to end: cancelling "the newest slot of the key" could hit another grant.
        assertThat(ClientRegistry.inDoubt(client, "k")).isTrue();
        assertThat(node.received(PoolReleaseRequest.class)).isEmpty();
        waitEnded.set(true);

        await(() -> !ClientRegistry.inDoubt(client, "k"), "the key is cleared up");
        assertThat(node.received(PoolReleaseRequest.class)).singleElement()
                .satisfies(r -> assertThat(r.getFence()).isEqualTo(3));
        node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, 8);
        assertThat(new PoolCounter(client, "T", TYPE, "j").acquireForMe().code()).isEqualTo(Code.LOCKED);
    }

    @Test
    void aReleaseWithoutAnswerIsRetriedInTheBackground() throws InterruptedException {
        PoolCounter pc = new PoolCounter(client, "T", TYPE, "k");
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
        long fence = pc.fence();
        AtomicBoolean reachable = new AtomicBoolean();
        node.poolRelease = r -> {
            if (!reachable.get()) {
                throw FakeBaton.error(Status.Code.UNAVAILABLE, null);
            }
            return reply(PoolStatus.POOL_RELEASED, r.getFence());
        };
        PoolCounterStatus s = pc.release();
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("background");
        // Still unreachable: the client's might-wait key stays taken by the slot being released.
        assertThat(new PoolCounter(client, "T", TYPE, "j").acquireForMe().message()).contains("single non-nowait");
        reachable.set(true);

        PoolCounter next = new PoolCounter(client, "T", TYPE, "j");
        await(() -> next.acquireForMe().code() == Code.LOCKED, "the might-wait key is free after the release");
        assertThat(node.received(PoolReleaseRequest.class)).allSatisfy(r -> assertThat(r.getFence()).isEqualTo(fence));
        assertThat(node.received(PoolReleaseRequest.class).stream()
                .filter(r -> r.getFence() == fence).count()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void aLostSessionIsAnError() {
        PoolCounter pc = new PoolCounter(client, "T", TYPE, "k");
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
        node.poolRelease = r -> {
            throw FakeBaton.error(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION");
        };
        PoolCounterStatus s = pc.release();
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("SessionLostException");
        assertThat(pc.fence()).isZero();
        // The client now fails session calls at once: still an ERROR status, not an exception.
        assertThat(new PoolCounter(client, "T", TYPE, "k").acquireForMe().message()).contains("SessionLost");
    }

    @Test
    void anInterruptedAcquireIsAnErrorAndIsClearedUp() throws InterruptedException {
        CountDownLatch testOver = new CountDownLatch(1);
        node.poolAcquire = r -> {
            try {
                testOver.await(); // never answers while the test runs
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw FakeBaton.error(Status.Code.CANCELLED, null);
        };
        PoolCounter pc = new PoolCounter(client, "T", TYPE, "k");
        Thread.currentThread().interrupt();
        PoolCounterStatus s;
        try {
            s = pc.acquireForMe();
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
        testOver.countDown();
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("BatonInterruptedException");
        await(() -> !ClientRegistry.inDoubt(client, "k"), "the key is cleared up");
        node.poolAcquire = r -> reply(PoolStatus.POOL_LOCKED, 8);
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
    }
}
