package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolsGrpc;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The client's side of the call stream against fake nodes: which calls use it, and how it breaks and re-opens. */
class CallStreamClientTest extends TestSupport {
    @Test
    void writesShareOneStreamAndReadsStayUnary() {
        FakeNode a = node("cs:one");
        BatonClient client = client(a.name());
        for (int i = 0; i < 10; i++) {
            client.pools().acquire("k", 1, 1, Duration.ZERO, false);
            client.pools().release("k");
        }
        client.pools().get("k");
        assertThat(a.callStreamsOpened.get()).isEqualTo(1);
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(10);
        assertThat(a.received(PoolsGrpc.getGetMethod())).hasSize(1);
    }

    @Test
    void turnedOffEveryCallIsUnary() {
        FakeNode a = node("cs:off");
        BatonClient client = track(builder(a.name()).callStream(false).build());
        client.pools().acquire("k", 1, 1, Duration.ZERO, false);
        assertThat(a.callStreamsOpened.get()).isZero();
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
    }

    @Test
    void aBrokenStreamFailsOverItsCallsWhichAreRetriedWithTheSameRequestIdOnANewStream() {
        FakeNode a = node("cs:break-a");
        FakeNode b = node("cs:break-b");
        a.handle(LocksGrpc.getAcquireMethod(), req -> {
            hang();
            return LockReply.getDefaultInstance();
        });
        BatonClient client = client(a.name(), b.name());
        var f = client.locks().acquireAsync("l", Duration.ofSeconds(30));
        await("the acquire reached a", () -> a.received(LocksGrpc.getAcquireMethod()).size() == 1);
        a.kill(); // the stream breaks with the call in flight
        assertThat(f.join().status()).isEqualTo(dev.baton.client.LockStatus.UNKNOWN);
        assertThat(b.received(LocksGrpc.getAcquireMethod())).singleElement()
                .satisfies(r -> assertThat(r.requestId()).isEqualTo(a.received(LocksGrpc.getAcquireMethod()).get(0).requestId()));
        assertThat(b.callStreamsOpened.get()).isEqualTo(1);
    }

    @Test
    void anErrorReplyCarriesTheStatusAndBatonCodeOfTheUnaryCall() {
        FakeNode a = node("cs:error");
        a.handle(PoolsGrpc.getReleaseMethod(), req -> {
            throw FakeNode.error(Status.Code.FAILED_PRECONDITION, "STALE_FENCE");
        });
        BatonClient client = client(a.name());
        assertThatThrownBy(() -> client.pools().release("k", 7)).isInstanceOf(StaleFenceException.class);
        assertThat(a.callStreamsOpened.get()).isEqualTo(1);
        var ok = client.pools().acquire("k", 1, 1, Duration.ZERO, false);
        assertThat(ok).isNotNull();
        assertThat(a.callStreamsOpened.get()).isEqualTo(1); // a refusal leaves the stream as it is
    }
}
