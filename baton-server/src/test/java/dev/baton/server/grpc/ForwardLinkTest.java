package dev.baton.server.grpc;

import dev.baton.server.route.Router;

import com.google.protobuf.ByteString;
import dev.baton.api.internal.v1.ForwardLinkGrpc;
import dev.baton.api.internal.v1.LinkAnswer;
import dev.baton.api.internal.v1.LinkAnswers;
import dev.baton.api.internal.v1.LinkError;
import dev.baton.api.internal.v1.LinkFrame;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.core.util.BinaryReader;
import dev.baton.server.TestWaits;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The follower's end of the batched forwarding link against a scripted leader: what it sends (how
 * many frames, in which order) and how it ends its pending commands. The leader acknowledges and
 * answers only when the test says so, so nothing here depends on timing.
 */
class ForwardLinkTest {
    /** The scripted leader: records frames, acknowledges and answers on demand. */
    private final LinkedBlockingQueue<LinkFrame> frames = new LinkedBlockingQueue<>();
    private final AtomicReference<StreamObserver<LinkAnswers>> toFollower = new AtomicReference<>();
    private final CountDownLatch followerGone = new CountDownLatch(1);
    private Server server;
    private ManagedChannel channel;
    private final LongAdder framesSent = new LongAdder();
    private final LongAdder commandsSent = new LongAdder();
    private final AtomicInteger broken = new AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new ForwardLinkGrpc.ForwardLinkImplBase() {
                    @Override
                    public StreamObserver<LinkFrame> link(StreamObserver<LinkAnswers> out) {
                        toFollower.set(out);
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(LinkFrame f) {
                                frames.add(f);
                            }

                            @Override
                            public void onError(Throwable t) {
                                followerGone.countDown();
                            }

                            @Override
                            public void onCompleted() {
                                followerGone.countDown();
                            }
                        };
                    }
                }).build().start();
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private ForwardLink link(ForwardLink.Limits limits) {
        return new ForwardLink("leader:8100", "leader:7530", channel, ClusterSecret.random().clientInterceptor(), limits,
                index -> CompletableFuture.completedFuture(null), framesSent, commandsSent, l -> broken.incrementAndGet());
    }

    private static byte[] open(String token) {
        return CommandCodec.encodeChecked(new Command.OpenSession(token, 10_000));
    }

    private static String token(ByteString command) {
        return ((Command.OpenSession) CommandCodec.decode(new BinaryReader(command.toByteArray()))).clientToken();
    }

    private static long far() {
        return System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    }

    private LinkFrame nextFrame() throws InterruptedException {
        LinkFrame f = frames.poll(TestWaits.WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(f).as("a frame from the follower").isNotNull();
        return f;
    }

    private void send(LinkAnswers a) {
        synchronized (toFollower) {
            toFollower.get().onNext(a);
        }
    }

    @Test
    void commandsSubmittedWhileAFrameIsInFlightLeaveTogetherInSubmissionOrder() throws Exception {
        ForwardLink link = link(ForwardLink.Limits.defaults());
        List<CompletableFuture<Result>> answers = new ArrayList<>();
        answers.add(link.submit(open("first"), false, null, far(), far()));
        LinkFrame first = nextFrame();
        assertThat(first.getCommandsList()).extracting(ForwardLinkTest::token).containsExactly("first");

        // Not acknowledged yet: everything submitted now waits, from several threads at once.
        int threads = 8;
        int each = 50;
        List<Thread> submitters = new ArrayList<>();
        List<List<CompletableFuture<Result>>> perThread = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            List<CompletableFuture<Result>> mine = new ArrayList<>();
            perThread.add(mine);
            Thread th = new Thread(() -> {
                for (int i = 0; i < each; i++) {
                    mine.add(link.submit(open(id + "-" + i), false, null, far(), far()));
                }
            });
            submitters.add(th);
            th.start();
        }
        for (Thread th : submitters) {
            th.join();
        }
        assertThat(frames).as("nothing more is sent before the leader acknowledges the first frame").isEmpty();

        send(LinkAnswers.newBuilder().setReceived(1).build());
        LinkFrame second = nextFrame();
        assertThat(second.getCommandsCount()).as("all waiting commands in one frame").isEqualTo(threads * each);
        List<String> order = second.getCommandsList().stream().map(ForwardLinkTest::token).toList();
        for (int t = 0; t < threads; t++) {
            String prefix = t + "-";
            List<String> mine = order.stream().filter(s -> s.startsWith(prefix)).toList();
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < each; i++) {
                expected.add(prefix + i);
            }
            assertThat(mine).as("thread %d's commands keep their order", t).isEqualTo(expected);
        }
        assertThat(framesSent.sum()).isEqualTo(2);
        assertThat(commandsSent.sum()).isEqualTo(1 + threads * each);

        // Answers come back batched, matched by their number on the stream (here in reverse).
        LinkAnswers.Builder batch = LinkAnswers.newBuilder().setReceived(1 + threads * each);
        for (int seq = threads * each; seq >= 0; seq--) {
            batch.addAnswers(LinkAnswer.newBuilder().setSeq(seq).setResult(ByteString.copyFrom(
                    ForwardLink.encodeResult(new Result.SessionOpened(1000 + seq, 10_000, false, 1)))));
        }
        send(batch.build());
        assertThat(((Result.SessionOpened) TestWaits.get(answers.get(0))).session()).isEqualTo(1000);
        for (int i = 0; i < order.size(); i++) {
            String[] id = order.get(i).split("-");
            CompletableFuture<Result> f = perThread.get(Integer.parseInt(id[0])).get(Integer.parseInt(id[1]));
            assertThat(((Result.SessionOpened) TestWaits.get(f)).session()).isEqualTo(1000 + 1 + i);
        }
        assertThat(link.pending()).isZero();
    }

    @Test
    void framesAreBoundedAndTheQueueRefusesBeyondItsBound() throws Exception {
        ForwardLink link = link(new ForwardLink.Limits(10, 1 << 20, 25, 1));
        List<CompletableFuture<Result>> answers = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            answers.add(link.submit(open("c" + i), false, null, far(), far()));
        }
        CompletableFuture<Result> refused = link.submit(open("too many"), false, null, far(), far());
        assertThatThrownBy(refused::get).hasCauseInstanceOf(StatusRuntimeException.class)
                .cause().satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode())
                        .isEqualTo(Status.Code.UNAVAILABLE));
        assertThat(nextFrame().getCommandsCount()).isEqualTo(1);
        send(LinkAnswers.newBuilder().setReceived(1).build());
        assertThat(nextFrame().getCommandsCount()).as("at most maxFrameCommands").isEqualTo(10);
        send(LinkAnswers.newBuilder().setReceived(11).build());
        assertThat(nextFrame().getCommandsCount()).isEqualTo(10);
        send(LinkAnswers.newBuilder().setReceived(21).build());
        assertThat(nextFrame().getCommandsCount()).isEqualTo(4);
        assertThat(answers).noneMatch(CompletableFuture::isDone);
    }

    @Test
    void aCommandTooBigForOneMessageIsRefusedAloneAndTheLinkGoesOn() throws Exception {
        ForwardLink link = link(ForwardLink.Limits.defaults());
        CompletableFuture<Result> big = link.submit(new byte[ForwardLink.MAX_COMMAND_BYTES + 1], false, null, far(), far());
        assertThat(status(big).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        link.submit(open("small"), false, null, far(), far());
        assertThat(nextFrame().getCommandsList()).extracting(ForwardLinkTest::token).containsExactly("small");
    }

    @Test
    void failingTheLinkFailsEveryUnansweredCommandRetryablyAndEndsTheStream() throws Exception {
        ForwardLink link = link(ForwardLink.Limits.defaults());
        CompletableFuture<Result> answered = link.submit(open("a"), false, null, far(), far());
        nextFrame();
        CompletableFuture<Result> sent = link.submit(open("b"), false, null, far(), far());
        send(LinkAnswers.newBuilder().setReceived(1).addAnswers(LinkAnswer.newBuilder().setSeq(0).setResult(
                ByteString.copyFrom(ForwardLink.encodeResult(new Result.SessionOpened(7, 10_000, false, 1))))).build());
        nextFrame();
        CompletableFuture<Result> queued = link.submit(open("c"), false, null, far(), far());

        // What the router does when its idea of the leader changes away from the link's target.
        int failed = link.fail(ApiErrors.unavailable("the leader changed", null));

        assertThat(failed).isEqualTo(2);
        assertThat(((Result.SessionOpened) TestWaits.get(answered)).session()).isEqualTo(7);
        for (CompletableFuture<Result> f : List.of(sent, queued, link.submit(open("d"), false, null, far(), far()))) {
            assertThat(status(f).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        }
        assertThat(followerGone.await(TestWaits.WAIT.toSeconds(), TimeUnit.SECONDS))
                .as("the leader sees the stream end").isTrue();
        assertThat(link.pending()).isZero();
        assertThat(broken.get()).as("failed on purpose, not broken").isZero();
    }

    @Test
    void aLeaderThatEndsTheLinkFailsItsCommandsWithItsStatusAndLeaderHint() throws Exception {
        ForwardLink link = link(ForwardLink.Limits.defaults());
        CompletableFuture<Result> f = link.submit(open("a"), false, null, far(), far());
        nextFrame();
        synchronized (toFollower) {
            toFollower.get().onError(ApiErrors.unavailable("not the leader", "other:7530"));
        }
        StatusRuntimeException e = statusException(f);
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getTrailers().get(ApiErrors.LEADER_KEY)).isEqualTo("other:7530");
        TestWaits.await("the owner is told the link broke", () -> broken.get() == 1);
    }

    @Test
    void perCommandErrorsDeadlinesAndWaitOutcomes() throws Exception {
        ForwardLink link = link(ForwardLink.Limits.defaults());
        List<Result> outcomes = new ArrayList<>();
        CompletableFuture<Result> refused = link.submit(open("a"), false, null, far(), far());
        CompletableFuture<Result> waiting = link.submit(open("b"), false, r -> {
            synchronized (outcomes) {
                outcomes.add(r);
            }
        }, far(), far());
        CompletableFuture<Result> late = link.submit(open("c"), false, null, System.nanoTime(), far());
        // Only the first went out (the window); the rest wait in one frame.
        assertThat(nextFrame().getCommandsCount()).isEqualTo(1);
        link.expire(System.nanoTime());
        assertThat(status(late).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        send(LinkAnswers.newBuilder().setReceived(1).addAnswers(LinkAnswer.newBuilder().setSeq(0).setError(
                LinkError.newBuilder().setCode(Status.Code.PERMISSION_DENIED.value()).setDescription("no")
                        .setBatonCode("PERMISSION_DENIED"))).build());
        StatusRuntimeException e = statusException(refused);
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getTrailers().get(ApiErrors.ERROR_KEY)).isEqualTo("PERMISSION_DENIED");

        LinkFrame second = nextFrame();
        assertThat(second.getCommandsList()).extracting(ForwardLinkTest::token).containsExactly("b");
        assertThat(second.getOutcomeWantedList()).containsExactly(0);
        Result queuedReply = new Result.PoolReply(Result.PoolStatus.QUEUED, "k", 0);
        Result lockedReply = new Result.PoolReply(Result.PoolStatus.LOCKED, "k", 3);
        send(LinkAnswers.newBuilder().setReceived(2).addAnswers(LinkAnswer.newBuilder().setSeq(1)
                .setResult(ByteString.copyFrom(ForwardLink.encodeResult(queuedReply)))).build());
        assertThat(TestWaits.get(waiting)).isEqualTo(queuedReply);
        assertThat(link.pending()).as("still expecting the outcome").isEqualTo(1);
        send(LinkAnswers.newBuilder().setReceived(2).addAnswers(LinkAnswer.newBuilder().setSeq(1)
                .setKind(LinkAnswer.Kind.OUTCOME).setResult(ByteString.copyFrom(ForwardLink.encodeResult(lockedReply)))).build());
        TestWaits.await("the outcome", () -> {
            synchronized (outcomes) {
                return outcomes.equals(List.of(lockedReply));
            }
        });
        assertThat(link.pending()).isZero();
    }

    /**
     * A command that expires while queued is never sent, so the leader never numbers it: the
     * commands after it must be matched by the numbers the leader gives them. (They were numbered
     * when queued, so after such an expiry every answer went to the command queued before the one
     * it was for: a release answered with another command's result.)
     */
    @Test
    void aCommandExpiredInTheQueueDoesNotShiftTheAnswersOfTheCommandsAfterIt() throws Exception {
        ForwardLink link = link(ForwardLink.Limits.defaults());
        CompletableFuture<Result> first = link.submit(open("a"), false, null, far(), far());
        assertThat(nextFrame().getCommandsCount()).isEqualTo(1);
        CompletableFuture<Result> late = link.submit(open("late"), false, null, System.nanoTime(), far());
        CompletableFuture<Result> b = link.submit(open("b"), false, null, far(), far());
        CompletableFuture<Result> c = link.submit(open("c"), false, null, far(), far());
        link.expire(System.nanoTime());
        assertThat(status(late).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);

        send(LinkAnswers.newBuilder().setReceived(1).addAnswers(LinkAnswer.newBuilder().setSeq(0).setResult(
                ByteString.copyFrom(ForwardLink.encodeResult(new Result.SessionOpened(10, 10_000, false, 1))))).build());
        LinkFrame second = nextFrame();
        assertThat(second.getCommandsList()).extracting(ForwardLinkTest::token).containsExactly("b", "c");
        // The leader numbers what it received: b is its command 1, c its command 2.
        send(LinkAnswers.newBuilder().setReceived(3)
                .addAnswers(LinkAnswer.newBuilder().setSeq(2).setResult(ByteString.copyFrom(
                        ForwardLink.encodeResult(new Result.SessionOpened(12, 10_000, false, 1)))))
                .addAnswers(LinkAnswer.newBuilder().setSeq(1).setResult(ByteString.copyFrom(
                        ForwardLink.encodeResult(new Result.SessionOpened(11, 10_000, false, 1))))).build());
        assertThat(((Result.SessionOpened) TestWaits.get(first)).session()).isEqualTo(10);
        assertThat(((Result.SessionOpened) TestWaits.get(b)).session()).isEqualTo(11);
        assertThat(((Result.SessionOpened) TestWaits.get(c)).session()).isEqualTo(12);
        assertThat(link.pending()).isZero();
    }

    private static Status status(CompletableFuture<Result> f) throws Exception {
        return statusException(f).getStatus();
    }

    private static StatusRuntimeException statusException(CompletableFuture<Result> f) throws Exception {
        try {
            f.get(TestWaits.WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(StatusRuntimeException.class);
            return (StatusRuntimeException) e.getCause();
        }
        throw new AssertionError("expected a failure");
    }
}
