package dev.baton.it.poolcounter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.client.PoolInfo;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonSession;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.poolcounter.PoolCounter;
import dev.baton.client.poolcounter.PoolCounterStatus;
import dev.baton.client.poolcounter.PoolCounterStatus.Code;
import dev.baton.client.poolcounter.PoolType;
import dev.baton.it.Nodes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every {@link PoolCounter} method against real Baton nodes; run on one node and on a three-node
 * cluster by the subclasses. Each test uses its own keys, so the tests share one cluster.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class PoolCounterCases {
    private static final AtomicInteger KEYS = new AtomicInteger();

    Nodes nodes;
    private final List<BatonClient> clients = new ArrayList<>();

    /** Starts the cluster the tests run against. */
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

    BatonClient client() {
        BatonClient c = nodes.client();
        clients.add(c);
        return c;
    }

    static String key(String what) {
        return what + "-" + KEYS.incrementAndGet();
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            Thread.sleep(20);
        }
    }

    private PoolInfo pool(String key) {
        return clients.get(0).pools().get(key);
    }

    @Test
    void aWaitCancelledByAReleaseOfItsKeyIsAnsweredAtOnce() throws Exception {
        String key = key("cancelled-wait");
        BatonClient holder = client();
        assertThat(holder.pools().acquire(key, 1, 10, Duration.ZERO, false).status()).isEqualTo(PoolStatus.LOCKED);
        BatonSession waiter = client().newSession();
        // an hour's wait, held by the server: only the cancel can answer it while the test runs
        CompletableFuture<PoolReply> wait = waiter.pools().acquireAsync(key, 1, 10, Duration.ofHours(1), false);
        await(() -> pool(key).waiting() == 1, "the waiter is queued");

        PoolReply cancel = waiter.pools().release(key);
        assertThat(cancel.status()).isEqualTo(PoolStatus.RELEASED);
        assertThat(cancel.fence()).as("a cancelled wait, not a grant").isZero();
        PoolReply ended = wait.get(60, TimeUnit.SECONDS);
        assertThat(ended.status()).isEqualTo(PoolStatus.RELEASED);
        assertThat(ended.fence()).isZero();
        assertThat(pool(key).waiting()).isZero();
        assertThat(pool(key).processing()).isEqualTo(1);
    }

    @Test
    void acquireForMeAndRelease() {
        BatonClient c = client();
        PoolCounter pc = new PoolCounter(c, "T", PoolType.of(1, 5, 0), key("me"));
        assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
        long fence = pc.fence();
        assertThat(fence).isPositive();
        PoolInfo info = pool(pc.key());
        assertThat(info.processing()).isEqualTo(1);
        assertThat(info.holders().get(0).session()).isEqualTo(c.sessionId());
        assertThat(info.holders().get(0).fence()).isEqualTo(fence);

        assertThat(pc.release().code()).isEqualTo(Code.RELEASED);
        assertThat(pool(pc.key()).exists()).isFalse();
        assertThat(pc.release().code()).isEqualTo(Code.NOT_LOCKED);

        assertThat(pc.acquireForMe(Duration.ZERO).code()).isEqualTo(Code.LOCKED);
        assertThat(pc.fence()).isGreaterThan(fence);
        assertThat(pc.release().code()).isEqualTo(Code.RELEASED);
    }

    @Test
    void workersAndMaxQueueAreEnforcedAcrossClients() {
        String key = key("limits");
        PoolType type = PoolType.of(2, 3, 0);
        PoolCounter a = new PoolCounter(client(), "T", type, key);
        PoolCounter b = new PoolCounter(client(), "T", type, key);
        PoolCounter c = new PoolCounter(client(), "T", type, key);
        assertThat(a.acquireForMe().code()).isEqualTo(Code.LOCKED);
        assertThat(b.acquireForAnyone().code()).isEqualTo(Code.LOCKED);
        assertThat(c.acquireForMe(0).code()).isEqualTo(Code.TIMEOUT); // 2 workers busy, no wait
        assertThat(c.acquireForAnyone(0).code()).isEqualTo(Code.TIMEOUT);

        PoolCounter full = new PoolCounter(client(), "T", PoolType.of(2, 2, 0), key);
        assertThat(full.acquireForMe().code()).isEqualTo(Code.QUEUE_FULL); // holders + waiters >= maxqueue
        assertThat(a.release().code()).isEqualTo(Code.RELEASED);
        assertThat(c.acquireForMe().code()).isEqualTo(Code.LOCKED);
        b.release();
        c.release();
    }

    @Test
    void aWaiterForAnyoneGetsDoneWhenTheHolderReleases() throws Exception {
        String key = key("anyone");
        PoolType type = PoolType.of(1, 10, 30);
        PoolCounter holder = new PoolCounter(client(), "T", type, key);
        PoolCounter waiter = new PoolCounter(client(), "T", type, key);
        assertThat(holder.acquireForMe().code()).isEqualTo(Code.LOCKED);

        CompletableFuture<PoolCounterStatus> waiting = CompletableFuture.supplyAsync(waiter::acquireForAnyone);
        await(() -> pool(key).waiting() == 1, "the for-anyone request waits");
        assertThat(holder.release().code()).isEqualTo(Code.RELEASED);
        assertThat(waiting.get(30, TimeUnit.SECONDS).code()).isEqualTo(Code.DONE);
        assertThat(waiter.fence()).isZero();
        assertThat(waiter.release().code()).isEqualTo(Code.NOT_LOCKED);
        assertThat(pool(key).exists()).isFalse();
    }

    @Test
    void aWaiterForMeGetsTheSlotWithANewerFence() throws Exception {
        String key = key("handoff");
        PoolType type = PoolType.of(1, 10, 30);
        PoolCounter holder = new PoolCounter(client(), "T", type, key);
        PoolCounter waiter = new PoolCounter(client(), "T", type, key);
        assertThat(holder.acquireForMe().code()).isEqualTo(Code.LOCKED);
        long first = holder.fence();

        CompletableFuture<PoolCounterStatus> waiting = CompletableFuture.supplyAsync(() -> waiter.acquireForMe(20));
        await(() -> pool(key).waiting() == 1, "the for-me request waits");
        holder.release();
        assertThat(waiting.get(30, TimeUnit.SECONDS).code()).isEqualTo(Code.LOCKED);
        assertThat(waiter.fence()).isGreaterThan(first);
        assertThat(waiter.release().code()).isEqualTo(Code.RELEASED);
    }

    @Test
    void aWaitTimesOut() {
        String key = key("timeout");
        PoolCounter holder = new PoolCounter(client(), "T", PoolType.of(1, 10, 1), key);
        PoolCounter waiter = new PoolCounter(client(), "T", PoolType.of(1, 10, 1), key);
        assertThat(holder.acquireForMe().code()).isEqualTo(Code.LOCKED);
        assertThat(waiter.acquireForMe().code()).isEqualTo(Code.TIMEOUT);
        assertThat(waiter.acquireForAnyone(1).code()).isEqualTo(Code.TIMEOUT);
        holder.release();
    }

    @Test
    void theSessionsSlotLimitIsLockHeld() {
        BatonClient c = client();
        PoolType nowait = PoolType.of(1, 10, 0);
        List<PoolCounter> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) { // poolcounterd's 4 slots per connection; Baton's per session
            PoolCounter pc = new PoolCounter(c, "T", nowait, "nowait:" + key("slot"));
            assertThat(pc.acquireForMe().code()).isEqualTo(Code.LOCKED);
            held.add(pc);
        }
        PoolCounter fifth = new PoolCounter(c, "T", nowait, "nowait:" + key("slot"));
        assertThat(fifth.acquireForMe().code()).isEqualTo(Code.LOCK_HELD);
        held.get(2).release();
        assertThat(fifth.acquireForMe().code()).isEqualTo(Code.LOCKED);
    }

    @Test
    void oneMightWaitKeyPerClient() {
        BatonClient c = client();
        PoolCounter first = new PoolCounter(c, "T", PoolType.of(1, 10, 5), key("a"));
        PoolCounter second = new PoolCounter(c, "T", PoolType.of(1, 10, 5), key("b"));
        assertThat(first.acquireForMe().code()).isEqualTo(Code.LOCKED);
        PoolCounterStatus refused = second.acquireForMe();
        assertThat(refused.code()).isEqualTo(Code.ERROR);
        assertThat(refused.message()).contains("single non-nowait lock");
        assertThat(pool(second.key()).exists()).isFalse();

        PoolCounter waiting = new PoolCounter(c, "T", PoolType.of(1, 10, 0), "nowait:" + key("c"));
        assertThat(waiting.acquireForMe(5).message()).contains("must have 0 timeout");
        assertThat(waiting.acquireForMe().code()).isEqualTo(Code.LOCKED); // nowait keys do not count

        first.release();
        assertThat(second.acquireForMe().code()).isEqualTo(Code.LOCKED);
        second.release();
        waiting.release();
    }

    @Test
    void slotsShareOneKeyPerBucket() {
        // Find two keys in the same bucket of 2 and one in the other, by MediaWiki's hash.
        List<String> bucket0 = new ArrayList<>();
        String other = null;
        for (int i = 0; bucket0.size() < 2 || other == null; i++) {
            String k = "page-" + i;
            if (PoolCounter.hashKeyIntoSlots("Slotted", k, 2).endsWith(":0")) {
                bucket0.add(k);
            } else {
                other = k;
            }
        }
        String type = key("Slotted");
        PoolType slotted = PoolType.builder().workers(1).maxQueue(10).slots(2).build();
        PoolCounter a = new PoolCounter(client(), type, slotted, bucket0.get(0));
        PoolCounter b = new PoolCounter(client(), type, slotted, bucket0.get(1));
        PoolCounter c = new PoolCounter(client(), type, slotted, other);
        assertThat(a.key()).isEqualTo(type + ":0").isEqualTo(b.key());
        assertThat(c.key()).isEqualTo(type + ":1");
        assertThat(a.acquireForMe().code()).isEqualTo(Code.LOCKED);
        assertThat(b.acquireForMe().code()).isEqualTo(Code.TIMEOUT); // same bucket: one worker
        assertThat(c.acquireForMe().code()).isEqualTo(Code.LOCKED);
        a.release();
        c.release();
    }

    @Test
    void releasesAreExactWhenCountersShareASession() {
        BatonClient c = client();
        String key = "nowait:" + key("shared");
        PoolType type = PoolType.of(3, 10, 0);
        PoolCounter first = new PoolCounter(c, "T", type, key);
        PoolCounter second = new PoolCounter(c, "T", type, key);
        PoolCounter third = new PoolCounter(c, "T", type, key);
        first.acquireForMe();
        second.acquireForMe();
        third.acquireForMe();
        // poolcounterd would release the newest slot (third's); Baton releases the one quoted.
        assertThat(first.release().code()).isEqualTo(Code.RELEASED);
        assertThat(pool(key).holders()).extracting(h -> h.fence())
                .containsExactlyInAnyOrder(second.fence(), third.fence());
        assertThat(second.release().code()).isEqualTo(Code.RELEASED);
        assertThat(pool(key).holders()).extracting(h -> h.fence()).containsExactly(third.fence());
        third.release();
    }

    @Test
    void refusalsAreErrors() {
        PoolCounter tooLong = new PoolCounter(client(), "T", PoolType.of(1, 1, 0), "k".repeat(600));
        PoolCounterStatus s = tooLong.acquireForMe();
        assertThat(s.code()).isEqualTo(Code.ERROR);
        assertThat(s.message()).contains("INVALID_ARGUMENT");
        // The refusal freed the client's might-wait key.
        assertThat(new PoolCounter(clients.get(0), "T", PoolType.of(1, 1, 0), key("ok")).acquireForMe().code())
                .isEqualTo(Code.LOCKED);
    }
}
