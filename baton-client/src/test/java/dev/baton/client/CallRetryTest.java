package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.GetPoolRequest;
import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolInfo;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Retries with the same request id, leader following, deadlines, and opening the session. */
class CallRetryTest extends TestSupport {

    @Test
    void unavailableIsRetriedOnTheNextEndpointWithTheSameRequestId() {
        FakeNode a = node("a:1");
        FakeNode b = node("b:1");
        a.handle(PoolsGrpc.getAcquireMethod(), req -> {
            throw FakeNode.error(Status.Code.UNAVAILABLE, null);
        });
        b.handle(PoolsGrpc.getAcquireMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED)
                .setKey(((PoolAcquireRequest) req).getKey()).setFence(7).build());
        BatonClient client = client("a:1", "b:1");

        var reply = client.pools().acquire("k", 2, 10, Duration.ZERO, false);

        assertThat(reply.status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        assertThat(reply.fence()).isEqualTo(7);
        assertThat(client.stats().retries()).as("the attempt on a was sent again").isPositive();
        assertThat(client.stats().openSessions()).isEqualTo(1);
        List<FakeNode.Received> onA = a.received(PoolsGrpc.getAcquireMethod());
        List<FakeNode.Received> onB = b.received(PoolsGrpc.getAcquireMethod());
        assertThat(onA).hasSize(1);
        assertThat(onB).hasSize(1);
        assertThat(onA.get(0).requestId()).isEqualTo(1L).isEqualTo(onB.get(0).requestId());
        assertThat(onA.get(0).request()).isEqualTo(onB.get(0).request());
        PoolAcquireRequest sent = (PoolAcquireRequest) onB.get(0).request();
        assertThat(sent.getSession()).isEqualTo(FakeNode.SESSION);
        assertThat(sent.getKey()).isEqualTo("k");
        assertThat(sent.getWorkers()).isEqualTo(2);
        assertThat(sent.getMaxQueue()).isEqualTo(10);
        assertThat(sent.getReturnQueued()).isFalse();

        // The next call goes straight to b, with a new, larger request id.
        client.pools().acquire("k", 2, 10, Duration.ZERO, false);
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
        onB = b.received(PoolsGrpc.getAcquireMethod());
        assertThat(onB).hasSize(2);
        assertThat(onB.get(1).requestId()).isGreaterThan(onB.get(0).requestId());
        client.locks().release("l");
        assertThat(b.received(LocksGrpc.getReleaseMethod()).get(0).requestId()).isGreaterThan(onB.get(1).requestId());
    }

    @Test
    void leaderTrailerOnASuccessMovesLaterCallsToTheLeaderEvenIfNotListed() {
        FakeNode a = node("a:2");
        FakeNode b = node("b:2");
        FakeNode c = node("c:2");
        BatonClient client = client("a:2", "b:2");
        a.leader = "c:2";

        client.pools().get("x");
        assertThat(a.received(PoolsGrpc.getGetMethod())).hasSize(1);
        assertThat(client.currentEndpoint()).isEqualTo("c:2");

        client.pools().get("y");
        client.pools().totals();
        assertThat(a.received(PoolsGrpc.getGetMethod())).hasSize(1);
        assertThat(b.received(PoolsGrpc.getGetMethod())).isEmpty();
        assertThat(c.received(PoolsGrpc.getGetMethod())).hasSize(1);
        assertThat(((GetPoolRequest) c.received(PoolsGrpc.getGetMethod()).get(0).request()).getKey()).isEqualTo("y");
        assertThat(c.received(PoolsGrpc.getTotalsMethod())).hasSize(1);
    }

    @Test
    void leaderTrailerOnAFailureSendsTheRetryToTheLeader() {
        FakeNode a = node("a:3");
        FakeNode b = node("b:3");
        FakeNode c = node("c:3");
        BatonClient client = client("a:3", "b:3", "c:3");
        a.leader = "c:3";
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            throw FakeNode.error(Status.Code.UNAVAILABLE, null);
        });
        c.handle(LocksGrpc.getAcquireMethod(), req -> LockReply.newBuilder().setStatus(LockStatus.LOCK_LOCKED)
                .setName(((LockAcquireRequest) req).getName()).setFence(3).build());

        var reply = client.locks().acquire("l", Duration.ZERO);

        assertThat(reply.status()).isEqualTo(dev.baton.client.LockStatus.LOCKED);
        assertThat(b.received(LocksGrpc.getAcquireMethod())).isEmpty();
        assertThat(c.received(LocksGrpc.getAcquireMethod()).get(0).requestId())
                .isEqualTo(a.received(LocksGrpc.getAcquireMethod()).get(0).requestId());
    }

    @Test
    void retryForBoundsRetries() {
        FakeNode a = node("a:4");
        FakeNode b = node("b:4");
        // 2 s: room for a second attempt even if the test's threads stall (it ends as soon as the budget does).
        BatonClient client = track(builder("a:4", "b:4").retryFor(Duration.ofSeconds(2)).build());
        for (FakeNode n : List.of(a, b)) {
            n.handle(PoolsGrpc.getGetMethod(), req -> {
                throw FakeNode.error(Status.Code.UNAVAILABLE, null);
            });
        }

        assertThatThrownBy(() -> client.pools().get("x"))
                .isExactlyInstanceOf(BatonUnavailableException.class)
                .satisfies(e -> {
                    BatonUnavailableException u = (BatonUnavailableException) e;
                    assertThat(u.statusCode()).isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(u.attempts()).isGreaterThanOrEqualTo(2);
                    int seen = a.received(PoolsGrpc.getGetMethod()).size() + b.received(PoolsGrpc.getGetMethod()).size();
                    assertThat(seen).isEqualTo(u.attempts());
                });
        assertThat(a.received(PoolsGrpc.getGetMethod())).isNotEmpty();
        assertThat(b.received(PoolsGrpc.getGetMethod())).isNotEmpty();
    }

    @Test
    void noRetryAtAllWhenRetryForIsZero() {
        FakeNode a = node("a:5");
        FakeNode b = node("b:5");
        BatonClient client = track(builder("a:5", "b:5").retryFor(Duration.ZERO).build());
        a.handle(PoolsGrpc.getGetMethod(), req -> {
            throw FakeNode.error(Status.Code.UNAVAILABLE, null);
        });

        assertThatThrownBy(() -> client.pools().get("x")).isInstanceOf(BatonUnavailableException.class);
        assertThat(a.received(PoolsGrpc.getGetMethod())).hasSize(1);
        assertThat(b.received(PoolsGrpc.getGetMethod())).isEmpty();
    }

    @Test
    void deadlineExceededOfACallThatDoesNotWaitIsRetriedWithTheSameRequestId() {
        FakeNode a = node("a:6");
        FakeNode b = node("b:6");
        BatonClient client = track(builder("a:6", "b:6").requestTimeout(Duration.ofMillis(300)).build());
        a.handle(PoolsGrpc.getReleaseMethod(), req -> {
            hang();
            return PoolReply.getDefaultInstance();
        });
        b.handle(PoolsGrpc.getReleaseMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_RELEASED).build());

        assertThat(client.pools().release("k").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        assertThat(b.received(PoolsGrpc.getReleaseMethod()).get(0).requestId())
                .isEqualTo(a.received(PoolsGrpc.getReleaseMethod()).get(0).requestId());
    }

    @Test
    void aWaitingAcquireGetsItsWaitTimeoutPlusTheRequestTimeout() {
        FakeNode a = node("a:7");
        BatonClient client = track(builder("a:7").requestTimeout(Duration.ofMillis(200)).build());
        // The server answers after longer than the request timeout, well within the wait timeout.
        a.handle(PoolsGrpc.getAcquireMethod(), req -> {
            Thread.sleep(600);
            return PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED).setFence(9).build();
        });

        var reply = client.pools().acquire("k", 1, 5, Duration.ofSeconds(30), false);

        assertThat(reply.status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
        PoolAcquireRequest sent = (PoolAcquireRequest) a.received(PoolsGrpc.getAcquireMethod()).get(0).request();
        assertThat(sent.getTimeoutMs()).isEqualTo(30_000);
        assertThat(sent.getReturnQueued()).isFalse();
    }

    @Test
    void aWaitingAcquireThatGetsNoAnswerIsNotRetriedAndItsOutcomeIsUnknown() {
        FakeNode a = node("a:8");
        FakeNode b = node("b:8");
        BatonClient client = track(builder("a:8", "b:8").requestTimeout(Duration.ofMillis(200)).build());
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            hang();
            return LockReply.getDefaultInstance();
        });

        assertThatThrownBy(() -> client.locks().acquire("l", Duration.ofMillis(100)))
                .isExactlyInstanceOf(BatonUnavailableException.class)
                .satisfies(e -> assertThat(((BatonException) e).statusCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
        // The call itself was not retried; the client then settles that request in the background
        // (docs/client.md): only ever the same request id again, never a new acquire.
        long id = a.received(LocksGrpc.getAcquireMethod()).get(0).requestId();
        assertThat(a.received(LocksGrpc.getAcquireMethod())).allSatisfy(r -> assertThat(r.requestId()).isEqualTo(id));
        assertThat(b.received(LocksGrpc.getAcquireMethod())).allSatisfy(r -> assertThat(r.requestId()).isEqualTo(id));
    }

    @Test
    void openIsRetriedOnAnotherNodeWithTheSameClientToken() {
        FakeNode a = node("a:9");
        FakeNode b = node("b:9");
        a.handle(SessionsGrpc.getOpenMethod(), req -> {
            throw FakeNode.error(Status.Code.UNAVAILABLE, null);
        });
        b.grantedTtlMs = 4_000;

        BatonClient client = track(builder("a:9", "b:9").sessionTtl(Duration.ofSeconds(7)).build());

        assertThat(client.sessionId()).isEqualTo(FakeNode.SESSION);
        assertThat(client.sessionTtl()).isEqualTo(Duration.ofSeconds(4));
        OpenSessionRequest first = FakeNode.openOf(a.received(SessionsGrpc.getOpenMethod()).get(0));
        OpenSessionRequest second = FakeNode.openOf(b.received(SessionsGrpc.getOpenMethod()).get(0));
        assertThat(first.getClientToken()).isNotEmpty().isEqualTo(second.getClientToken());
        assertThat(first.getTtlMs()).isEqualTo(7_000);
    }

    @Test
    void anExplicitClientTokenIsSent() {
        FakeNode a = node("a:10");
        track(builder("a:10").clientToken("worker-17").build());
        assertThat(FakeNode.openOf(a.received(SessionsGrpc.getOpenMethod()).get(0)).getClientToken())
                .isEqualTo("worker-17");
    }

    @Test
    void buildFailsWhenNoNodeAnswers() {
        assertThatThrownBy(() -> builder("nowhere:1", "nowhere:2").retryFor(Duration.ofMillis(200)).build())
                .isExactlyInstanceOf(BatonUnavailableException.class);
    }

    @Test
    void buildFailsAtOnceWhenTheServerRefusesTheSession() {
        FakeNode a = node("a:11");
        a.handle(SessionsGrpc.getOpenMethod(), req -> {
            throw FakeNode.error(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED");
        });
        assertThatThrownBy(() -> builder("a:11").build()).isExactlyInstanceOf(LimitExceededException.class);
        assertThat(a.received(SessionsGrpc.getOpenMethod())).hasSize(1);
    }

    @Test
    void readsAreNotTiedToTheSession() {
        FakeNode a = node("a:12");
        a.handle(PoolsGrpc.getGetMethod(), req -> PoolInfo.newBuilder().setKey(((GetPoolRequest) req).getKey())
                .setExists(true).setProcessing(3).build());
        BatonClient client = client("a:12");
        var info = client.pools().get("busy");
        assertThat(info.key()).isEqualTo("busy");
        assertThat(info.processing()).isEqualTo(3);
        assertThat(FakeNode.longField(a.received(PoolsGrpc.getGetMethod()).get(0).request(), "request_id")).isEqualTo(-1);
    }
}
