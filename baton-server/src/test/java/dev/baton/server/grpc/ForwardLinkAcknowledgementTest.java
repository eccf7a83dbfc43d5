package dev.baton.server.grpc;

import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.route.WaitingWrites;

import com.google.protobuf.ByteString;
import dev.baton.api.internal.v1.ForwardLinkGrpc;
import dev.baton.api.internal.v1.LinkAnswer;
import dev.baton.api.internal.v1.LinkAnswers;
import dev.baton.api.internal.v1.LinkFrame;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The leader acknowledges a follower's frame on the thread that took it, and sends the answers of the
 * commands an applied batch completed from the apply thread, neither through the thread that sends the
 * other answers: the follower sends its next frame only on the acknowledgement, and every hand-over
 * between threads costs a wake-up. One real node leads; its {@link ForwardLinkService} is served with
 * that answers thread held busy, and a frame sent to it is acknowledged and answered all the same.
 */
class ForwardLinkAcknowledgementTest {
    private final CountDownLatch answersHeld = new CountDownLatch(1);
    private final ExecutorService answers = Executors.newSingleThreadExecutor();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private ApiServer node;
    private Server server;
    private ManagedChannel channel;

    @AfterEach
    void stop() throws Exception {
        answersHeld.countDown();
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        answers.shutdownNow();
        timer.shutdownNow();
        if (node != null) {
            node.close();
        }
    }

    @Test
    void aFrameIsAcknowledgedAndAnsweredWhileTheAnswersThreadIsBusy(@TempDir Path dir) throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        node = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
        assertThat(node.node().waitForLeader(Duration.ofSeconds(60))).isPresent();

        answers.execute(() -> {
            try {
                answersHeld.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        ForwardLinkService links = new ForwardLinkService(node.router(), new WaitingWrites(node.router(), timer),
                new AtomicLong(), answers);
        String name = "forward-link-ack-" + System.nanoTime();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(links).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();

        RawLink.Stream link = RawLink.open(ForwardLinkGrpc.newStub(channel));
        StreamObserver<LinkFrame> frames = link.frames();
        BlockingQueue<Object> received = link.events();
        byte[] open = CommandCodec.encodeChecked(new Command.OpenSession(null, 60_000));
        frames.onNext(LinkFrame.newBuilder().addCommands(ByteString.copyFrom(open)).build());

        Object first = received.poll(60, TimeUnit.SECONDS);
        assertThat(first).as("the acknowledgement, with the answers thread busy").isInstanceOf(LinkAnswers.class);
        LinkAnswers ack = (LinkAnswers) first;
        assertThat(ack.getReceived()).isEqualTo(1);
        assertThat(ack.getAnswersCount()).isZero();

        Object second = received.poll(60, TimeUnit.SECONDS);
        assertThat(second).as("the answer, with the answers thread still busy").isInstanceOf(LinkAnswers.class);
        LinkAnswers answers = (LinkAnswers) second;
        assertThat(answers.getAnswersCount()).isEqualTo(1);
        LinkAnswer answer = answers.getAnswers(0);
        assertThat(answer.getSeq()).isZero();
        assertThat(answer.getKind()).isEqualTo(LinkAnswer.Kind.RESULT);
        assertThat(ForwardLink.decodeResult(answer.getResult().toByteArray())).isInstanceOf(Result.SessionOpened.class);
        // read after the command applied: at least its entry
        assertThat(answers.getAppliedIndex()).isGreaterThanOrEqualTo(ack.getAppliedIndex()).isPositive();
        assertThat(answersHeld.getCount()).isEqualTo(1);
        frames.onCompleted();
    }
}
