package dev.baton.cli;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.CloseSessionResponse;
import dev.baton.api.v1.KeepAliveAck;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.OpenSessionResponse;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * The run from which {@code bin/baton} records the class-data sharing archive of the client commands
 * ({@code baton archive-training}, not listed in the help): {@code baton status} and
 * {@code baton pool acquire} against a stand-in node in this same process, answered, so that the
 * archive holds the classes of whole calls (the channel, HTTP/2 framing, protobuf, the Java client's
 * session, the printing of the answer) rather than only those up to a refused connection. Those were
 * about 260 of the 440 classes a {@code status} still read from the jar, and 460 of the 680 of a
 * {@code pool acquire}. Prints nothing; the exit status is 0 when both commands succeeded.
 */
final class ArchiveTraining {
    static final String COMMAND = "archive-training";

    private ArchiveTraining() {}

    static int run() throws IOException {
        Server node = OkHttpServerBuilder
                .forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), InsecureServerCredentials.create())
                .addService(new AdminGrpc.AdminImplBase() {
                    @Override
                    public void status(StatusRequest request, StreamObserver<StatusResponse> answer) {
                        answer.onNext(StatusResponse.getDefaultInstance());
                        answer.onCompleted();
                    }
                })
                .addService(new SessionsGrpc.SessionsImplBase() {
                    @Override
                    public void open(OpenSessionRequest request, StreamObserver<OpenSessionResponse> answer) {
                        answer.onNext(OpenSessionResponse.newBuilder().setSession(1).setTtlMs(30_000)
                                .setNextRequestId(1).build());
                        answer.onCompleted();
                    }

                    @Override
                    public StreamObserver<KeepAliveRequest> keepAlive(StreamObserver<SessionEvent> events) {
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(KeepAliveRequest request) {
                                events.onNext(SessionEvent.newBuilder().setAck(KeepAliveAck.newBuilder()
                                        .setSession(request.getSession()).setTtlMs(30_000)).build());
                            }

                            @Override
                            public void onError(Throwable t) {}

                            @Override
                            public void onCompleted() {
                                events.onCompleted();
                            }
                        };
                    }

                    @Override
                    public void close(CloseSessionRequest request, StreamObserver<CloseSessionResponse> answer) {
                        answer.onNext(CloseSessionResponse.newBuilder().setSession(request.getSession()).build());
                        answer.onCompleted();
                    }
                })
                .addService(new PoolsGrpc.PoolsImplBase() {
                    @Override
                    public void acquire(PoolAcquireRequest request, StreamObserver<PoolReply> answer) {
                        answer.onNext(PoolReply.newBuilder().setStatus(PoolStatus.POOL_LOCKED).setKey(request.getKey())
                                .setFence(1).build());
                        answer.onCompleted();
                    }

                    @Override
                    public void release(PoolReleaseRequest request, StreamObserver<PoolReply> answer) {
                        answer.onNext(PoolReply.newBuilder().setStatus(PoolStatus.POOL_RELEASED).setFence(1).build());
                        answer.onCompleted();
                    }
                })
                .build().start();
        String endpoint = "127.0.0.1:" + ((InetSocketAddress) node.getListenSockets().get(0)).getPort();
        PrintStream out = System.out;
        PrintStream err = System.err;
        try {
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            System.setErr(new PrintStream(OutputStream.nullOutputStream()));
            int status = BatonCli.clientCommandLine("status").execute("status", "-e", endpoint, "--timeout-ms", "5000");
            int acquire = BatonCli.clientCommandLine("pool").execute("pool", "acquire", "training", "-e", endpoint,
                    "--timeout-ms", "5000");
            return status == 0 && acquire == 0 ? 0 : 1;
        } finally {
            System.setOut(out);
            System.setErr(err);
            node.shutdownNow();
        }
    }
}
