package dev.baton.server.grpc;

import dev.baton.server.route.WaitingWrites;

import com.google.protobuf.UnsafeByteOperations;
import dev.baton.api.internal.v1.ForwardLinkGrpc;
import dev.baton.api.internal.v1.LinkAnswer;
import dev.baton.api.internal.v1.LinkAnswers;
import dev.baton.api.internal.v1.LinkError;
import dev.baton.api.internal.v1.LinkFrame;
import dev.baton.core.command.Result;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.LongFunction;

/**
 * This node's batched link to one leader for the writes it forwards: one {@code ForwardLink.Link}
 * stream that carries frames of many commands in the core's binary encoding, answered in batches.
 *
 * <p>Why a gRPC stream on the members' API channel rather than SOFAJRaft's bolt RPC on the Raft
 * port: forwarding already has, on that channel, the member check (the cluster secret), the
 * members' TLS, the leader's address (the address book) and flow control, and the leader side has
 * the doors' error mapping; bolt has no member check of its own. What cost a forwarded command twice
 * the CPU of a local one was HTTP/2 framing per command (docs/benchmark-history.md, "Forwarding");
 * packing many commands into one message removes that on either transport.
 *
 * <h2>Natural batching</h2>
 * At most {@link Limits#framesInFlight} frames are sent and not yet acknowledged by the leader (it
 * acknowledges a frame as soon as it has submitted its commands). Whatever is submitted meanwhile
 * waits here and leaves in the next frame, at once when the acknowledgement comes: a lone command
 * goes out immediately, and the busier the link, the bigger the frames. Frames are bounded
 * ({@link Limits#maxFrameCommands}, {@link Limits#maxFrameBytes}), and so are the commands waiting
 * or unanswered ({@link Limits#maxPending}; beyond, a submit fails with a retryable UNAVAILABLE).
 *
 * <h2>Order</h2>
 * One FIFO queue, one sender at a time, one stream: commands reach the leader in submission order,
 * and the leader submits each frame's commands to its log together and in order.
 *
 * <h2>Failure</h2>
 * {@link #fail} (the leader changed away from this link's target, or the node closes) and a broken
 * stream fail every command not answered yet at once, and every later submit; the owner then opens
 * a new link. A command past its deadline fails alone ({@link #expire}).
 */
final class ForwardLink {
    /**
     * @param maxFrameCommands commands per frame, at most
     * @param maxFrameBytes    bytes of commands per frame, at most (a single bigger command still goes alone)
     * @param maxPending       commands waiting to be sent plus sent and not answered, at most
     * @param framesInFlight   frames sent and not yet acknowledged, at most
     */
    record Limits(int maxFrameCommands, int maxFrameBytes, int maxPending, int framesInFlight) {
        /**
         * 4096 commands or 1 MiB a frame (the leader's gRPC port takes messages up to 4 MiB),
         * 65536 pending (as the leader's batcher queue), one frame in flight.
         */
        static Limits defaults() {
            return new Limits(4096, 1 << 20, 1 << 16, 1);
        }
    }

    /**
     * The largest command forwarded: a frame with it alone stays below the 4 MiB messages the
     * leader's gRPC port takes ({@code ApiServer}).
     */
    static final int MAX_COMMAND_BYTES = (4 << 20) - (64 << 10);

    /** One forwarded command, from its submit until its answer (and, if wanted, its wait's outcome). */
    private static final class Pending {
        final CompletableFuture<Result> answer = new CompletableFuture<>();
        final byte[] encoded;
        final boolean inApplyOrder;
        final Consumer<Result> outcome;
        final long deadlineNanos;
        final long outcomeDeadlineNanos;
        /** Its number on the stream, given when it is sent (the leader's answers carry it). */
        long seq = -1;
        /** Its result is in; it only waits for its wait's outcome now. */
        boolean answered;

        Pending(byte[] encoded, boolean inApplyOrder, Consumer<Result> outcome, long deadlineNanos,
                long outcomeDeadlineNanos) {
            this.encoded = encoded;
            this.inApplyOrder = inApplyOrder;
            this.outcome = outcome;
            this.deadlineNanos = deadlineNanos;
            this.outcomeDeadlineNanos = outcomeDeadlineNanos;
        }
    }

    private final String raft;
    private final String api;
    private final Limits limits;
    private final LongFunction<CompletableFuture<Void>> whenApplied;
    private final LongAdder frames;
    private final LongAdder commands;
    private final Consumer<ForwardLink> onBroken;
    private final ClientCallStreamObserver<LinkFrame> requests;

    private final ArrayDeque<Pending> queue = new ArrayDeque<>(); // guarded by this
    private final HashMap<Long, Pending> unanswered = new HashMap<>(); // guarded by this
    /** For each frame sent and not acknowledged, the number of commands sent up to its end. */
    private final ArrayDeque<Long> frameEnds = new ArrayDeque<>(); // guarded by this
    /** The number of the next command sent; the leader numbers the commands it takes in the same order. */
    private long nextSeq; // guarded by this
    private long sent; // guarded by this
    private boolean sending; // guarded by this
    private StatusRuntimeException dead; // guarded by this

    /**
     * Opens the stream (not bound to any caller's context: it outlives every call).
     *
     * @param raft        the leader's Raft endpoint (what leader changes are compared with)
     * @param api         the leader's API address (for error messages)
     * @param whenApplied completes once this node applied the given index (for {@code inApplyOrder})
     * @param frames      counts the frames sent
     * @param commands    counts the commands in them
     * @param onBroken    told once when the stream broke (not when {@link #fail}ed)
     */
    ForwardLink(String raft, String api, Channel channel, ClientInterceptor clusterSecret, Limits limits,
                LongFunction<CompletableFuture<Void>> whenApplied, LongAdder frames, LongAdder commands,
                Consumer<ForwardLink> onBroken) {
        this.raft = raft;
        this.api = api;
        this.limits = limits;
        this.whenApplied = whenApplied;
        this.frames = frames;
        this.commands = commands;
        this.onBroken = onBroken;
        Responses responses = new Responses();
        Context previous = Context.ROOT.attach();
        try {
            ForwardLinkGrpc.newStub(channel).withInterceptors(clusterSecret).link(responses);
        } finally {
            Context.ROOT.detach(previous);
        }
        this.requests = responses.requests;
    }

    String raft() {
        return raft;
    }

    String api() {
        return api;
    }

    /**
     * Queues one command (in the core's encoding) for the leader.
     *
     * @param inApplyOrder         complete only once this node applied what the leader had applied
     *                             when it answered (see {@link dev.baton.server.route.Router#writeInApplyOrder})
     * @param outcome              null, or for a waiting acquire: gets the wait's final outcome if the
     *                             leader sends it (see {@link dev.baton.server.route.Router#writeWithOutcome})
     * @param deadlineNanos        when to give up waiting for the answer (DEADLINE_EXCEEDED)
     * @param outcomeDeadlineNanos when to stop expecting the outcome
     * @return the command's result; fails with a gRPC status exception
     */
    CompletableFuture<Result> submit(byte[] encoded, boolean inApplyOrder, Consumer<Result> outcome,
                                     long deadlineNanos, long outcomeDeadlineNanos) {
        if (encoded.length > MAX_COMMAND_BYTES) {
            // Refused alone, as a unary call would have been: in a frame it would end the whole link.
            return CompletableFuture.failedFuture(Status.RESOURCE_EXHAUSTED.withDescription("a command of "
                    + encoded.length + " bytes is too big to forward (at most " + MAX_COMMAND_BYTES + ")")
                    .asRuntimeException(ApiErrors.trailers("LIMIT_EXCEEDED", null)));
        }
        Pending p = new Pending(encoded, inApplyOrder, outcome, deadlineNanos, outcomeDeadlineNanos);
        synchronized (this) {
            if (dead != null) {
                return CompletableFuture.failedFuture(dead);
            }
            if (queue.size() + unanswered.size() >= limits.maxPending()) {
                return CompletableFuture.failedFuture(ApiErrors.unavailable("too many writes ("
                        + limits.maxPending() + ") wait for the leader at " + api + "; retry later", null));
            }
            queue.addLast(p);
            if (!becomeSender()) {
                return p.answer;
            }
        }
        sendFrames();
        return p.answer;
    }

    /** True if the caller is to send now: nobody sends, the window has room and something waits. */
    private boolean becomeSender() {
        if (sending || dead != null || queue.isEmpty() || frameEnds.size() >= limits.framesInFlight()) {
            return false;
        }
        sending = true;
        return true;
    }

    /** Sends frames while the window has room and commands wait (the caller is the sender). */
    private void sendFrames() {
        while (true) {
            List<Pending> batch;
            synchronized (this) {
                if (dead != null || queue.isEmpty() || frameEnds.size() >= limits.framesInFlight()) {
                    sending = false;
                    return;
                }
                batch = new ArrayList<>(Math.min(queue.size(), limits.maxFrameCommands()));
                long bytes = 0;
                while (!queue.isEmpty() && batch.size() < limits.maxFrameCommands()) {
                    Pending p = queue.peekFirst();
                    if (!batch.isEmpty() && bytes + p.encoded.length > limits.maxFrameBytes()) {
                        break;
                    }
                    queue.pollFirst();
                    // Numbered when sent, not when queued: the leader numbers the commands it
                    // receives, and a queued command that expires (expire) is never sent.
                    p.seq = nextSeq++;
                    unanswered.put(p.seq, p);
                    batch.add(p);
                    bytes += p.encoded.length;
                }
                sent += batch.size();
                frameEnds.addLast(sent);
            }
            // Built and sent outside the lock; only the sender (one thread at a time) gets here.
            LinkFrame.Builder frame = LinkFrame.newBuilder();
            for (int i = 0; i < batch.size(); i++) {
                Pending p = batch.get(i);
                if (p.outcome != null) {
                    frame.addOutcomeWanted(i);
                }
                // The bytes are never changed after encoding: no copy.
                frame.addCommands(UnsafeByteOperations.unsafeWrap(p.encoded));
            }
            frames.increment();
            commands.add(batch.size());
            try {
                requests.onNext(frame.build());
            } catch (RuntimeException e) { // the call was cancelled meanwhile (fail, close)
                synchronized (this) {
                    sending = false;
                }
                broken(ApiErrors.unavailable("the link to the leader at " + api + " broke: " + e.getMessage(), null));
                return;
            }
        }
    }

    /**
     * Fails every command not answered yet with {@code why}, and every later submit, and ends the
     * stream. Waited-for outcomes are dropped (the callers' own apply streams deliver them).
     *
     * @return how many commands it failed (none if the link had failed already)
     */
    int fail(StatusRuntimeException why) {
        int failed = end(why);
        return Math.max(failed, 0);
    }

    /** As {@link #fail}; -1 if the link had ended already. */
    private int end(StatusRuntimeException why) {
        List<Pending> failed = new ArrayList<>();
        synchronized (this) {
            if (dead != null) {
                return -1;
            }
            dead = why;
            for (Pending p : queue) {
                failed.add(p);
            }
            for (Pending p : unanswered.values()) {
                if (!p.answered) {
                    failed.add(p);
                }
            }
            queue.clear();
            unanswered.clear();
            frameEnds.clear();
        }
        try {
            requests.cancel("the forwarding link is closed: " + why.getStatus().getDescription(), null);
        } catch (RuntimeException ignored) {
            // already over
        }
        for (Pending p : failed) {
            p.answer.completeExceptionally(why);
        }
        return failed.size();
    }

    private void broken(StatusRuntimeException why) {
        if (end(why) >= 0) {
            onBroken.accept(this);
        }
    }

    /**
     * Fails the commands whose deadline passed without an answer (DEADLINE_EXCEEDED, as a call past
     * its deadline), and forgets outcomes no longer expected.
     */
    void expire(long nowNanos) {
        List<Pending> late = new ArrayList<>();
        synchronized (this) {
            for (Iterator<Pending> it = queue.iterator(); it.hasNext(); ) {
                Pending p = it.next();
                if (nowNanos - p.deadlineNanos >= 0) {
                    it.remove();
                    late.add(p);
                }
            }
            for (Iterator<Pending> it = unanswered.values().iterator(); it.hasNext(); ) {
                Pending p = it.next();
                if (p.answered ? nowNanos - p.outcomeDeadlineNanos >= 0 : nowNanos - p.deadlineNanos >= 0) {
                    it.remove();
                    if (!p.answered) {
                        late.add(p);
                    }
                }
            }
        }
        if (!late.isEmpty()) {
            StatusRuntimeException e = Status.DEADLINE_EXCEEDED
                    .withDescription("no answer from the leader at " + api + " in time").asRuntimeException();
            for (Pending p : late) {
                p.answer.completeExceptionally(e);
            }
        }
    }

    /** Commands waiting to be sent plus those sent and not answered (for tests). */
    synchronized int pending() {
        return queue.size() + unanswered.size();
    }

    private void onAnswers(LinkAnswers msg) {
        List<LinkAnswer> answers = msg.getAnswersList();
        // Decoded before taking the lock; a command's result or the status it failed with.
        Object[] decoded = new Object[answers.size()];
        for (int i = 0; i < decoded.length; i++) {
            LinkAnswer a = answers.get(i);
            if (a.getKind() == LinkAnswer.Kind.NO_OUTCOME) {
                continue;
            }
            if (a.hasError()) {
                decoded[i] = status(a.getError());
                continue;
            }
            try {
                decoded[i] = decodeResult(a.getResult().toByteArray());
            } catch (RuntimeException e) {
                decoded[i] = ApiErrors.toStatus(e, null);
            }
        }
        Pending[] found = new Pending[decoded.length];
        boolean send;
        synchronized (this) {
            while (!frameEnds.isEmpty() && frameEnds.peekFirst() <= msg.getReceived()) {
                frameEnds.pollFirst();
            }
            for (int i = 0; i < decoded.length; i++) {
                LinkAnswer a = answers.get(i);
                Pending p = unanswered.get(a.getSeq());
                if (p == null) {
                    continue; // expired, or an outcome nobody waits for any more
                }
                if (a.getKind() == LinkAnswer.Kind.RESULT) {
                    if (p.answered) {
                        continue;
                    }
                    if (p.outcome != null && decoded[i] instanceof Result r && WaitingWrites.queued(r)) {
                        p.answered = true; // stays for its outcome
                    } else {
                        unanswered.remove(a.getSeq());
                    }
                } else {
                    if (!p.answered) {
                        continue; // an outcome before the result: never sent so by the leader
                    }
                    unanswered.remove(a.getSeq());
                }
                found[i] = p;
            }
            send = becomeSender();
        }
        List<Runnable> inOrder = null;
        for (int i = 0; i < decoded.length; i++) {
            Pending p = found[i];
            if (p == null) {
                continue;
            }
            Object d = decoded[i];
            LinkAnswer.Kind kind = answers.get(i).getKind();
            if (kind != LinkAnswer.Kind.RESULT) {
                if (kind == LinkAnswer.Kind.OUTCOME && d instanceof Result r) {
                    p.outcome.accept(r);
                }
                continue;
            }
            if (d instanceof StatusRuntimeException s) {
                p.answer.completeExceptionally(PeerForwarding.forwardFailure(s, api));
            } else if (p.inApplyOrder && msg.getAppliedIndex() > 0) {
                if (inOrder == null) {
                    inOrder = new ArrayList<>();
                }
                Result r = (Result) d;
                inOrder.add(() -> p.answer.complete(r));
            } else {
                p.answer.complete((Result) d);
            }
        }
        if (inOrder != null) {
            List<Runnable> complete = inOrder;
            whenApplied.apply(msg.getAppliedIndex()).thenRun(() -> complete.forEach(Runnable::run));
        }
        if (send) {
            sendFrames();
        }
    }

    /** A failed command's status as a unary call would have ended with it. */
    private static StatusRuntimeException status(LinkError e) {
        return Status.fromCodeValue(e.getCode()).withDescription(e.getDescription())
                .asRuntimeException(ApiErrors.trailers(e.getBatonCode().isEmpty() ? null : e.getBatonCode(),
                        e.getLeader().isEmpty() ? null : e.getLeader()));
    }

    /** The leader's side of the stream; runs on the transport's threads. */
    private final class Responses implements ClientResponseObserver<LinkFrame, LinkAnswers> {
        ClientCallStreamObserver<LinkFrame> requests;

        @Override
        public void beforeStart(ClientCallStreamObserver<LinkFrame> r) {
            requests = r;
        }

        @Override
        public void onNext(LinkAnswers msg) {
            onAnswers(msg);
        }

        @Override
        public void onError(Throwable t) {
            broken(PeerForwarding.linkBroken(t, api));
        }

        @Override
        public void onCompleted() {
            broken(ApiErrors.unavailable("the leader at " + api + " ended the forwarding link", null));
        }
    }

    static byte[] encodeResult(Result r) {
        dev.baton.core.util.BinaryWriter w = new dev.baton.core.util.BinaryWriter(64);
        dev.baton.core.command.CommandCodec.encodeResult(w, r);
        return w.toByteArray();
    }

    static Result decodeResult(byte[] b) {
        return dev.baton.core.command.CommandCodec.decodeResult(new dev.baton.core.util.BinaryReader(b));
    }
}
