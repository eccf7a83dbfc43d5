package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.EventCompleted;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolWaitEnded;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionEnded;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionsGrpc;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Keep-alives, fail-over of the stream, session loss, events and close(). */
class SessionTest extends TestSupport {
    private final List<SessionLostException> lost = new CopyOnWriteArrayList<>();
    private final List<BatonEvent> events = new CopyOnWriteArrayList<>();

    private BatonClient watchedClient(String... endpoints) {
        return track(builder(endpoints).onSessionLost(lost::add).onEvent(events::add).build());
    }

    private static long ours(List<KeepAliveRequest> keepAlives) {
        return keepAlives.stream().filter(k -> k.getSession() == FakeNode.SESSION).count();
    }

    @Test
    void keepAlivesAreSentRepeatedlyWithTheSessionId() {
        FakeNode a = node("s:1");
        a.grantedTtlMs = 300;
        BatonClient client = watchedClient("s:1");

        await("3 keep-alives", () -> a.keepAlives.size() >= 3);
        assertThat(a.keepAlives).allMatch(k -> k.getSession() == FakeNode.SESSION);
        assertThat(client.sessionTtl()).isEqualTo(Duration.ofMillis(300));
        await("alive", client::sessionAlive);
        assertThat(client.sessionState()).isEqualTo(SessionState.ALIVE);
        assertThat(events).as("acks are not forwarded").isEmpty();
        assertThat(lost).isEmpty();
    }

    @Test
    void theStreamMovesToAnotherNodeWhenItFails() {
        FakeNode a = node("s:2a");
        FakeNode b = node("s:2b");
        a.grantedTtlMs = 300;
        b.grantedTtlMs = 300;
        watchedClient("s:2a", "s:2b");
        await("keep-alives on a", () -> a.keepAlives.size() >= 1);

        a.failStreams(Status.Code.UNAVAILABLE, null);

        await("2 keep-alives on b", () -> ours(b.keepAlives) >= 2);
        assertThat(lost).isEmpty();
    }

    @Test
    void theStreamMovesToAnotherNodeWhenTheNodeDies() {
        FakeNode a = node("s:3a");
        FakeNode b = node("s:3b");
        a.grantedTtlMs = 300;
        b.grantedTtlMs = 300;
        BatonClient client = watchedClient("s:3a", "s:3b");
        await("keep-alives on a", () -> a.keepAlives.size() >= 1);

        a.kill();

        await("2 keep-alives on b", () -> ours(b.keepAlives) >= 2);
        // and calls follow
        b.handle(PoolsGrpc.getAcquireMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED).build());
        assertThat(client.pools().acquire("k", 1, 1, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        assertThat(lost).isEmpty();
    }

    @Test
    void aSilentStreamIsAbandonedForAnotherNode() {
        FakeNode a = node("s:4a");
        FakeNode b = node("s:4b");
        a.grantedTtlMs = 300;
        b.grantedTtlMs = 300;
        a.ackKeepAlives = false;
        watchedClient("s:4a", "s:4b");

        await("keep-alives on b", () -> ours(b.keepAlives) >= 2);
        assertThat(a.keepAlives).isNotEmpty();
        assertThat(lost).isEmpty();
    }

    @Test
    void noAckForLongerThanTheTtlMakesTheSessionSuspectUntilAcksResume() {
        FakeNode a = node("s:5a");
        FakeNode b = node("s:5b");
        for (FakeNode n : List.of(a, b)) {
            n.grantedTtlMs = 300;
        }
        BatonClient client = watchedClient("s:5a", "s:5b");
        await("alive", client::sessionAlive);
        a.ackKeepAlives = false;
        b.ackKeepAlives = false;

        await("suspect", () -> client.sessionState() == SessionState.SUSPECT);
        assertThat(client.sessionAlive()).isFalse();

        a.ackKeepAlives = true;
        b.ackKeepAlives = true;
        await("alive again", () -> client.sessionState() == SessionState.ALIVE);
        assertThat(lost).isEmpty();
    }

    @Test
    void sessionEndedForOurSessionLosesItOnceAndLaterCallsFailFast() {
        FakeNode a = node("s:6");
        a.grantedTtlMs = 300;
        BatonClient client = watchedClient("s:6");
        await("stream open", () -> !a.streams.isEmpty() && !a.keepAlives.isEmpty());

        SessionEvent ended = SessionEvent.newBuilder()
                .setSessionEnded(SessionEnded.newBuilder().setSession(FakeNode.SESSION).setExpired(true)).build();
        a.push(ended);
        a.push(ended);
        a.failStreams(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION");

        await("lost", () -> !lost.isEmpty());
        assertThat(lost.get(0).sessionId()).isEqualTo(FakeNode.SESSION);
        assertThat(lost.get(0).getMessage()).contains("expired");
        assertThat(events).contains(new BatonEvent.SessionEnded(FakeNode.SESSION, true));
        assertThat(client.sessionState()).isEqualTo(SessionState.LOST);
        assertThat(client.sessionAlive()).isFalse();

        assertThatThrownBy(() -> client.pools().acquire("k", 1, 1, Duration.ZERO, false))
                .isExactlyInstanceOf(SessionLostException.class);
        assertThat(client.locks().releaseAsync("l")).isCompletedExceptionally();
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).isEmpty();
        assertThat(a.received(LocksGrpc.getReleaseMethod())).isEmpty();
        // reads do not need the session
        client.pools().get("k");
        assertThat(a.received(PoolsGrpc.getGetMethod())).hasSize(1);
        assertThat(lost).hasSize(1);

        // A lost session is not closed again.
        client.close();
        assertThat(a.received(SessionsGrpc.getCloseMethod())).isEmpty();
        assertThat(lost).hasSize(1);
    }

    @Test
    void failedPreconditionOnTheStreamLosesTheSession() {
        FakeNode a = node("s:7a");
        FakeNode b = node("s:7b");
        a.grantedTtlMs = 300;
        BatonClient client = watchedClient("s:7a", "s:7b");
        await("stream open", () -> !a.streams.isEmpty() && !a.keepAlives.isEmpty());

        a.failStreams(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION");

        await("lost", () -> !lost.isEmpty());
        assertThatThrownBy(() -> client.events().begin("e")).isExactlyInstanceOf(SessionLostException.class);
        assertThat(b.keepAlives).as("a lost session's stream is not reopened").isEmpty();
        assertThat(lost).hasSize(1);
    }

    @Test
    void unknownSessionAnsweredToACallLosesTheSession() {
        FakeNode a = node("s:8");
        BatonClient client = watchedClient("s:8");
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            throw FakeNode.error(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION");
        });

        assertThatThrownBy(() -> client.locks().acquire("l", Duration.ZERO)).isExactlyInstanceOf(SessionLostException.class);
        await("lost", () -> !lost.isEmpty());
        assertThatThrownBy(() -> client.locks().acquire("l", Duration.ZERO)).isExactlyInstanceOf(SessionLostException.class);
        assertThat(a.received(LocksGrpc.getAcquireMethod())).hasSize(1);
        assertThat(client.sessionState()).isEqualTo(SessionState.LOST);
        assertThat(lost).hasSize(1);
    }

    @Test
    void sessionGetOfOurOwnSessionAnsweredNotFoundLosesTheSession() {
        FakeNode a = node("s:14");
        BatonClient client = watchedClient("s:14");
        a.handle(SessionsGrpc.getGetMethod(), req -> {
            throw FakeNode.error(Status.Code.NOT_FOUND, "UNKNOWN_SESSION");
        });

        assertThatThrownBy(() -> client.sessions().get(FakeNode.SESSION + 1)).isExactlyInstanceOf(NotFoundException.class);
        assertThat(client.sessionState()).as("another session's absence is not our loss").isNotEqualTo(SessionState.LOST);
        assertThatThrownBy(() -> client.sessions().get()).isExactlyInstanceOf(NotFoundException.class);
        await("lost", () -> !lost.isEmpty());
        assertThatThrownBy(() -> client.events().begin("e")).isExactlyInstanceOf(SessionLostException.class);
        assertThat(lost).hasSize(1);
    }

    @Test
    void eventsOtherThanAcksReachTheListenerInOrder() {
        FakeNode a = node("s:9");
        watchedClient("s:9");
        await("stream open", () -> !a.streams.isEmpty() && !a.keepAlives.isEmpty());

        SessionEvent other = SessionEvent.newBuilder()
                .setSessionEnded(SessionEnded.newBuilder().setSession(FakeNode.SESSION + 1)).build();
        SessionEvent waitEnded = SessionEvent.newBuilder().setPoolWaitEnded(PoolWaitEnded.newBuilder()
                .setSession(FakeNode.SESSION).setRequestId(5).setKey("k").setStatus(PoolStatus.POOL_LOCKED).setFence(11))
                .build();
        SessionEvent completed = SessionEvent.newBuilder()
                .setEventCompleted(EventCompleted.newBuilder().setName("ev")).build();
        a.push(other);
        a.push(waitEnded);
        a.push(completed);

        await("3 events", () -> events.size() >= 3);
        assertThat(events).containsExactly(new BatonEvent.SessionEnded(FakeNode.SESSION + 1, false),
                new BatonEvent.PoolWaitEnded(FakeNode.SESSION, 5, "k", dev.baton.client.PoolStatus.LOCKED, 11),
                new BatonEvent.EventCompleted("ev"));
        assertThat(lost).as("another session's end is not ours").isEmpty();
    }

    @Test
    void queuedAcquiresReturnTheirRequestId() {
        FakeNode a = node("s:10");
        a.handle(PoolsGrpc.getAcquireMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_QUEUED)
                .setKey(((PoolAcquireRequest) req).getKey()).build());
        a.handle(LocksGrpc.getAcquireMethod(), req -> LockReply.newBuilder().setStatus(LockStatus.LOCK_QUEUED).build());
        BatonClient client = watchedClient("s:10");

        var pool = client.pools().acquireQueued("k", 1, 5, Duration.ofSeconds(30), true);
        var lock = client.locks().acquireQueued("l", Duration.ofSeconds(30));

        assertThat(pool.reply().status()).isEqualTo(dev.baton.client.PoolStatus.QUEUED);
        PoolAcquireRequest sent = (PoolAcquireRequest) a.received(PoolsGrpc.getAcquireMethod()).get(0).request();
        assertThat(sent.getReturnQueued()).isTrue();
        assertThat(sent.getForAnyone()).isTrue();
        assertThat(sent.getRequestId()).isEqualTo(pool.requestId());
        assertThat(lock.reply().status()).isEqualTo(dev.baton.client.LockStatus.QUEUED);
        assertThat(a.received(LocksGrpc.getAcquireMethod()).get(0).requestId()).isEqualTo(lock.requestId());
    }

    @Test
    void closeSendsCloseWithTheSessionIdOnceAndEndsTheStream() {
        FakeNode a = node("s:11");
        BatonClient client = watchedClient("s:11");
        await("stream open", () -> !a.streams.isEmpty() && !a.keepAlives.isEmpty());
        client.pools().release();

        client.close();
        client.close();

        List<FakeNode.Received> closes = a.received(SessionsGrpc.getCloseMethod());
        assertThat(closes).hasSize(1);
        CloseSessionRequest close = (CloseSessionRequest) closes.get(0).request();
        assertThat(close.getSession()).isEqualTo(FakeNode.SESSION);
        assertThat(close.getRequestId()).isGreaterThan(a.received(PoolsGrpc.getReleaseMethod()).get(0).requestId());
        await("stream ended", a.streams::isEmpty);
        assertThat(client.sessionState()).isEqualTo(SessionState.CLOSED);
        assertThatThrownBy(() -> client.pools().release()).isExactlyInstanceOf(BatonClosedException.class);
        assertThat(lost).isEmpty();
    }

    @Test
    void closeRetriesCloseOnAnotherNode() {
        FakeNode a = node("s:12a");
        FakeNode b = node("s:12b");
        a.handle(SessionsGrpc.getCloseMethod(), req -> {
            throw FakeNode.error(Status.Code.UNAVAILABLE, null);
        });
        BatonClient client = watchedClient("s:12a", "s:12b");
        client.close();
        assertThat(a.received(SessionsGrpc.getCloseMethod())).hasSize(1);
        assertThat(b.received(SessionsGrpc.getCloseMethod())).hasSize(1);
        assertThat(b.received(SessionsGrpc.getCloseMethod()).get(0).requestId())
                .isEqualTo(a.received(SessionsGrpc.getCloseMethod()).get(0).requestId());
    }

    @Test
    void closeIsBoundedWhenNoNodeAnswersAndFailsCallsInFlight() throws Exception {
        FakeNode a = node("s:13");
        a.handle(PoolsGrpc.getAcquireMethod(), req -> {
            hang();
            return PoolReply.getDefaultInstance();
        });
        BatonClient client = watchedClient("s:13");
        var inFlight = client.pools().acquireAsync("k", 1, 1, Duration.ofMinutes(5), false);
        await("the acquire arrives", () -> !a.received(PoolsGrpc.getAcquireMethod()).isEmpty());
        a.handle(SessionsGrpc.getCloseMethod(), req -> {
            hang();
            return null;
        });

        Thread closer = new Thread(client::close);
        closer.start();
        closer.join(PATIENCE.toMillis());

        assertThat(closer.isAlive()).as("close() returned").isFalse();
        await("in-flight call failed", inFlight::isDone);
        assertThatThrownBy(inFlight::join).hasCauseExactlyInstanceOf(BatonClosedException.class);
    }
}
