package dev.baton.server.raft;

import com.alipay.remoting.Connection;
import com.alipay.remoting.TimerHolder;
import com.alipay.remoting.rpc.exception.InvokeTimeoutException;
import com.alipay.sofa.jraft.option.RpcOptions;
import com.alipay.sofa.jraft.rpc.ProtobufMsgFactory;
import com.alipay.sofa.jraft.rpc.RpcClient;
import com.alipay.sofa.jraft.rpc.RpcContext;
import com.alipay.sofa.jraft.rpc.RpcProcessor;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesRequest;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesResponse;
import com.alipay.sofa.jraft.rpc.impl.BoltRpcClient;
import com.alipay.sofa.jraft.util.Endpoint;
import com.alipay.sofa.jraft.util.RpcFactoryHelper;
import io.netty.util.HashedWheelTimer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Raft RPC client's calls are timed on their connection's event loop, not on bolt's JVM-wide 10 ms
 * timer wheel ({@link EventLoopTimeoutRpcClient}), over a real bolt server and client on loopback.
 */
class BoltCallTimeoutsTest {
    private com.alipay.remoting.rpc.RpcServer bolt;
    private RpcClient client;
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void close() {
        release.countDown();
        if (client != null) {
            client.shutdown();
        }
        if (bolt != null) {
            bolt.shutdown();
        }
    }

    /** Answers an entry only when {@link #answer} is true; otherwise keeps the request unanswered. */
    private final class Entries implements RpcProcessor<AppendEntriesRequest> {
        volatile boolean answer = true;
        final AtomicInteger received = new AtomicInteger();

        @Override
        public void handleRequest(RpcContext ctx, AppendEntriesRequest request) {
            received.incrementAndGet();
            if (answer) {
                ctx.sendResponse(AppendEntriesResponse.newBuilder().setTerm(1).setSuccess(true).build());
            }
        }

        @Override
        public String interest() {
            return AppendEntriesRequest.class.getName();
        }
    }

    private Endpoint start(RpcProcessor<?> processor) throws IOException {
        ProtobufMsgFactory.load();
        int port = dev.baton.server.TestPorts.free();
        bolt = new com.alipay.remoting.rpc.RpcServer("127.0.0.1", port, true);
        BatonBoltRpcServer server = new BatonBoltRpcServer(bolt);
        server.registerProcessor(processor);
        assertThat(server.init(null)).isTrue();
        client = RpcFactoryHelper.rpcFactory().createRpcClient();
        client.init(new RpcOptions());
        return new Endpoint("127.0.0.1", port);
    }

    private static AppendEntriesRequest heartbeat() {
        return AppendEntriesRequest.newBuilder().setGroupId("g").setServerId("127.0.0.1:1").setPeerId("127.0.0.1:2")
                .setTerm(1).setPrevLogTerm(0).setPrevLogIndex(0).setCommittedIndex(0).build();
    }

    private static long onBoltsWheel() {
        return ((HashedWheelTimer) TimerHolder.getTimer()).pendingTimeouts();
    }

    @Test
    void anUnansweredCallTimesOutAndNothingWaitsOnBoltsWheel() throws Exception {
        Entries entries = new Entries();
        Endpoint server = start(entries);
        entries.answer = false;

        long wheelBefore = onBoltsWheel();
        CompletableFuture<Throwable> failed = new CompletableFuture<>();
        client.invokeAsync(server, heartbeat(), (result, err) -> {
            if (err != null) {
                failed.complete(err);
            } else {
                failed.completeExceptionally(new AssertionError("answered: " + result));
            }
        }, 300);
        // bolt's own path puts the call's timeout on its wheel before it returns
        assertThat(onBoltsWheel()).isEqualTo(wheelBefore);

        assertThat(failed.get(30, TimeUnit.SECONDS)).isInstanceOf(InvokeTimeoutException.class);
        assertThat(entries.received).hasValue(1);
    }

    @Test
    void anAnsweredCallIsAnsweredOnceAndItsConnectionSendsNoBoltHeartbeat() throws Exception {
        Entries entries = new Entries();
        Endpoint server = start(entries);

        AtomicInteger callbacks = new AtomicInteger();
        CompletableFuture<Object> answered = new CompletableFuture<>();
        client.invokeAsync(server, heartbeat(), (result, err) -> {
            callbacks.incrementAndGet();
            if (err == null) {
                answered.complete(result);
            } else {
                answered.completeExceptionally(err);
            }
        }, 10_000);
        assertThat(answered.get(30, TimeUnit.SECONDS)).isInstanceOf(AppendEntriesResponse.class);
        assertThat(client.invokeSync(server, heartbeat(), 10_000)).isInstanceOf(AppendEntriesResponse.class);
        assertThat(callbacks).hasValue(1);

        // bolt's heartbeat, sent on a connection idle for 15 s, would time its answer on the wheel
        Connection connection = ((BoltRpcClient) client).getRpcClient().getConnection(server.toString(), 10_000);
        assertThat(connection.getChannel().attr(Connection.HEARTBEAT_SWITCH).get()).isFalse();
    }
}
