package dev.baton.cli;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.MemberRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.server.TestWaits;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code baton admin} against a stand-in Admin service that refuses a given number of times: a
 * node's own "not now" (UNAVAILABLE with Baton's error trailer: between leaders, the leader's
 * address not known yet) is asked again until --timeout-ms; a node that cannot be reached, or any
 * other refusal, ends the command at once.
 */
class AdminRetryTest {
    private static final Metadata.Key<String> ERROR_KEY = Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);

    private Server server;
    private final AtomicInteger calls = new AtomicInteger();

    /** Answers {@code refusals} times with {@code refusal}, then with a status. */
    private String serve(int refusals, Status refusal, boolean withTrailer) throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new AdminGrpc.AdminImplBase() {
                    @Override
                    public void addMember(MemberRequest req, StreamObserver<StatusResponse> out) {
                        if (calls.incrementAndGet() <= refusals) {
                            Metadata m = new Metadata();
                            if (withTrailer) {
                                m.put(ERROR_KEY, refusal.getCode().name());
                            }
                            out.onError(refusal.asRuntimeException(m));
                            return;
                        }
                        out.onNext(StatusResponse.newBuilder().setNodeId("n1").setIsLeader(true).build());
                        out.onCompleted();
                    }
                }).build().start();
        return "127.0.0.1:" + server.getPort();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (server != null) {
            server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aNodesOwnUnavailableIsAskedAgainUntilItAnswers() throws Exception {
        String api = serve(3, Status.UNAVAILABLE.withDescription("no leader to run the change on"), true);
        Baton.Run r = Baton.run("admin", "-e", api, "--timeout-ms", "60s", "add-member", "127.0.0.1:9999");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(calls).hasValue(4);
        assertThat(r.err()).contains("no leader to run the change on").contains("asking again");
        assertThat(r.out()).contains("n1");
    }

    @Test
    void itGivesUpWhenTheTimeoutRunsOut() throws Exception {
        String api = serve(Integer.MAX_VALUE, Status.UNAVAILABLE.withDescription("raft: ECATCHUP"), true);
        Baton.Run r = Baton.run("admin", "-e", api, "--timeout-ms", "1s", "add-member", "127.0.0.1:9999");
        assertThat(r.code()).isEqualTo(1);
        assertThat(calls.get()).isGreaterThan(1);
        assertThat(r.err()).contains("ECATCHUP");
    }

    @Test
    void anotherRefusalEndsItAtOnce() throws Exception {
        String api = serve(1, Status.FAILED_PRECONDITION.withDescription("nope"), true);
        Baton.Run r = Baton.run("admin", "-e", api, "--timeout-ms", "60s", "add-member", "127.0.0.1:9999");
        assertThat(r.code()).isEqualTo(1);
        assertThat(calls).hasValue(1);
        assertThat(r.err()).contains("FAILED_PRECONDITION").doesNotContain("asking again");
    }

    @Test
    void anUnavailableWithoutBatonsTrailerIsNotAskedAgain() throws Exception {
        // what a proxy or a half-started server might say: not the cluster's own answer
        String api = serve(1, Status.UNAVAILABLE.withDescription("upstream gone"), false);
        Baton.Run r = Baton.run("admin", "-e", api, "--timeout-ms", "60s", "add-member", "127.0.0.1:9999");
        assertThat(r.code()).isEqualTo(1);
        assertThat(calls).hasValue(1);
    }

    @Test
    void aNodeThatCannotBeReachedFailsFast() throws Exception {
        String nobody = "127.0.0.1:" + TestWaits.freePort();
        Baton.Run r = Baton.run("admin", "-e", nobody, "--timeout-ms", "60s", "add-member", "127.0.0.1:9999");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("UNAVAILABLE").contains("is " + nobody + " up?").doesNotContain("asking again");
    }
}
