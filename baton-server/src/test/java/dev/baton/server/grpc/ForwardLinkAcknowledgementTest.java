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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
        RawLink.Stream link = openLinkWithTheAnswersThreadBusy(dir);
        byte[] open = CommandCodec.encodeChecked(new Command.OpenSession(null, 60_000));
        link.frames().onNext(LinkFrame.newBuilder().addCommands(ByteString.copyFrom(open)).build());

        // Either the acknowledgement and then the answer (the usual order), or both in one message
        // (the command applied before the frame's thread watched its completion): never neither.
        LinkAnswers first = next(link, "the acknowledgement, with the answers thread busy");
        assertThat(first.getReceived()).isEqualTo(1);
        LinkAnswers withAnswer = first.getAnswersCount() > 0 ? first
                : next(link, "the answer, with the answers thread still busy");
        assertThat(withAnswer.getAnswersCount()).isEqualTo(1);
        LinkAnswer answer = withAnswer.getAnswers(0);
        assertThat(answer.getSeq()).isZero();
        assertThat(answer.getKind()).isEqualTo(LinkAnswer.Kind.RESULT);
        assertThat(ForwardLink.decodeResult(answer.getResult().toByteArray())).isInstanceOf(Result.SessionOpened.class);
        // read after the command applied: at least its entry
        assertThat(withAnswer.getAppliedIndex()).isGreaterThanOrEqualTo(first.getAppliedIndex()).isPositive();
        assertThat(answersHeld.getCount()).isEqualTo(1);
        link.frames().onCompleted();
    }

    /**
     * A frame that leaves answers queued when its thread is done with it (here a refused leader-only
     * command) is acknowledged with them from that thread, not handed to the busy answers thread: the
     * same path as a command that applies before its completion is watched, made certain.
     */
    @Test
    void aFrameWithARefusalIsAcknowledgedWithItWhileTheAnswersThreadIsBusy(@TempDir Path dir) throws Exception {
        RawLink.Stream link = openLinkWithTheAnswersThreadBusy(dir);
        byte[] expire = CommandCodec.encodeChecked(new Command.ExpireSessions(List.of(1L)));
        link.frames().onNext(LinkFrame.newBuilder().addCommands(ByteString.copyFrom(expire)).build());

        LinkAnswers first = next(link, "the refusal and the acknowledgement, with the answers thread busy");
        assertThat(first.getReceived()).isEqualTo(1);
        assertThat(first.getAnswersList()).singleElement().satisfies(a -> {
            assertThat(a.getSeq()).isZero();
            assertThat(RawLink.kind(a)).isEqualTo("PERMISSION_DENIED/PERMISSION_DENIED");
        });
        assertThat(answersHeld.getCount()).isEqualTo(1);
        link.frames().onCompleted();
    }

    /** A single leading node, and a link to a {@link ForwardLinkService} whose answers thread is held busy. */
    private RawLink.Stream openLinkWithTheAnswersThreadBusy(Path dir) throws Exception {
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
        return RawLink.open(ForwardLinkGrpc.newStub(channel));
    }

    private static LinkAnswers next(RawLink.Stream link, String what) throws InterruptedException {
        Object e = link.events().poll(60, TimeUnit.SECONDS);
        assertThat(e).as(what).isInstanceOf(LinkAnswers.class);
        return (LinkAnswers) e;
    }
}
