package dev.baton.server.grpc;

import com.google.protobuf.ByteString;
import dev.baton.api.internal.v1.ForwardLinkGrpc;
import dev.baton.api.internal.v1.LinkAnswer;
import dev.baton.api.internal.v1.LinkAnswers;
import dev.baton.api.internal.v1.LinkFrame;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The members-only {@code ForwardLink.Link} stream opened by hand, as a stranger on the network or a
 * member would, without {@link ForwardLink}'s mapping of errors: one frame of raw command bytes goes
 * out, and what comes back is either one result answer per command or the status that ended the stream.
 */
final class RawLink {
    /** The RESULT answers in stream order, or (if the stream was refused) its status and no answers. */
    record Outcome(List<LinkAnswer> answers, Status status) {
        boolean refused() {
            return status != null;
        }
    }

    /**
     * An open link: where frames go, and what came back in order (each {@link LinkAnswers} message,
     * then the {@link Status} that ended the stream: {@code OK} if the leader completed it).
     */
    record Stream(StreamObserver<LinkFrame> frames, BlockingQueue<Object> events) {}

    private RawLink() {}

    /** Opens a link on {@code stub} (with whatever interceptors it carries). */
    static Stream open(ForwardLinkGrpc.ForwardLinkStub stub) {
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        StreamObserver<LinkFrame> frames = stub.link(new StreamObserver<>() {
            @Override
            public void onNext(LinkAnswers a) {
                events.add(a);
            }

            @Override
            public void onError(Throwable t) {
                events.add(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                events.add(Status.OK.withDescription("the leader ended the stream"));
            }
        });
        return new Stream(frames, events);
    }

    /** Sends {@code commands} in one frame; {@code secret} null sends no cluster secret at all. */
    static Outcome send(Channel channel, ClientInterceptor secret, List<byte[]> commands) throws InterruptedException {
        var stub = ForwardLinkGrpc.newStub(channel);
        if (secret != null) {
            stub = stub.withInterceptors(secret);
        }
        Stream link = open(stub);
        StreamObserver<LinkFrame> frames = link.frames();
        BlockingQueue<Object> events = link.events();
        LinkFrame.Builder frame = LinkFrame.newBuilder();
        commands.forEach(c -> frame.addCommands(ByteString.copyFrom(c)));
        frames.onNext(frame.build());
        List<LinkAnswer> results = new ArrayList<>();
        try {
            while (results.size() < commands.size()) {
                Object e = events.poll(60, TimeUnit.SECONDS);
                if (e == null) {
                    throw new AssertionError("no answer within 60 s; got " + results.size() + " of " + commands.size());
                }
                if (e instanceof Status s) {
                    return new Outcome(List.copyOf(results), s);
                }
                for (LinkAnswer a : ((LinkAnswers) e).getAnswersList()) {
                    if (a.getKind() == LinkAnswer.Kind.RESULT) {
                        results.add(a);
                    }
                }
            }
        } finally {
            frames.onError(Status.CANCELLED.withDescription("test over").asRuntimeException());
        }
        results.sort(java.util.Comparator.comparingLong(LinkAnswer::getSeq));
        return new Outcome(List.copyOf(results), null);
    }

    /** The answer's error as "CODE/baton-code", or "result" if it carries a result. */
    static String kind(LinkAnswer a) {
        return a.hasError() ? Status.fromCodeValue(a.getError().getCode()).getCode() + "/" + a.getError().getBatonCode()
                : "result";
    }
}
