package dev.baton.server.grpc;

import dev.baton.server.route.Router;
import dev.baton.server.route.WaitingWrites;

import com.google.protobuf.UnsafeByteOperations;
import dev.baton.api.internal.v1.ForwardLinkGrpc;
import dev.baton.api.internal.v1.LinkAnswer;
import dev.baton.api.internal.v1.LinkAnswers;
import dev.baton.api.internal.v1.LinkError;
import dev.baton.api.internal.v1.LinkFrame;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.core.util.BinaryReader;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The leader's end of the followers' batched forwarding links ({@link ForwardLink}): takes frames
 * of commands, submits each frame's commands to the log at once and in order
 * ({@link Router#writeLocalAll}), acknowledges the frame, and sends the answers back in batches.
 * Members only, as {@code Forward} (the cluster secret's interceptor wraps it); only client
 * commands (a command the leader alone issues is refused, whoever sends it); a receiver that does not lead ends the
 * stream with UNAVAILABLE and the leader hint (a forwarded write is never forwarded again).
 *
 * <h2>Batched answers</h2>
 * Answers are queued per link as their commands complete. Most complete on the apply thread, an
 * entry's commands together: the apply thread sends everything queued on the link in one message
 * once it has applied the batch of entries it is on ({@link dev.baton.server.raft.BatonNode#runAfterApplyBatch}),
 * so the answers that completed together leave together, without a hand-over. Answers that complete
 * elsewhere (a failure, a wait's outcome) are sent by one {@code baton-forward-answers} thread. Either
 * takes the stream's lock, then everything queued in order: a wait's outcome never overtakes the
 * result it follows.
 *
 * <h2>Acknowledgements</h2>
 * A frame is acknowledged by the transport's thread that took it, right after its commands are
 * submitted (with whatever answers are already queued: refusals, or a command that applied before its
 * completion was watched), and never through the answers thread: the follower sends its next frame only on that
 * acknowledgement, so a hand-over there would delay every follower's next frame and wake two threads
 * (the answers thread, then the transport's to write) per frame. Messages on a link are written one at
 * a time (under the stream's lock); an acknowledgement may overtake an answers message that
 * acknowledged less, which the follower takes as it comes (it counts the frames acknowledged by the
 * highest number seen).
 */
public final class ForwardLinkService extends ForwardLinkGrpc.ForwardLinkImplBase implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ForwardLinkService.class);
    /** Answers per message, at most (results are tens of bytes; far below the 4 MiB message limit). */
    private static final int MAX_ANSWERS_PER_MESSAGE = 8192;

    private final Router router;
    private final WaitingWrites waits;
    private final AtomicLong refusedCommands;
    private final ExecutorService answers;

    /**
     * @param waits           watches the waits whose outcome a follower asked for
     * @param refusedCommands counts leader-only commands refused (as {@code Forward} does)
     */
    public ForwardLinkService(Router router, WaitingWrites waits, AtomicLong refusedCommands) {
        this(router, waits, refusedCommands, Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "baton-forward-answers");
            t.setDaemon(true);
            return t;
        }));
    }

    /** With the executor that sends the answers (one thread: a link's messages stay in order); for tests. */
    ForwardLinkService(Router router, WaitingWrites waits, AtomicLong refusedCommands, ExecutorService answers) {
        this.router = router;
        this.waits = waits;
        this.refusedCommands = refusedCommands;
        this.answers = answers;
    }

    @Override
    public StreamObserver<LinkFrame> link(StreamObserver<LinkAnswers> out) {
        return new Link((ServerCallStreamObserver<LinkAnswers>) out);
    }

    @Override
    public void close() {
        answers.shutdownNow();
    }

    /** One follower's link. Frames arrive on the transport's thread, one at a time. */
    private final class Link implements StreamObserver<LinkFrame> {
        private final ServerCallStreamObserver<LinkAnswers> out; // used under its own lock
        private final ConcurrentLinkedQueue<LinkAnswer> outbox = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean flushQueued = new AtomicBoolean();
        /** The apply thread's flush after a batch (one instance: asked for once per batch however many answers). */
        private final Runnable flushAfterBatch = this::flush;
        /** Commands taken from the stream so far (numbers the next frame's commands). */
        private volatile long received;
        private long acknowledged; // guarded by out
        private volatile boolean finished;

        Link(ServerCallStreamObserver<LinkAnswers> out) {
            this.out = out;
            out.setOnCancelHandler(() -> finished = true);
        }

        @Override
        public void onNext(LinkFrame frame) {
            if (finished) {
                return;
            }
            if (!router.node().isLeader()) {
                end(ApiErrors.unavailable("not the leader (forwarded writes are not forwarded again)",
                        router.leaderApi().orElse(null)));
                return;
            }
            long first = received;
            int n = frame.getCommandsCount();
            boolean[] wantsOutcome = new boolean[n];
            for (int i : frame.getOutcomeWantedList()) {
                if (i < n) {
                    wantsOutcome[i] = true;
                }
            }
            List<Command.ClientCommand> accepted = new ArrayList<>(n);
            List<Long> seqs = new ArrayList<>(n);
            List<WaitingWrites.Watch> watches = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long seq = first + i;
                Command c;
                try {
                    c = CommandCodec.decode(new BinaryReader(frame.getCommands(i).toByteArray()));
                } catch (RuntimeException e) {
                    outbox.add(error(seq, Status.INVALID_ARGUMENT.withDescription("undecodable forwarded command: "
                            + e.getMessage()).asRuntimeException(ApiErrors.trailers("MALFORMED", null))));
                    continue;
                }
                if (!(c instanceof Command.ClientCommand client)) {
                    refusedCommands.incrementAndGet();
                    outbox.add(error(seq, Status.PERMISSION_DENIED.withDescription("only client commands can be"
                                    + " forwarded; " + c.getClass().getSimpleName() + " is issued by the leader itself")
                            .asRuntimeException(ApiErrors.trailers("PERMISSION_DENIED", null))));
                    continue;
                }
                accepted.add(client);
                seqs.add(seq);
                // Registered before proposing, so an outcome applied right after the QUEUED answer is not missed.
                watches.add(wantsOutcome[i] ? waits.watch(client) : null);
            }
            List<CompletableFuture<Result>> results = accepted.isEmpty() ? List.of() : router.writeLocalAll(accepted);
            received = first + n;
            for (int j = 0; j < results.size(); j++) {
                long seq = seqs.get(j);
                WaitingWrites.Watch w = watches.get(j);
                results.get(j).whenComplete((r, t) -> answered(seq, w, r, t));
            }
            if (outbox.isEmpty()) {
                acknowledge();
            } else {
                // Refusals, or answers already in (a command can apply before its whenComplete above):
                // the acknowledgement goes with them, from this thread too, never behind the answers thread.
                flush();
            }
        }

        /** Sends the acknowledgement of every frame taken, on the calling (transport's) thread. */
        private void acknowledge() {
            synchronized (out) {
                long took = received;
                if (finished || took <= acknowledged) {
                    return;
                }
                acknowledged = took;
                send(LinkAnswers.newBuilder().setReceived(took).setAppliedIndex(router.node().appliedDataIndex()));
            }
        }

        /** Writes one message (the caller holds the stream's lock and checked {@code finished}). */
        private void send(LinkAnswers.Builder message) {
            try {
                out.onNext(message.build());
            } catch (RuntimeException e) {
                finished = true;
                LOG.debug("Forwarding link closed while answering", e);
            }
        }

        private void answered(long seq, WaitingWrites.Watch w, Result r, Throwable t) {
            CompletableFuture<Result> outcome = w == null ? null : w.answered(r, t);
            if (t != null) {
                outbox.add(error(seq, ApiErrors.toStatus(t, null)));
                answerSoon();
                return;
            }
            outbox.add(LinkAnswer.newBuilder().setSeq(seq)
                    .setResult(UnsafeByteOperations.unsafeWrap(ForwardLink.encodeResult(r))).build());
            if (outcome != null) {
                // The wait's outcome when it comes; none (a leader change, the session's end, past the
                // wait's timeout plus the grace period): the follower's own apply stream takes over.
                outcome.whenComplete((o, err) -> {
                    LinkAnswer.Builder a = LinkAnswer.newBuilder().setSeq(seq);
                    if (o != null) {
                        a.setKind(LinkAnswer.Kind.OUTCOME).setResult(UnsafeByteOperations.unsafeWrap(ForwardLink.encodeResult(o)));
                    } else {
                        a.setKind(LinkAnswer.Kind.NO_OUTCOME);
                    }
                    outbox.add(a.build());
                    answerSoon();
                });
            }
            answerSoon();
        }

        /** Sends what is queued: after the batch when on the apply thread, else through the answers thread. */
        private void answerSoon() {
            if (!router.node().runAfterApplyBatch(flushAfterBatch)) {
                flushSoon();
            }
        }

        private void flushSoon() {
            if (flushQueued.compareAndSet(false, true)) {
                try {
                    answers.execute(() -> {
                        flushQueued.set(false);
                        flush();
                    });
                } catch (RuntimeException e) { // shutting down
                    flushQueued.set(false);
                }
            }
        }

        /**
         * Sends every queued answer and the acknowledgement of every frame taken (on the apply thread
         * after a batch, on the transport's thread after a frame, or on the answers thread). Drains the queue under the stream's lock, so two
         * senders never reorder it.
         */
        private void flush() {
            synchronized (out) {
                if (finished) {
                    outbox.clear();
                    return;
                }
                do {
                    long took = received;
                    LinkAnswers.Builder b = LinkAnswers.newBuilder();
                    LinkAnswer a;
                    while (b.getAnswersCount() < MAX_ANSWERS_PER_MESSAGE && (a = outbox.poll()) != null) {
                        b.addAnswers(a);
                    }
                    if (b.getAnswersCount() == 0 && took <= acknowledged) {
                        return;
                    }
                    acknowledged = Math.max(acknowledged, took);
                    // Read after the answers' commands applied: at least every answered command's entry.
                    b.setReceived(took).setAppliedIndex(router.node().appliedDataIndex());
                    send(b);
                } while (!finished && !outbox.isEmpty());
            }
        }

        private void end(StatusRuntimeException why) {
            synchronized (out) {
                if (finished) {
                    return;
                }
                finished = true;
                try {
                    out.onError(why);
                } catch (RuntimeException e) {
                    LOG.debug("Forwarding link already closed", e);
                }
            }
        }

        @Override
        public void onError(Throwable t) {
            finished = true;
        }

        @Override
        public void onCompleted() {
            synchronized (out) {
                if (finished) {
                    return;
                }
                finished = true;
                try {
                    out.onCompleted();
                } catch (RuntimeException e) {
                    LOG.debug("Forwarding link already closed", e);
                }
            }
        }
    }

    private static LinkAnswer error(long seq, StatusRuntimeException s) {
        Metadata trailers = s.getTrailers();
        String code = trailers == null ? null : trailers.get(ApiErrors.ERROR_KEY);
        String leader = trailers == null ? null : trailers.get(ApiErrors.LEADER_KEY);
        LinkError.Builder e = LinkError.newBuilder().setCode(s.getStatus().getCode().value());
        if (s.getStatus().getDescription() != null) {
            e.setDescription(s.getStatus().getDescription());
        }
        if (code != null) {
            e.setBatonCode(code);
        }
        if (leader != null) {
            e.setLeader(leader);
        }
        return LinkAnswer.newBuilder().setSeq(seq).setError(e).build();
    }
}
