package dev.baton.client.internal;

import com.google.protobuf.Message;
import dev.baton.api.v1.CallReply;
import dev.baton.api.v1.CallRequest;
import dev.baton.api.v1.DispatchGrpc;
import dev.baton.api.v1.DispatchReply;
import dev.baton.api.v1.EventReply;
import dev.baton.api.v1.EventsGrpc;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.QueueReply;
import dev.baton.api.v1.QueuesGrpc;
import io.grpc.MethodDescriptor;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The unary methods that have a form on {@code baton.v1.Calls/Stream}: how a request of each goes
 * into a {@link CallRequest}, and how its reply comes out of a {@link CallReply} (and back in, for a
 * node that serves the stream).
 */
final class CallStreamMethods {
    /** One method's stream form. */
    record Form<Req, Resp>(MethodDescriptor<Req, Resp> method, CallRequest.RequestCase requestCase,
                           BiConsumer<CallRequest.Builder, Req> wrap, Function<CallRequest, Req> request,
                           CallReply.ReplyCase replyCase, Function<CallReply, Resp> reply) {
        /** The reply of this method in {@code r}, or null if {@code r} holds another kind (or an error). */
        Resp replyOf(CallReply r) {
            return r.getReplyCase() == replyCase ? reply.apply(r) : null;
        }
    }

    private static final Map<String, Form<?, ?>> BY_METHOD = new HashMap<>();
    private static final Map<CallRequest.RequestCase, Form<?, ?>> BY_REQUEST = new EnumMap<>(CallRequest.RequestCase.class);

    static {
        add(new Form<>(PoolsGrpc.getAcquireMethod(), CallRequest.RequestCase.POOL_ACQUIRE,
                CallRequest.Builder::setPoolAcquire, CallRequest::getPoolAcquire, CallReply.ReplyCase.POOL, CallReply::getPool));
        add(new Form<>(PoolsGrpc.getReleaseMethod(), CallRequest.RequestCase.POOL_RELEASE,
                CallRequest.Builder::setPoolRelease, CallRequest::getPoolRelease, CallReply.ReplyCase.POOL, CallReply::getPool));
        add(new Form<>(LocksGrpc.getAcquireMethod(), CallRequest.RequestCase.LOCK_ACQUIRE,
                CallRequest.Builder::setLockAcquire, CallRequest::getLockAcquire, CallReply.ReplyCase.LOCK, CallReply::getLock));
        add(new Form<>(LocksGrpc.getReleaseMethod(), CallRequest.RequestCase.LOCK_RELEASE,
                CallRequest.Builder::setLockRelease, CallRequest::getLockRelease, CallReply.ReplyCase.LOCK, CallReply::getLock));
        add(new Form<>(DispatchGrpc.getInitMethod(), CallRequest.RequestCase.DISPATCH_INIT,
                CallRequest.Builder::setDispatchInit, CallRequest::getDispatchInit,
                CallReply.ReplyCase.DISPATCH, CallReply::getDispatch));
        add(new Form<>(DispatchGrpc.getAdvanceMethod(), CallRequest.RequestCase.DISPATCH_ADVANCE,
                CallRequest.Builder::setDispatchAdvance, CallRequest::getDispatchAdvance,
                CallReply.ReplyCase.DISPATCH, CallReply::getDispatch));
        add(new Form<>(DispatchGrpc.getSelectMethod(), CallRequest.RequestCase.DISPATCH_SELECT,
                CallRequest.Builder::setDispatchSelect, CallRequest::getDispatchSelect,
                CallReply.ReplyCase.DISPATCH, CallReply::getDispatch));
        add(new Form<>(DispatchGrpc.getLockMethod(), CallRequest.RequestCase.DISPATCH_LOCK,
                CallRequest.Builder::setDispatchLock, CallRequest::getDispatchLock,
                CallReply.ReplyCase.DISPATCH, CallReply::getDispatch));
        add(new Form<>(DispatchGrpc.getReleaseMethod(), CallRequest.RequestCase.DISPATCH_RELEASE,
                CallRequest.Builder::setDispatchRelease, CallRequest::getDispatchRelease,
                CallReply.ReplyCase.DISPATCH, CallReply::getDispatch));
        add(new Form<>(DispatchGrpc.getSetDisabledMethod(), CallRequest.RequestCase.DISPATCH_SET_DISABLED,
                CallRequest.Builder::setDispatchSetDisabled, CallRequest::getDispatchSetDisabled,
                CallReply.ReplyCase.DISPATCH, CallReply::getDispatch));
        add(new Form<>(EventsGrpc.getBeginMethod(), CallRequest.RequestCase.EVENT_BEGIN,
                CallRequest.Builder::setEventBegin, CallRequest::getEventBegin, CallReply.ReplyCase.EVENT, CallReply::getEvent));
        add(new Form<>(EventsGrpc.getCompleteMethod(), CallRequest.RequestCase.EVENT_COMPLETE,
                CallRequest.Builder::setEventComplete, CallRequest::getEventComplete,
                CallReply.ReplyCase.EVENT, CallReply::getEvent));
        add(new Form<>(QueuesGrpc.getEnqueueMethod(), CallRequest.RequestCase.QUEUE_ENQUEUE,
                CallRequest.Builder::setQueueEnqueue, CallRequest::getQueueEnqueue, CallReply.ReplyCase.QUEUE, CallReply::getQueue));
        add(new Form<>(QueuesGrpc.getClaimMethod(), CallRequest.RequestCase.QUEUE_CLAIM,
                CallRequest.Builder::setQueueClaim, CallRequest::getQueueClaim, CallReply.ReplyCase.QUEUE, CallReply::getQueue));
        add(new Form<>(QueuesGrpc.getDoneMethod(), CallRequest.RequestCase.QUEUE_DONE,
                CallRequest.Builder::setQueueDone, CallRequest::getQueueDone, CallReply.ReplyCase.QUEUE, CallReply::getQueue));
        add(new Form<>(QueuesGrpc.getRetryMethod(), CallRequest.RequestCase.QUEUE_RETRY,
                CallRequest.Builder::setQueueRetry, CallRequest::getQueueRetry, CallReply.ReplyCase.QUEUE, CallReply::getQueue));
    }

    private CallStreamMethods() {}

    private static void add(Form<?, ?> f) {
        BY_METHOD.put(f.method().getFullMethodName(), f);
        BY_REQUEST.put(f.requestCase(), f);
    }

    /** The stream form of {@code method}, or null if it has none (reads, sessions). */
    @SuppressWarnings("unchecked")
    public static <Req, Resp> Form<Req, Resp> of(MethodDescriptor<Req, Resp> method) {
        return (Form<Req, Resp>) BY_METHOD.get(method.getFullMethodName());
    }

    /** The form of the request a {@link CallRequest} carries, or null (none, or a cancellation). */
    public static Form<?, ?> of(CallRequest request) {
        return BY_REQUEST.get(request.getRequestCase());
    }

    /** {@code reply} (a reply of one of the methods with a stream form) as the reply of a call. */
    public static CallReply.Builder reply(Message reply) {
        CallReply.Builder b = CallReply.newBuilder();
        if (reply instanceof PoolReply p) {
            b.setPool(p);
        } else if (reply instanceof LockReply l) {
            b.setLock(l);
        } else if (reply instanceof DispatchReply d) {
            b.setDispatch(d);
        } else if (reply instanceof EventReply e) {
            b.setEvent(e);
        } else if (reply instanceof QueueReply q) {
            b.setQueue(q);
        } else {
            throw new IllegalArgumentException("no call reply holds a " + reply.getClass().getSimpleName());
        }
        return b;
    }
}
