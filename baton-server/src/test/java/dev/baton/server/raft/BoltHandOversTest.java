package dev.baton.server.raft;

import com.alipay.sofa.jraft.option.RpcOptions;
import com.alipay.sofa.jraft.rpc.InvokeCallback;
import com.alipay.sofa.jraft.rpc.ProtobufMsgFactory;
import com.alipay.sofa.jraft.rpc.RpcClient;
import com.alipay.sofa.jraft.rpc.RpcContext;
import com.alipay.sofa.jraft.rpc.RpcProcessor;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesRequest;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesResponse;
import com.alipay.sofa.jraft.rpc.RpcRequests.RequestVoteRequest;
import com.alipay.sofa.jraft.rpc.RpcRequests.RequestVoteResponse;
import com.alipay.sofa.jraft.util.Endpoint;
import com.alipay.sofa.jraft.util.RpcFactoryHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The thread hand-overs Baton takes out of SOFAJRaft's bolt transport ({@link BatonBoltRpcServer},
 * {@link BatonBoltRpcFactory#answerOnIoThread()}), over a real bolt server and client on loopback:
 * which thread runs a request's processor and an answer's callback.
 */
class BoltHandOversTest {
    private final ExecutorService elsewhere = Executors.newSingleThreadExecutor(r -> new Thread(r, "elsewhere"));
    private com.alipay.remoting.rpc.RpcServer bolt;
    private RpcClient client;

    @AfterEach
    void close() {
        if (client != null) {
            client.shutdown();
        }
        if (bolt != null) {
            bolt.shutdown();
        }
        elsewhere.shutdownNow();
    }

    /** A processor that answers at once and records the thread it ran on; it asks for {@link #elsewhere}, as SOFAJRaft's do. */
    private final class Recording<T> implements RpcProcessor<T> {
        final CompletableFuture<String> ranOn = new CompletableFuture<>();
        private final Class<T> type;
        private final Object answer;

        Recording(Class<T> type, Object answer) {
            this.type = type;
            this.answer = answer;
        }

        @Override
        public void handleRequest(RpcContext ctx, T request) {
            ranOn.complete(Thread.currentThread().getName());
            assertThat(ctx.getConnection()).isNotNull();
            ctx.sendResponse(answer);
        }

        @Override
        public String interest() {
            return type.getName();
        }

        @Override
        public java.util.concurrent.Executor executor() {
            return elsewhere;
        }
    }

    private Endpoint start(RpcProcessor<?>... processors) throws IOException {
        ProtobufMsgFactory.load(); // registers the Raft messages' serializers with bolt
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        bolt = new com.alipay.remoting.rpc.RpcServer("127.0.0.1", port, true);
        BatonBoltRpcServer server = new BatonBoltRpcServer(bolt);
        for (RpcProcessor<?> p : processors) {
            server.registerProcessor(p);
        }
        assertThat(server.init(null)).isTrue();
        client = RpcFactoryHelper.rpcFactory().createRpcClient();
        assertThat(RpcFactoryHelper.rpcFactory()).isInstanceOf(BatonBoltRpcFactory.class);
        client.init(new RpcOptions());
        return new Endpoint("127.0.0.1", port);
    }

    private static AppendEntriesRequest heartbeat() {
        return AppendEntriesRequest.newBuilder().setGroupId("g").setServerId("127.0.0.1:1").setPeerId("127.0.0.1:2")
                .setTerm(1).setPrevLogTerm(0).setPrevLogIndex(0).setCommittedIndex(0).build();
    }

    @Test
    void replicationRequestsAreHandledOnTheIoThreadThatReadThemAndOthersWhereTheirProcessorAsks() throws Exception {
        Recording<AppendEntriesRequest> append = new Recording<>(AppendEntriesRequest.class,
                AppendEntriesResponse.newBuilder().setTerm(1).setSuccess(true).build());
        Recording<RequestVoteRequest> vote = new Recording<>(RequestVoteRequest.class,
                RequestVoteResponse.newBuilder().setTerm(1).setGranted(true).build());
        Endpoint server = start(append, vote);

        Object answer = client.invokeSync(server, heartbeat(), 10_000);
        assertThat(answer).isInstanceOf(AppendEntriesResponse.class);
        assertThat(((AppendEntriesResponse) answer).getSuccess()).isTrue();
        assertThat(append.ranOn.get(10, TimeUnit.SECONDS)).startsWith("Rpc-netty-server-worker");

        RequestVoteRequest ask = RequestVoteRequest.newBuilder().setGroupId("g").setServerId("127.0.0.1:1")
                .setPeerId("127.0.0.1:2").setTerm(1).setLastLogTerm(0).setLastLogIndex(0).setPreVote(false).build();
        assertThat(client.invokeSync(server, ask, 10_000)).isInstanceOf(RequestVoteResponse.class);
        assertThat(vote.ranOn.get(10, TimeUnit.SECONDS)).isEqualTo("elsewhere");
    }

    @Test
    void anAnswerGoesFromTheIoThreadStraightToTheCallersExecutor() throws Exception {
        Recording<AppendEntriesRequest> append = new Recording<>(AppendEntriesRequest.class,
                AppendEntriesResponse.newBuilder().setTerm(1).setSuccess(true).build());
        Endpoint server = start(append);

        // A callback that names no executor runs where bolt hands the answer over: bolt's I/O thread now,
        // its shared Bolt-default-executor pool before.
        CompletableFuture<String> direct = new CompletableFuture<>();
        client.invokeAsync(server, heartbeat(), (result, err) -> direct.complete(
                err == null ? Thread.currentThread().getName() : "failed: " + err), 10_000);
        assertThat(direct.get(10, TimeUnit.SECONDS)).startsWith("bolt-netty-client-worker");

        // One that names an executor (SOFAJRaft always does) runs there, as before.
        CompletableFuture<String> named = new CompletableFuture<>();
        client.invokeAsync(server, heartbeat(), new InvokeCallback() {
            @Override
            public void complete(Object result, Throwable err) {
                named.complete(err == null ? Thread.currentThread().getName() : "failed: " + err);
            }

            @Override
            public java.util.concurrent.Executor executor() {
                return elsewhere;
            }
        }, 10_000);
        assertThat(named.get(10, TimeUnit.SECONDS)).isEqualTo("elsewhere");
    }
}
