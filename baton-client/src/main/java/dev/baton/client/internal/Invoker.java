package dev.baton.client.internal;

import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonException;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.SessionLostException;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Runs unary calls with Baton's retry rules: every attempt sends the very same request message (so
 * the same request id) to the current endpoint; {@code UNAVAILABLE}, transport failures and, for
 * calls that do not wait, {@code DEADLINE_EXCEEDED} move to the next endpoint and retry after a
 * backoff (20 ms doubling to 1 s, with jitter) until the call's retry budget runs out; every other
 * status fails the call at once. {@code baton-leader} hints, on success or failure, make the leader
 * current.
 */
public final class Invoker {
    private static final System.Logger LOG = System.getLogger(Invoker.class.getName());

    public static final long INITIAL_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    public static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** What the invoker needs to know about the session a call is made for. */
    public interface SessionHooks {
        long sessionId();

        /** The loss already known, or {@code null} while the session is not known lost. */
        SessionLostException lost();

        /** A call learned from the server that the session is gone. */
        void sessionLost(SessionLostException e);
    }

    /**
     * How one call is run.
     *
     * @param attemptTimeoutNanos the deadline of each attempt
     * @param retryBudgetNanos    from the call's start, how long failed attempts may be retried
     * @param waiting             the server holds the call while it waits (an acquire with a timeout):
     *                            {@code DEADLINE_EXCEEDED} is then not retried
     * @param session             the session the request is made for (fail fast once it is lost), or
     *                            {@code null} for a call that is not tied to a session
     * @param what                a name for messages, e.g. {@code "Pools.Acquire"}
     */
    public record Policy(long attemptTimeoutNanos, long retryBudgetNanos, boolean waiting, SessionHooks session,
            String what) {
        boolean sessionBound() {
            return session != null;
        }
    }

    private final Endpoints endpoints;
    private final ScheduledExecutorService scheduler;
    private final Set<Call<?, ?>> inflight = ConcurrentHashMap.newKeySet();
    /** Attempts that failed and were tried again (on the next endpoint, after the backoff). */
    private final java.util.concurrent.atomic.AtomicLong retries = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean shutdown;

    public Invoker(Endpoints endpoints, ScheduledExecutorService scheduler) {
        this.endpoints = endpoints;
        this.scheduler = scheduler;
    }

    /** Starts a call; the future completes with the reply or a {@link BatonException}. */
    public <Req, Resp> CompletableFuture<Resp> call(MethodDescriptor<Req, Resp> method, Req request, Policy policy) {
        Call<Req, Resp> call = new Call<>(method, request, policy);
        inflight.add(call);
        call.future.whenComplete((r, t) -> {
            inflight.remove(call);
            if (t instanceof CancellationException) {
                call.cancelAttempt();
            }
        });
        if (shutdown) {
            call.fail(new BatonClosedException("the Baton client is closed"));
        } else {
            call.attempt();
        }
        return call.future;
    }

    /** Refuses new attempts and fails every call still running with {@link BatonClosedException}. */
    public void shutdown() {
        shutdown = true;
        for (Call<?, ?> call : List.copyOf(inflight)) {
            call.fail(new BatonClosedException("the Baton client was closed while the call was running"));
            call.cancelAttempt();
        }
    }

    /** Whether a status is a transport failure or an unknown outcome that a retry may clear. */
    public static boolean retryable(Status status, boolean waiting) {
        switch (status.getCode()) {
            case UNAVAILABLE:
                return true;
            case DEADLINE_EXCEEDED:
                return !waiting;
            case OK:
                return false;
            default:
                for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
                    if (t instanceof IOException) {
                        return true;
                    }
                }
                return false;
        }
    }

    public static long backoffAfter(long backoff) {
        return Math.min(MAX_BACKOFF_NANOS, backoff * 2);
    }

    private final class Call<Req, Resp> {
        final MethodDescriptor<Req, Resp> method;
        final Req request;
        final Policy policy;
        final CompletableFuture<Resp> future = new CompletableFuture<>();
        final long giveUpAtNanos;
        // guarded by this
        ClientCall<Req, Resp> current;
        int attempts;
        long backoffNanos = INITIAL_BACKOFF_NANOS;

        Call(MethodDescriptor<Req, Resp> method, Req request, Policy policy) {
            this.method = method;
            this.request = request;
            this.policy = policy;
            this.giveUpAtNanos = System.nanoTime() + policy.retryBudgetNanos();
        }

        void fail(Throwable t) {
            future.completeExceptionally(t);
        }

        synchronized void cancelAttempt() {
            if (current != null) {
                current.cancel("call cancelled by the Baton client", null);
            }
        }

        void attempt() {
            if (future.isDone()) {
                return;
            }
            if (shutdown) {
                fail(new BatonClosedException("the Baton client is closed"));
                return;
            }
            if (policy.sessionBound()) {
                SessionLostException lost = policy.session().lost();
                if (lost != null) {
                    fail(lost);
                    return;
                }
            }
            Endpoints.Endpoint ep = endpoints.current();
            RuntimeException startFailure = null;
            synchronized (this) {
                attempts++;
                ClientCall<Req, Resp> cc;
                try {
                    cc = ep.calls.newCall(method,
                            CallOptions.DEFAULT.withDeadlineAfter(policy.attemptTimeoutNanos(), TimeUnit.NANOSECONDS));
                } catch (RuntimeException e) {
                    cc = null;
                    startFailure = e;
                }
                current = cc;
                if (cc != null) {
                    start(cc, ep);
                }
            }
            if (startFailure != null) {
                // A channel that was shut down or is broken: as if the node were unreachable.
                closed(ep, Status.UNAVAILABLE.withCause(startFailure).withDescription("cannot start a call on " + ep),
                        new Metadata(), null);
            }
        }

        private void start(ClientCall<Req, Resp> cc, Endpoints.Endpoint ep) {
            try {
                cc.start(new ClientCall.Listener<Resp>() {
                    private Resp reply;

                    @Override
                    public void onHeaders(Metadata headers) {
                        endpoints.leaderHint(Errors.leader(headers), ep);
                    }

                    @Override
                    public void onMessage(Resp message) {
                        if (reply == null) {
                            reply = message;
                        }
                    }

                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        closed(ep, status, trailers, reply);
                    }
                }, new Metadata());
                cc.request(2);
                cc.sendMessage(request);
                cc.halfClose();
            } catch (RuntimeException e) {
                cc.cancel("failed to send the request", e);
            }
        }

        private void closed(Endpoints.Endpoint ep, Status status, Metadata trailers, Resp reply) {
            endpoints.leaderHint(Errors.leader(trailers), ep);
            if (status.isOk()) {
                if (reply == null) {
                    fail(new BatonException(Status.Code.INTERNAL, null, policy.what() + ": the server sent no reply", null));
                } else {
                    future.complete(reply);
                }
                return;
            }
            if (future.isDone()) {
                return;
            }
            if (shutdown) {
                fail(new BatonClosedException("the Baton client was closed while " + policy.what() + " was running"));
                return;
            }
            if (retryable(status, policy.waiting())) {
                endpoints.failed(ep);
                long backoff;
                int n;
                synchronized (this) {
                    backoff = (long) (backoffNanos * ThreadLocalRandom.current().nextDouble(0.8, 1.2));
                    backoffNanos = backoffAfter(backoffNanos);
                    n = attempts;
                }
                if (System.nanoTime() + backoff - giveUpAtNanos < 0) {
                    retries.incrementAndGet();
                    LOG.log(Level.DEBUG, "{0} attempt {1} on {2} failed with {3}; retrying",
                            policy.what(), n, ep, status);
                    try {
                        scheduler.schedule(this::attempt, backoff, TimeUnit.NANOSECONDS);
                    } catch (RejectedExecutionException e) {
                        fail(new BatonClosedException("the Baton client is closed"));
                    }
                    return;
                }
                fail(new BatonUnavailableException(status.getCode(), Errors.errorCode(trailers), n,
                        policy.what() + " failed after " + n + " attempt(s): " + status.getCode()
                                + (status.getDescription() != null ? ": " + status.getDescription() : "")
                                + Errors.transportHint(status, endpoints.plaintext()),
                        status.asRuntimeException(trailers)));
                return;
            }
            if (status.getCode() == Status.Code.DEADLINE_EXCEEDED && policy.waiting()) {
                int n;
                synchronized (this) {
                    n = attempts;
                }
                fail(new BatonUnavailableException(status.getCode(), Errors.errorCode(trailers), n,
                        policy.what() + ": no answer within the wait timeout plus the request timeout;"
                                + " the outcome is unknown", status.asRuntimeException(trailers)));
                return;
            }
            BatonException e = Errors.toException(status, trailers,
                    policy.sessionBound() ? policy.session().sessionId() : 0, policy.what());
            if (e instanceof SessionLostException lost && policy.sessionBound()) {
                policy.session().sessionLost(lost);
            }
            fail(e);
        }
    }

    /** Calls not yet completed (for tests and {@code ClientStats}). */
    public int inflightCount() {
        return inflight.size();
    }

    /** Failed attempts retried so far. */
    public long retryCount() {
        return retries.get();
    }
}
