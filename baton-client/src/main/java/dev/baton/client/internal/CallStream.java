package dev.baton.client.internal;

import dev.baton.api.v1.CallError;
import dev.baton.api.v1.CallReply;
import dev.baton.api.v1.CallRequest;
import dev.baton.api.v1.CallsGrpc;
import dev.baton.api.v1.CancelCall;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One endpoint's channel as the {@link Invoker} sees it: calls of the methods with a stream form
 * ({@link CallStreamMethods}) travel as items of one long-lived {@code baton.v1.Calls/Stream}, every
 * other call goes to the endpoint's channel as before. A streamed call behaves as a unary call would
 * for the invoker: one reply and an OK close, or a close with the status and the trailers
 * ({@code baton-error}, {@code baton-leader}) the unary call would have ended with; so the retry
 * rules stay the invoker's, and a retry sends the same request id again.
 *
 * <ul>
 *   <li>The stream is opened when a call first needs it, and again after it broke. A stream that
 *       breaks fails its calls in flight with {@code UNAVAILABLE} (their outcome is unknown: the
 *       invoker retries them), or with the stream's own {@code UNAUTHENTICATED} /
 *       {@code PERMISSION_DENIED} when the node refused it.</li>
 *   <li>Tokens travel once per stream, when it opens: a token supplier is asked then, so a rotated
 *       token is used from the next stream on. A stream is replaced by a new one for new calls once it
 *       is {@link #MAX_AGE_NANOS} old, or once a call on it was refused {@code UNAUTHENTICATED} (the node
 *       checks every call against its current token file); the old one ends when its last call is
 *       answered.</li>
 *   <li>Deadlines are the client's: a call not answered by its deadline closes with
 *       {@code DEADLINE_EXCEEDED} here; the node, told the deadline, gives up on the call then too.
 *       Cancelling a call sends a cancellation for it.</li>
 *   <li>A node without the stream ({@code UNIMPLEMENTED}) gets unary calls from then on, the calls
 *       in flight included.</li>
 * </ul>
 */
final class CallStream extends Channel {
    private static final System.Logger LOG = System.getLogger(CallStream.class.getName());

    /** Calls go to a new stream once the current one is this old: a rotated token is used from then on. */
    public static final long MAX_AGE_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final Channel transport;
    private final ScheduledExecutorService timer;
    private final String address;
    private final AtomicLong ids = new AtomicLong();
    /** Held while a new stream is made and started (one at a time); never taken by gRPC's callbacks. */
    private final Object lock = new Object();
    /**
     * The stream new calls go to. Set under {@link #lock}; cleared by compare-and-set without it, because
     * a stream can end ({@code onClose}, which gRPC's OkHttp transport calls while holding its lock on a
     * channel with a direct executor) while another thread, holding {@link #lock}, starts a stream on
     * that same transport: taking {@link #lock} in {@code onClose} deadlocked the two (a CLI command hung).
     */
    private final AtomicReference<Link> link = new AtomicReference<>();
    private volatile boolean unsupported;
    private volatile boolean shutdown;
    private final AtomicLong streamsOpened = new AtomicLong();

    /**
     * @param transport the endpoint's channel (with the client's token interceptor, if any)
     * @param timer     runs the calls' deadlines
     */
    CallStream(Channel transport, ScheduledExecutorService timer, String address) {
        this.transport = transport;
        this.timer = timer;
        this.address = address;
    }

    @Override
    public <Req, Resp> ClientCall<Req, Resp> newCall(MethodDescriptor<Req, Resp> method, CallOptions options) {
        CallStreamMethods.Form<Req, Resp> form = unsupported ? null : CallStreamMethods.of(method);
        if (form == null) {
            return transport.newCall(method, options);
        }
        if (shutdown) {
            throw new IllegalStateException("the call stream to " + address + " is shut down");
        }
        return new StreamedCall<>(form, options);
    }

    @Override
    public String authority() {
        return transport.authority();
    }

    /** Streams opened so far (for tests). */
    public long streamsOpened() {
        return streamsOpened.get();
    }

    /** Ends the stream: its calls in flight fail with UNAVAILABLE (the client is closing; nothing retries them). */
    public void shutdown() {
        shutdown = true;
        Link l = link.getAndSet(null);
        if (l != null) {
            l.call.cancel("the Baton client is closing", null);
        }
    }

    /** Breaks the current stream as a network failure would (for tests). */
    public void breakForTest() {
        Link l = link.get();
        if (l != null) {
            l.call.cancel("broken for a test", null);
        }
    }

    /** The stream to send on: the current one, or a new one if there is none, it broke or it is too old. */
    private Link link() {
        Link old = null;
        Link l;
        synchronized (lock) {
            l = link.get();
            if (l != null && !l.closedForSending() && System.nanoTime() - l.openedAtNanos < MAX_AGE_NANOS) {
                return l;
            }
            if (l != null && !l.closedForSending()) {
                old = l;
            }
            l = new Link();
            link.set(l);
            l.start(); // asks a token supplier; starting a call does not block
        }
        if (old != null) {
            old.retire();
        }
        return l;
    }

    /** New calls go to a new stream; {@code l} ends when its last call is answered. */
    private void replace(Link l) {
        link.compareAndSet(l, null);
        l.retire();
    }

    private void send(StreamedCall<?, ?> c, CallRequest request) {
        for (int tries = 0; ; tries++) {
            if (c.done.get()) {
                return; // closed meanwhile (its stream ended as it was being sent): the invoker decides
            }
            Link l;
            try {
                l = link();
            } catch (RuntimeException e) {
                // The stream could not start (a token supplier failed, say): as a unary call would.
                c.close(Status.CANCELLED.withDescription("failed to send the request").withCause(e), new Metadata());
                return;
            }
            if (l.send(c, request)) {
                return;
            }
            if (tries > 3) {
                c.close(Status.UNAVAILABLE.withDescription("the call stream to " + address + " keeps ending"),
                        new Metadata());
                return;
            }
        }
    }

    /** The status the calls in flight on a stream that ended with {@code s} fail with. */
    private Status forCallsInFlight(Status s) {
        switch (s.getCode()) {
            case UNAVAILABLE:
            case UNAUTHENTICATED:
            case PERMISSION_DENIED:
                return s; // the stream's own refusal or transport failure, causes (TLS) included
            case OK:
                return Status.UNAVAILABLE.withDescription("the node " + address + " ended the call stream");
            default:
                return Status.UNAVAILABLE.withDescription("the call stream to " + address + " ended with "
                        + s.getCode() + (s.getDescription() != null ? ": " + s.getDescription() : ""))
                        .withCause(s.getCause());
        }
    }

    /**
     * One {@code Calls/Stream} call.
     *
     * <h2>No lock held while calling into the transport</h2>
     * A {@link ClientCall} takes one caller at a time, so everything that calls into {@link #call}
     * ({@code sendMessage}, {@code halfClose}, {@code request}) goes through {@link #outbound} and is
     * run, in order, by whichever thread finds nobody else draining it ({@link #drain}); the link's
     * monitor guards only its flags and is never held across a call into the transport. The reason is
     * the transports that call back while holding their own lock (gRPC's OkHttp transport on a channel
     * with a direct executor, which a client's {@code channelFactory} may build): a callback here
     * ({@code onMessage}, {@code onClose}) that waited for a lock held by a thread waiting for the
     * transport's lock would deadlock the two.
     */
    private final class Link {
        final ClientCall<CallRequest, CallReply> call = transport.newCall(CallsGrpc.getStreamMethod(), CallOptions.DEFAULT);
        final ConcurrentHashMap<Long, StreamedCall<?, ?>> pending = new ConcurrentHashMap<>();
        final long openedAtNanos = System.nanoTime();
        /** Calls into {@link #call} not made yet, in the order decided under the monitor. */
        private final ConcurrentLinkedQueue<Runnable> outbound = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean draining = new AtomicBoolean();
        // guarded by this
        private boolean ended;
        private boolean halfClosed;
        private boolean retiring;

        void start() {
            streamsOpened.incrementAndGet();
            try {
                call.start(new ClientCall.Listener<>() {
                    @Override
                    public void onMessage(CallReply reply) {
                        StreamedCall<?, ?> c = pending.remove(reply.getCallId());
                        if (c != null) {
                            c.answer(reply);
                        }
                        outbound.add(() -> call.request(1));
                        drain();
                        halfCloseIfRetiredAndIdle();
                    }

                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        ended(status, trailers);
                    }
                }, new Metadata());
                call.request(1);
            } catch (RuntimeException e) {
                synchronized (this) {
                    ended = true;
                }
                call.cancel("the call stream could not start", e);
                throw e;
            }
        }

        /** Makes the calls into the transport queued so far, unless another thread is making them. */
        private void drain() {
            while (!outbound.isEmpty() && draining.compareAndSet(false, true)) {
                try {
                    Runnable op;
                    while ((op = outbound.poll()) != null) {
                        try {
                            op.run();
                        } catch (RuntimeException e) {
                            // The stream is over (cancelled, say): its onClose fails the calls in flight.
                            LOG.log(Level.DEBUG, "A call into the call stream to " + address + " failed", e);
                            call.cancel("the call stream failed", e);
                        }
                    }
                } finally {
                    draining.set(false);
                }
            }
        }

        synchronized boolean closedForSending() {
            return ended || halfClosed || retiring;
        }

        /** Sends {@code c}; false if this stream takes no more calls (send it on the next). */
        boolean send(StreamedCall<?, ?> c, CallRequest request) {
            pending.put(c.id, c);
            c.link = this;
            boolean queued = false;
            synchronized (this) {
                if (!ended && !halfClosed) {
                    outbound.add(() -> call.sendMessage(request));
                    queued = true;
                }
            }
            if (queued) {
                drain();
                return true;
            }
            pending.remove(c.id, c);
            c.link = null;
            return false;
        }

        void cancel(long id) {
            if (pending.remove(id) == null) {
                return;
            }
            synchronized (this) {
                if (!ended && !halfClosed) {
                    outbound.add(() -> call.sendMessage(CallRequest.newBuilder().setCallId(id)
                            .setCancel(CancelCall.getDefaultInstance()).build()));
                }
            }
            drain();
            halfCloseIfRetiredAndIdle();
        }

        void forget(long id, StreamedCall<?, ?> c) {
            pending.remove(id, c);
            halfCloseIfRetiredAndIdle();
        }

        void retire() {
            synchronized (this) {
                retiring = true;
            }
            halfCloseIfRetiredAndIdle();
        }

        private void halfCloseIfRetiredAndIdle() {
            synchronized (this) {
                if (!retiring || halfClosed || ended || !pending.isEmpty()) {
                    return;
                }
                halfClosed = true;
                outbound.add(call::halfClose); // after every message queued before it
            }
            drain();
        }

        private void ended(Status status, Metadata trailers) {
            synchronized (this) {
                ended = true;
            }
            link.compareAndSet(this, null); // not under lock: see the field
            List<StreamedCall<?, ?>> calls = List.copyOf(pending.values());
            pending.clear();
            if (status.getCode() == Status.Code.UNIMPLEMENTED && !shutdown) {
                LOG.log(Level.DEBUG, "{0} does not serve the call stream; using unary calls", address);
                unsupported = true;
                for (StreamedCall<?, ?> c : calls) {
                    c.unary();
                }
                return;
            }
            if (!calls.isEmpty()) {
                LOG.log(Level.DEBUG, "The call stream to {0} ended with {1}; {2} call(s) in flight fail", address,
                        status, calls.size());
            }
            Status s = forCallsInFlight(status);
            for (StreamedCall<?, ?> c : calls) {
                c.close(s, trailers == null ? new Metadata() : trailers);
            }
        }
    }

    /** A call as the invoker sees it, made over the stream. */
    private final class StreamedCall<Req, Resp> extends ClientCall<Req, Resp> {
        final CallStreamMethods.Form<Req, Resp> form;
        final CallOptions options;
        final long id = ids.incrementAndGet();
        private final AtomicBoolean done = new AtomicBoolean();
        private Listener<Resp> listener;
        private Metadata headers;
        private Req request;
        volatile Link link;
        private volatile ScheduledFuture<?> timeout;
        private volatile ClientCall<Req, Resp> unary;

        StreamedCall(CallStreamMethods.Form<Req, Resp> form, CallOptions options) {
            this.form = form;
            this.options = options;
        }

        @Override
        public void start(Listener<Resp> responseListener, Metadata headers) {
            this.listener = responseListener;
            this.headers = headers;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void sendMessage(Req message) {
            this.request = message;
        }

        @Override
        public void halfClose() {
            CallRequest.Builder b = CallRequest.newBuilder().setCallId(id);
            Deadline deadline = options.getDeadline();
            if (deadline != null) {
                long left = deadline.timeRemaining(TimeUnit.NANOSECONDS);
                if (left <= 0) {
                    close(Status.DEADLINE_EXCEEDED.withDescription("the deadline passed before the call was sent"),
                            new Metadata());
                    return;
                }
                b.setDeadlineMs(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                try {
                    timeout = timer.schedule(this::deadlinePassed, left, TimeUnit.NANOSECONDS);
                } catch (RejectedExecutionException e) {
                    close(Status.CANCELLED.withDescription("the Baton client is closed"), new Metadata());
                    return;
                }
            }
            form.wrap().accept(b, request);
            send(this, b.build());
        }

        @Override
        public void cancel(String message, Throwable cause) {
            ClientCall<Req, Resp> u = unary;
            if (u != null) {
                u.cancel(message, cause);
                return;
            }
            if (!finish()) {
                return;
            }
            Link l = link;
            if (l != null) {
                l.cancel(id);
            }
            listener.onClose(Status.CANCELLED.withDescription(message).withCause(cause), new Metadata());
        }

        private boolean finish() {
            if (!done.compareAndSet(false, true)) {
                return false;
            }
            ScheduledFuture<?> t = timeout;
            if (t != null) {
                t.cancel(false);
            }
            return true;
        }

        private void deadlinePassed() {
            if (unary != null || !finish()) {
                return;
            }
            Link l = link;
            if (l != null) {
                l.forget(id, this); // the node gives up on it at the same deadline
            }
            listener.onClose(Status.DEADLINE_EXCEEDED.withDescription("no answer over the call stream to " + address
                    + " by the call's deadline"), new Metadata());
        }

        void answer(CallReply reply) {
            if (!finish()) {
                return;
            }
            Metadata trailers = new Metadata();
            if (!reply.getLeader().isEmpty()) {
                trailers.put(Errors.BATON_LEADER, reply.getLeader());
            }
            if (reply.hasError()) {
                CallError e = reply.getError();
                Link l = link;
                if (e.getCode() == Status.Code.UNAUTHENTICATED.value() && l != null) {
                    replace(l); // the stream's token is no longer good: the next call asks for a token again
                }
                if (!e.getBatonError().isEmpty()) {
                    trailers.put(Errors.BATON_ERROR, e.getBatonError());
                }
                listener.onClose(Status.fromCodeValue(e.getCode())
                        .withDescription(e.getMessage().isEmpty() ? null : e.getMessage()), trailers);
                return;
            }
            Resp r = form.replyOf(reply);
            if (r == null) {
                listener.onClose(Status.INTERNAL.withDescription(form.method().getFullMethodName()
                        + " was answered with a " + reply.getReplyCase() + " reply"), trailers);
                return;
            }
            listener.onMessage(r);
            listener.onClose(Status.OK, trailers);
        }

        void close(Status status, Metadata trailers) {
            if (finish()) {
                listener.onClose(status, trailers);
            }
        }

        /** The node does not serve the stream: the same call, unary. */
        void unary() {
            if (done.get()) {
                return;
            }
            ScheduledFuture<?> t = timeout;
            if (t != null) {
                t.cancel(false);
            }
            ClientCall<Req, Resp> u;
            try {
                u = transport.newCall(form.method(), options);
            } catch (RuntimeException e) {
                close(Status.UNAVAILABLE.withCause(e).withDescription("cannot start a call on " + address), new Metadata());
                return;
            }
            unary = u;
            try {
                u.start(listener, headers);
                u.request(2);
                u.sendMessage(request);
                u.halfClose();
            } catch (RuntimeException e) {
                u.cancel("failed to send the request", e);
            }
        }
    }
}
