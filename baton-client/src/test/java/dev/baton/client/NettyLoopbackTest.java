package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The default transport (plaintext over grpc-netty-shaded) against real servers on loopback. */
class NettyLoopbackTest extends TestSupport {

    private static BatonClient.Builder nettyBuilder(String... endpoints) {
        return BatonClient.builder()
                .endpoints(endpoints)
                .requestTimeout(Duration.ofSeconds(5))
                .retryFor(Duration.ofSeconds(15));
    }

    @Test
    void callsAndKeepAlivesSurviveTheDeathOfANode() {
        FakeNode a = nettyNode();
        FakeNode b = nettyNode();
        for (FakeNode n : List.of(a, b)) {
            n.grantedTtlMs = 600;
            n.handle(PoolsGrpc.getAcquireMethod(), req -> PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED)
                    .setKey(((PoolAcquireRequest) req).getKey()).setFence(((PoolAcquireRequest) req).getRequestId())
                    .build());
        }
        List<SessionLostException> lost = new CopyOnWriteArrayList<>();
        BatonClient client = track(nettyBuilder(a.name(), b.name()).onSessionLost(lost::add).build());

        assertThat(client.poolAcquire("one", 1, 1, Duration.ZERO, false).getKey()).isEqualTo("one");
        assertThat(a.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
        await("keep-alives on a", () -> a.keepAlives.size() >= 2);

        a.kill();

        await("keep-alives on b", () -> b.keepAlives.size() >= 2);
        PoolReply reply = client.poolAcquire("two", 1, 1, Duration.ZERO, false);
        assertThat(reply.getKey()).isEqualTo("two");
        assertThat(reply.getFence()).isGreaterThan(1);
        assertThat(b.received(PoolsGrpc.getAcquireMethod())).hasSize(1);
        assertThat(lost).isEmpty();

        client.close();
        assertThat(b.received(SessionsGrpc.getCloseMethod())).hasSize(1);
    }

    @Test
    void anUnreachableFirstEndpointIsSkipped() {
        FakeNode dead = nettyNode();
        String deadAddress = dead.name();
        dead.kill();
        FakeNode b = nettyNode();

        BatonClient client = track(nettyBuilder(deadAddress, b.name()).build());

        assertThat(client.sessionId()).isEqualTo(FakeNode.SESSION);
        assertThat(b.received(SessionsGrpc.getOpenMethod())).hasSize(1);
        client.poolGet("x");
        assertThat(b.received(PoolsGrpc.getGetMethod())).hasSize(1);
    }
}
