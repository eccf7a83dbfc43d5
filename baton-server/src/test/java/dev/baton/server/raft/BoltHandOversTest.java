package dev.baton.server.raft;

import com.alipay.sofa.jraft.error.RaftError;
import com.alipay.sofa.jraft.option.RpcOptions;
import com.alipay.sofa.jraft.rpc.InvokeCallback;
import com.alipay.sofa.jraft.rpc.ProtobufMsgFactory;
import com.alipay.sofa.jraft.rpc.RpcClient;
import com.alipay.sofa.jraft.rpc.RpcContext;
import com.alipay.sofa.jraft.rpc.RpcProcessor;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesRequest;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesResponse;
import com.alipay.sofa.jraft.rpc.RpcRequests.ErrorResponse;
import com.alipay.sofa.jraft.rpc.RpcRequests.RequestVoteRequest;
import com.alipay.sofa.jraft.rpc.RpcRequests.RequestVoteResponse;
import com.alipay.sofa.jraft.util.Endpoint;
import com.alipay.sofa.jraft.util.RpcFactoryHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The thread hand-overs Baton takes out of SOFAJRaft's bolt transport ({@link BatonBoltRpcServer},
 * {@link BatonBoltRpcFactory#answerOnIoThread()}, {@link ReplicationAnswerOnIoThread}), over a real bolt server and client on loopback:
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

    /**
     * A processor that answers at once (or never, if its answer is null) and records the thread it ran
     * on; it asks for {@link #elsewhere}, as SOFAJRaft's do.
     */
    private final class Recording<T> implements RpcProcessor<T> {
        final CompletableFuture<String> ranOn = new CompletableFuture<>();
        private final Class<T> type;
        private final Function<T, Object> answer;

        Recording(Class<T> type, Object answer) {
            this(type, request -> answer);
        }

        Recording(Class<T> type, Function<T, Object> answer) {
            this.type = type;
            this.answer = answer;
        }

        @Override
        public void handleRequest(RpcContext ctx, T request) {
            ranOn.complete(Thread.currentThread().getName());
            assertThat(ctx.getConnection()).isNotNull();
            Object a = answer.apply(request);
            if (a != null) {
                ctx.sendResponse(a);
            }
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
        int port = dev.baton.server.TestPorts.free();
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
        return heartbeat(1);
    }

    private static AppendEntriesRequest heartbeat(long term) {
        return AppendEntriesRequest.newBuilder().setGroupId("g").setServerId("127.0.0.1:1").setPeerId("127.0.0.1:2")
                .setTerm(term).setPrevLogTerm(0).setPrevLogIndex(0).setCommittedIndex(0).build();
    }

    /** The thread {@code request}'s callback ran on, with an executor named as SOFAJRaft names one; or how it failed. */
    private String answeredOn(Endpoint server, Object request, int timeoutMs) throws Exception {
        CompletableFuture<String> ranOn = new CompletableFuture<>();
        client.invokeAsync(server, request, new InvokeCallback() {
            @Override
            public void complete(Object result, Throwable err) {
                ranOn.complete(Thread.currentThread().getName() + (err == null ? "" : " (failed)"));
            }

            @Override
            public java.util.concurrent.Executor executor() {
                return elsewhere;
            }
        }, timeoutMs);
        return ranOn.get(30, TimeUnit.SECONDS);
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
        // One that names an executor (SOFAJRaft always does) runs there, but for one kind of answer (below).
    }

    /**
     * A follower's successful answer to AppendEntries runs on the I/O thread even though SOFAJRaft names
     * an executor for it; a refusal, an answer carrying an error, a time-out and any other call's answer
     * still run on the executor named.
     */

    @Test
    void onlyASuccessfulReplicationAnswerSkipsTheCallersExecutor() throws Exception {
        // term 1: success; term 2: a refusal (as for a higher term or a log that does not match);
        // term 3: an error in the answer; term 4: no answer at all (the call times out)
        Recording<AppendEntriesRequest> append = new Recording<>(AppendEntriesRequest.class, request -> switch ((int) request.getTerm()) {
            case 1 -> AppendEntriesResponse.newBuilder().setTerm(1).setSuccess(true).build();
            case 2 -> AppendEntriesResponse.newBuilder().setTerm(5).setSuccess(false).build();
            case 3 -> AppendEntriesResponse.newBuilder().setTerm(1).setSuccess(true)
                    .setErrorResponse(ErrorResponse.newBuilder().setErrorCode(RaftError.EBUSY.getNumber())).build();
            default -> null;
        });
        Recording<RequestVoteRequest> vote = new Recording<>(RequestVoteRequest.class,
                RequestVoteResponse.newBuilder().setTerm(1).setGranted(true).build());
        Endpoint server = start(append, vote);

        assertThat(answeredOn(server, heartbeat(1), 10_000)).startsWith("bolt-netty-client-worker");
        assertThat(answeredOn(server, heartbeat(2), 10_000)).isEqualTo("elsewhere");
        assertThat(answeredOn(server, heartbeat(3), 10_000)).isEqualTo("elsewhere");
        assertThat(answeredOn(server, heartbeat(4), 200)).isEqualTo("elsewhere (failed)");
        RequestVoteRequest ask = RequestVoteRequest.newBuilder().setGroupId("g").setServerId("127.0.0.1:1")
                .setPeerId("127.0.0.1:2").setTerm(1).setLastLogTerm(0).setLastLogIndex(0).setPreVote(false).build();
        assertThat(answeredOn(server, ask, 10_000)).isEqualTo("elsewhere");
    }
}
