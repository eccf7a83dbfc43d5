package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.OpenSessionResponse;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** Request ids never run more than 48 ahead of the oldest unanswered one. */
class RequestWindowTest extends TestSupport {

    @Test
    void writesBeyondTheWindowWaitForTheOldestUnansweredOne() {
        FakeNode a = node("w:1");
        CountDownLatch answer = new CountDownLatch(1);
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            answer.await();
            return LockReply.getDefaultInstance();
        });
        a.handle(PoolsGrpc.getReleaseMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_RELEASED).build());
        BatonClient client = client("w:1");

        var stuck = client.locks().acquireAsync("l", Duration.ofMinutes(5)); // id 1
        List<CompletableFuture<dev.baton.client.PoolReply>> releases = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            releases.add(client.pools().releaseAsync("k" + i));
        }

        // ids 2..49 go out (49 - 1 = 48 ahead); the other 12 wait, whatever the timing.
        assertThat(client.queuedWrites()).isEqualTo(12);
        await("48 releases answered", () -> releases.stream().filter(CompletableFuture::isDone).count() == 48);
        assertThat(client.queuedWrites()).isEqualTo(12);
        assertThat(a.received(PoolsGrpc.getReleaseMethod())).hasSize(48)
                .allMatch(r -> r.requestId() >= 2 && r.requestId() <= 49);

        answer.countDown();

        await("all answered", () -> releases.stream().allMatch(CompletableFuture::isDone));
        assertThat(stuck.join()).isNotNull();
        assertThat(releases).allMatch(f -> !f.isCompletedExceptionally());
        assertThat(a.received(PoolsGrpc.getReleaseMethod())).hasSize(60)
                .extracting(FakeNode.Received::requestId).doesNotHaveDuplicates()
                .allMatch(id -> id >= 2 && id <= 61);
        assertThat(client.queuedWrites()).isZero();
    }

    @Test
    void aWriteCancelledWhileWaitingForAnIdIsNeverSentAndCloseFailsTheRest() {
        FakeNode a = node("w:2");
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            hang();
            return LockReply.getDefaultInstance();
        });
        BatonClient client = track(builder("w:2").build());
        List<CompletableFuture<dev.baton.client.LockReply>> calls = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            calls.add(client.locks().acquireAsync("l" + i, Duration.ofMinutes(5))); // ids 1..49 out, 1 waits
        }
        assertThat(client.queuedWrites()).isEqualTo(1);
        var cancelled = client.pools().releaseAsync("k");
        var closedOut = client.pools().releaseAsync("k2");
        assertThat(client.queuedWrites()).isEqualTo(3);
        cancelled.cancel(true);
        await("49 acquires arrive", () -> a.received(LocksGrpc.getAcquireMethod()).size() == 49);

        client.close();

        assertThatThrownBy(closedOut::join).hasCauseExactlyInstanceOf(BatonClosedException.class);
        assertThatThrownBy(() -> calls.get(0).join()).hasCauseExactlyInstanceOf(BatonClosedException.class);
        assertThat(a.received(PoolsGrpc.getReleaseMethod())).isEmpty();
    }

    @Test
    void requestIdsStartWhereTheServerSaysWhenASessionIsTakenOver() {
        FakeNode a = node("w:3");
        a.handle(SessionsGrpc.getOpenMethod(), req -> OpenSessionResponse.newBuilder().setSession(7).setTtlMs(10_000)
                .setExisting(true).setNextRequestId(300).build());
        a.handle(PoolsGrpc.getReleaseMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_RELEASED).build());
        BatonClient client = client("w:3");

        client.pools().release("k1");
        client.pools().release("k2");

        assertThat(a.received(PoolsGrpc.getReleaseMethod())).extracting(FakeNode.Received::requestId)
                .containsExactly(300L, 301L);
    }

    @Test
    void aServerThatDoesNotSayLeavesIdsStartingAtOne() {
        FakeNode a = node("w:4"); // answers Open without next_request_id
        a.handle(PoolsGrpc.getReleaseMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_RELEASED).build());
        BatonClient client = client("w:4");

        client.pools().release("k1");

        assertThat(a.received(PoolsGrpc.getReleaseMethod())).extracting(FakeNode.Received::requestId).containsExactly(1L);
    }
}
