package dev.baton.server.grpc;

import com.google.common.util.concurrent.MoreExecutors;
import dev.baton.api.v1.CallError;
import dev.baton.api.v1.CallReply;
import dev.baton.api.v1.CallRequest;
import dev.baton.api.v1.CallsGrpc;
import dev.baton.api.v1.DispatchReply;
import dev.baton.api.v1.EventReply;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.QueueReply;
import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code baton.v1.Calls}: the writes of the unary services multiplexed over one stream. Every call
 * is handed to the very handler method of its unary form ({@link ApiServices}) with an observer that
 * turns the one reply, or the error, into a {@link CallReply}; so validation, the caller's checks
 * (made by the routing layer: {@link dev.baton.server.route.Router}) and the waiting of acquires cannot differ
 * between the two. The handler runs in a context of its own ({@link #callContext}): it carries the
 * stream's caller ({@link TokenAuth#PRINCIPAL}) and the call's own deadline, and is cancelled when
 * the call is cancelled, times out or the stream ends, which is what cancelling a unary call does.
 */
public final class CallStreamService extends CallsGrpc.CallsImplBase {
    /** Calls in flight on one stream beyond which a call is refused. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 1_024;

    private final ApiServices.PoolsService pools;
    private final ApiServices.LocksService locks;
    private final ApiServices.DispatchService dispatch;
    private final ApiServices.EventsService events;
    private final ApiServices.QueuesService queues;
    private final ScheduledExecutorService timer;
    private final int maxInFlight;
    private final AtomicLong openStreams = new AtomicLong();
    private final AtomicLong streamsOpened = new AtomicLong();
    private final AtomicLong calls = new AtomicLong();
    private final AtomicLong refusedCalls = new AtomicLong();
    private final AtomicLong cancelledWithStream = new AtomicLong();

    public CallStreamService(ApiServices services, ScheduledExecutorService timer, int maxInFlight) {
        this.pools = services.new PoolsService();
        this.locks = services.new LocksService();
        this.dispatch = services.new DispatchService();
        this.events = services.new EventsService();
        this.queues = services.new QueuesService();
        this.timer = timer;
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be positive");
        }
        this.maxInFlight = maxInFlight;
    }

    /** Call streams open now. */
    public long openStreams() {
        return openStreams.get();
    }

    /** Call streams opened since start. */
    public long streamsOpened() {
        return streamsOpened.get();
    }

    /** Calls received over call streams (cancellations not counted). */
    public long calls() {
        return calls.get();
    }

    /** Calls refused because their stream had as many calls in flight as allowed. */
    public long refusedCalls() {
        return refusedCalls.get();
    }

    /** Calls in flight cancelled because their stream ended (the client went away, or the stream failed). */
    public long cancelledWithTheirStream() {
        return cancelledWithStream.get();
    }

    /**
     * A call's own context: the values of {@code base} (the stream's caller) and the call's deadline,
     * but not cancelled through the stream's context; the stream's end cancels its calls itself
     * ({@code Stream.cancelCalls}). A child of the stream's context would stay registered with it
     * after the call ended: gRPC's {@code Context} removes a cancelled child's registration from
     * its cancellable ancestor under the wrong key, so it stays until the ancestor is cancelled.
     * On a stream that lives as long as its client, that kept every call's context (one per call,
     * memory without bound) and made each call's end scan them all: at 64 Java clients, a fifth of
     * the node's gRPC threads' time a minute into the run.
     *
     * @param deadlineMs the call's deadline from now; 0 for none
     */
    static Context.CancellableContext callContext(Context base, long deadlineMs, ScheduledExecutorService timer) {
        Context own = base.fork();
        return deadlineMs > 0 ? own.withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS, timer) : own.withCancellation();
    }

    @Override
    public StreamObserver<CallRequest> stream(StreamObserver<CallReply> responses) {
        openStreams.incrementAndGet();
        streamsOpened.incrementAndGet();
        return new Stream((ServerCallStreamObserver<CallReply>) responses);
    }

    private final class Stream implements StreamObserver<CallRequest> {
        private final ServerCallStreamObserver<CallReply> out;
        private final ConcurrentHashMap<Long, Call> inFlight = new ConcurrentHashMap<>();
        private final AtomicBoolean counted = new AtomicBoolean(true);
        // guarded by out: replies complete on many threads, a stream observer takes one at a time
        private boolean ended;
        private boolean halfClosed;
        /** Cancelled or failed: every call in flight is cancelled, and so is any call still being set up. */
        private volatile boolean gone;

        Stream(ServerCallStreamObserver<CallReply> out) {
            this.out = out;
            // Cancelled (the client went away): so are its calls (their contexts are not the stream's children).
            out.setOnCancelHandler(() -> {
                synchronized (out) {
                    ended = true;
                }
                cancelCalls();
                uncount();
            });
        }

        private void cancelCalls() {
            gone = true;
            for (Call call : inFlight.values()) {
                if (!call.context.isCancelled()) {
                    cancelledWithStream.incrementAndGet();
                    call.context.cancel(null);
                }
            }
        }

        private void uncount() {
            if (counted.compareAndSet(true, false)) {
                openStreams.decrementAndGet();
            }
        }

        @Override
        public void onNext(CallRequest req) {
            long id = req.getCallId();
            if (req.hasCancel()) {
                Call call = inFlight.get(id);
                if (call != null) {
                    call.context.cancel(null);
                }
                return;
            }
            calls.incrementAndGet();
            if (id == 0) {
                reply(error(id, Status.INVALID_ARGUMENT.withDescription("call_id 0 is not a call id"),
                        "INVALID_ARGUMENT", null));
                return;
            }
            if (inFlight.size() >= maxInFlight) {
                refusedCalls.incrementAndGet();
                reply(error(id, Status.RESOURCE_EXHAUSTED.withDescription("this stream already has " + maxInFlight
                        + " calls in flight, the most a node allows; wait for answers, or open another stream"),
                        "LIMIT_EXCEEDED", null));
                return;
            }
            Context base = callerNow(id);
            if (base == null) {
                return; // refused
            }
            Context.CancellableContext context = callContext(base, req.getDeadlineMs(), timer);
            Call call = new Call(id, context);
            if (inFlight.putIfAbsent(id, call) != null) {
                context.cancel(null);
                reply(error(id, Status.INVALID_ARGUMENT.withDescription("call_id " + Long.toUnsignedString(id)
                        + " is already in flight on this stream"), "INVALID_ARGUMENT", null));
                return;
            }
            context.addListener(call, MoreExecutors.directExecutor());
            if (gone) { // the stream ended while this call was set up: cancelCalls may not have seen it
                context.cancel(null);
            }
            context.run(() -> {
                try {
                    handle(req, call);
                } catch (RuntimeException e) {
                    call.onError(e);
                }
            });
        }

        /**
         * The context for call {@code id}: the stream's, with its caller as the token file says now
         * (a token removed or changed since the stream opened counts from the next call on, as it
         * would for unary calls); null after refusing the call.
         */
        private Context callerNow(long id) {
            Context current = Context.current();
            java.util.function.Supplier<Principal> lookup = TokenAuth.CALLER_NOW.get(current);
            if (lookup == null) {
                return current; // the port asks for no tokens
            }
            Principal now = lookup.get();
            if (now == null) {
                reply(error(id, Status.UNAUTHENTICATED.withDescription("the stream's token (or client certificate) is no"
                        + " longer in the node's token file; open a new stream with a current one"), "UNAUTHENTICATED", null));
                return null;
            }
            Role needed = TokenAuth.REQUIRED_ROLES.get(CallsGrpc.getStreamMethod().getFullMethodName());
            if (!now.has(needed)) {
                reply(error(id, Status.PERMISSION_DENIED.withDescription("the token '" + now.name() + "' lacks the role '"
                        + needed.name().toLowerCase(java.util.Locale.ROOT) + "' that "
                        + CallsGrpc.getStreamMethod().getFullMethodName() + " needs"), "PERMISSION_DENIED", null));
                return null;
            }
            return now == TokenAuth.PRINCIPAL.get(current) ? current : current.withValue(TokenAuth.PRINCIPAL, now);
        }

        private void handle(CallRequest req, Call call) {
            switch (req.getRequestCase()) {
                case POOL_ACQUIRE -> pools.acquire(req.getPoolAcquire(), call.as());
                case POOL_RELEASE -> pools.release(req.getPoolRelease(), call.as());
                case LOCK_ACQUIRE -> locks.acquire(req.getLockAcquire(), call.as());
                case LOCK_RELEASE -> locks.release(req.getLockRelease(), call.as());
                case DISPATCH_INIT -> dispatch.init(req.getDispatchInit(), call.as());
                case DISPATCH_ADVANCE -> dispatch.advance(req.getDispatchAdvance(), call.as());
                case DISPATCH_SELECT -> dispatch.select(req.getDispatchSelect(), call.as());
                case DISPATCH_LOCK -> dispatch.lock(req.getDispatchLock(), call.as());
                case DISPATCH_RELEASE -> dispatch.release(req.getDispatchRelease(), call.as());
                case DISPATCH_SET_DISABLED -> dispatch.setDisabled(req.getDispatchSetDisabled(), call.as());
                case EVENT_BEGIN -> events.begin(req.getEventBegin(), call.as());
                case EVENT_COMPLETE -> events.complete(req.getEventComplete(), call.as());
                case QUEUE_ENQUEUE -> queues.enqueue(req.getQueueEnqueue(), call.as());
                case QUEUE_CLAIM -> queues.claim(req.getQueueClaim(), call.as());
                case QUEUE_DONE -> queues.done(req.getQueueDone(), call.as());
                case QUEUE_RETRY -> queues.retry(req.getQueueRetry(), call.as());
                default -> call.onError(Status.INVALID_ARGUMENT.withDescription("a call names no request (or one this"
                        + " node does not know)").asRuntimeException(ApiErrors.trailers("INVALID_ARGUMENT", null)));
            }
        }

        private void reply(CallReply r) {
            synchronized (out) {
                if (!ended) {
                    out.onNext(r);
                }
                finishIfDrained();
            }
        }

        /** After the client's half-close, the stream ends with its last answer. Holds out's lock. */
        private void finishIfDrained() {
            if (halfClosed && !ended && inFlight.isEmpty()) {
                ended = true;
                out.onCompleted();
                uncount();
            }
        }

        @Override
        public void onError(Throwable t) {
            synchronized (out) {
                ended = true;
            }
            cancelCalls();
            uncount();
        }

        @Override
        public void onCompleted() {
            synchronized (out) {
                halfClosed = true;
                finishIfDrained();
            }
        }

        /** One call: the observer its handler answers through, and its context's cancellation listener. */
        private final class Call extends ServerCallStreamObserver<Object> implements Context.CancellationListener {
            final long id;
            final Context.CancellableContext context;
            private final AtomicBoolean done = new AtomicBoolean();
            private volatile Object value;
            private volatile Runnable onCancel;

            Call(long id, Context.CancellableContext context) {
                this.id = id;
                this.context = context;
            }

            @SuppressWarnings("unchecked")
            <T> ServerCallStreamObserver<T> as() {
                return (ServerCallStreamObserver<T>) (ServerCallStreamObserver<?>) this;
            }

            private boolean finish() {
                if (!done.compareAndSet(false, true)) {
                    return false;
                }
                inFlight.remove(id, this);
                return true;
            }

            @Override
            public void onNext(Object v) {
                value = v;
            }

            @Override
            public void onCompleted() {
                if (!finish()) {
                    return;
                }
                Object v = value;
                CallReply.Builder b = CallReply.newBuilder().setCallId(id);
                if (v instanceof PoolReply p) {
                    b.setPool(p);
                } else if (v instanceof LockReply l) {
                    b.setLock(l);
                } else if (v instanceof DispatchReply d) {
                    b.setDispatch(d);
                } else if (v instanceof EventReply e) {
                    b.setEvent(e);
                } else if (v instanceof QueueReply q) {
                    b.setQueue(q);
                } else {
                    b.setError(CallError.newBuilder().setCode(Status.Code.INTERNAL.value())
                            .setMessage("the handler answered " + (v == null ? "nothing" : v.getClass().getSimpleName()))
                            .setBatonError("INTERNAL"));
                }
                reply(b.build());
                context.cancel(null); // its deadline's timer, and anything still tied to it
            }

            @Override
            public void onError(Throwable t) {
                if (!finish()) {
                    return;
                }
                StatusRuntimeException s = ApiErrors.toStatus(t, null);
                Metadata trailers = s.getTrailers();
                reply(error(id, s.getStatus(), trailers == null ? null : trailers.get(ApiErrors.ERROR_KEY),
                        trailers == null ? null : trailers.get(ApiErrors.LEADER_KEY)));
                context.cancel(null);
            }

            /** The context was cancelled before the handler answered: the client gave up, or the deadline passed. */
            @Override
            public void cancelled(Context c) {
                if (!finish()) {
                    return;
                }
                Runnable r = onCancel;
                if (r != null) {
                    r.run();
                }
                Status s = Contexts.statusFromCancelled(c);
                if (s == null) {
                    s = Status.CANCELLED;
                }
                reply(error(id, s.getCode() == Status.Code.DEADLINE_EXCEEDED
                        ? s.withDescription("the call's deadline passed on the node") : s.withDescription("call cancelled"),
                        s.getCode().name(), null));
            }

            @Override
            public boolean isCancelled() {
                return context.isCancelled();
            }

            @Override
            public void setOnCancelHandler(Runnable onCancelHandler) {
                this.onCancel = onCancelHandler;
            }

            @Override
            public void setCompression(String compression) {}

            @Override
            public boolean isReady() {
                return true;
            }

            @Override
            public void setOnReadyHandler(Runnable onReadyHandler) {}

            @Override
            public void disableAutoInboundFlowControl() {}

            @Override
            public void request(int count) {}

            @Override
            public void setMessageCompression(boolean enable) {}
        }
    }

    private static CallReply error(long id, Status status, String batonError, String leader) {
        CallError.Builder e = CallError.newBuilder().setCode(status.getCode().value());
        if (status.getDescription() != null) {
            e.setMessage(status.getDescription());
        }
        if (batonError != null) {
            e.setBatonError(batonError);
        }
        CallReply.Builder b = CallReply.newBuilder().setCallId(id).setError(e);
        if (leader != null) {
            b.setLeader(leader);
        }
        return b.build();
    }
}
