package dev.baton.client.internal;

import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonEvent;
import dev.baton.client.BatonException;
import dev.baton.client.BatonInterruptedException;
import dev.baton.client.SessionLostException;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * What every session of one client shares: the endpoints and their channels, the timer, the event
 * thread, the invoker (attempts, retries, deadlines) and the way futures reach callers. Not part of
 * the client's API.
 */
public final class ClientCore {
    private static final AtomicInteger CLIENTS = new AtomicInteger();
    private static final AtomicInteger CALLBACK_THREADS = new AtomicInteger();
    /**
     * The default callback executor, shared by all clients: threads are made when continuations need
     * them and end after a minute idle (like gRPC's own default executor).
     */
    private static final Executor SHARED_CALLBACKS = Executors.newCachedThreadPool(
            r -> {
                Thread t = new Thread(r, "baton-client-callback-" + CALLBACK_THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
    /** Set while a blocking method starts its call (see {@link #forCaller}). */
    private static final ThreadLocal<Boolean> BLOCKING_CALLER = new ThreadLocal<>();

    /**
     * A client's settings, as its builder collected them.
     *
     * @param slotsPerSession pool slots (held or waiting) the server allows one session
     * @param idleSessionClose how long an extra session stays open with nothing on it
     */
    public record Settings(List<String> endpoints, Function<String, ManagedChannel> channelFactory,
            boolean plaintext, ClientInterceptor interceptor, boolean callStream, Duration requestTimeout,
            Duration retryFor, Duration sessionTtl, String clientToken, Consumer<BatonEvent> onEvent,
            Consumer<SessionLostException> onSessionLost, Executor callbacks, int slotsPerSession,
            Duration idleSessionClose) {}

    private final Settings settings;
    private final long requestTimeoutNanos;
    private final long retryForNanos;
    private final Endpoints endpoints;
    private final ScheduledThreadPoolExecutor scheduler;
    /** Acquires whose outcome their caller never learnt, being settled now (UnknownAcquire). */
    private final java.util.concurrent.atomic.AtomicInteger acquiresInDoubt = new java.util.concurrent.atomic.AtomicInteger();
    private final ExecutorService events;
    private final Invoker invoker;
    private final Executor callbacks;
    private final AtomicBoolean closed = new AtomicBoolean();

    public ClientCore(Settings s) {
        this.settings = s;
        this.requestTimeoutNanos = s.requestTimeout().toNanos();
        this.retryForNanos = s.retryFor().toNanos();
        this.callbacks = s.callbacks() != null ? s.callbacks() : SHARED_CALLBACKS;
        int n = CLIENTS.incrementAndGet();
        this.scheduler = new ScheduledThreadPoolExecutor(1, daemon("baton-client-" + n + "-timer"));
        this.scheduler.setRemoveOnCancelPolicy(true);
        this.events = Executors.newSingleThreadExecutor(daemon("baton-client-" + n + "-events"));
        try {
            this.endpoints = new Endpoints(s.endpoints(), s.channelFactory(), s.plaintext(), s.interceptor(),
                    s.callStream() ? scheduler : null);
        } catch (RuntimeException e) {
            scheduler.shutdownNow();
            events.shutdownNow();
            throw e;
        }
        this.invoker = new Invoker(endpoints, scheduler);
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    public Settings settings() {
        return settings;
    }

    Endpoints endpoints() {
        return endpoints;
    }

    ScheduledThreadPoolExecutor scheduler() {
        return scheduler;
    }

    Executor events() {
        return events;
    }

    Invoker invoker() {
        return invoker;
    }

    /** Calls started and not yet completed, retries and waiting acquires included. */
    public int callsInFlight() {
        return invoker.inflightCount();
    }

    /** Failed attempts that were retried, since the client was built. */
    public long retries() {
        return invoker.retryCount();
    }

    public boolean closed() {
        return closed.get();
    }

    public int acquiresInDoubt() {
        return acquiresInDoubt.get();
    }

    /** Counts an acquire in doubt ({@code +1}) or settled ({@code -1}). */
    public void inDoubt(int delta) {
        acquiresInDoubt.addAndGet(delta);
    }

    /** Runs {@code r} on the client's timer after {@code delayMs}; false if the client is closing. */
    public boolean schedule(Runnable r, long delayMs) {
        try {
            scheduler.schedule(r, delayMs, TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return false;
        }
    }

    /** The endpoint new calls go to now (the leader, when it is known). */
    public String currentEndpoint() {
        return endpoints.current().address;
    }

    /** Stops everything; calls still running fail with {@link BatonClosedException}. */
    public void shutdown(boolean graceful) {
        closed.set(true);
        invoker.shutdown();
        endpoints.shutdown(graceful ? TimeUnit.SECONDS.toNanos(1) : 0);
        scheduler.shutdownNow();
        if (graceful) {
            events.shutdown();
        } else {
            events.shutdownNow();
        }
    }

    // ---- policies -------------------------------------------------------------------------------

    /** A call that does not wait on the server; {@code session} null: not tied to a session. */
    public Invoker.Policy policy(String what, Invoker.SessionHooks session) {
        return new Invoker.Policy(requestTimeoutNanos, retryForNanos, false, session, what);
    }

    /** A call the server holds for up to {@code waitMs} (an acquire with a timeout). */
    public Invoker.Policy waitingPolicy(String what, long waitMs, Invoker.SessionHooks session) {
        if (waitMs == 0) {
            return policy(what, session);
        }
        long wait = TimeUnit.MILLISECONDS.toNanos(waitMs);
        return new Invoker.Policy(saturatedAdd(wait, requestTimeoutNanos), saturatedAdd(wait, retryForNanos), true,
                session, what);
    }

    /** The policy of {@code Sessions.Close}: best effort, about two seconds at most. */
    Invoker.Policy closePolicy() {
        long budget = Math.min(retryForNanos, TimeUnit.SECONDS.toNanos(2));
        long attempt = Math.min(requestTimeoutNanos, TimeUnit.SECONDS.toNanos(2));
        return new Invoker.Policy(attempt, budget, false, null, "Sessions.Close");
    }

    private static long saturatedAdd(long a, long b) {
        long r = a + b;
        return r < 0 ? Long.MAX_VALUE / 2 : r;
    }

    // ---- calls ----------------------------------------------------------------------------------

    /** A call that is not a session's write (reads, admin calls, opening a session). */
    public <Req, Resp> CompletableFuture<Resp> run(MethodDescriptor<Req, Resp> method, Req request,
            Invoker.Policy policy) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BatonClosedException("the Baton client is closed"));
        }
        return invoker.call(method, request, policy);
    }

    /**
     * The future a caller gets. The client's own futures complete on gRPC's I/O thread (the default
     * channels run their callbacks there: one thread hand-off less per call), and nothing may block
     * that thread: a continuation that waited for another call would wait for a reply only that thread
     * can read. So the future an async method returns completes on the callback executor instead,
     * where continuations may do anything, blocking calls included. A blocking method (see
     * {@link #await(Supplier)}) waits on the client's future itself.
     */
    public <T> CompletableFuture<T> forCaller(CompletableFuture<T> source) {
        if (BLOCKING_CALLER.get() != null || source.isCompletedExceptionally()) {
            return source; // a call refused before it started: nothing runs on an I/O thread
        }
        CompletableFuture<T> out = new CompletableFuture<>();
        source.whenComplete((r, t) -> {
            Runnable complete = () -> {
                if (t != null) {
                    out.completeExceptionally(unwrap(t));
                } else {
                    out.complete(r);
                }
            };
            try {
                callbacks.execute(complete);
            } catch (RejectedExecutionException e) {
                complete.run(); // a user's executor that was shut down: better here than never
            }
        });
        out.whenComplete((r, t) -> {
            if (out.isCancelled()) {
                source.cancel(true);
            }
        });
        return out;
    }

    /** {@code source.thenApply(fn)}, except that cancelling the result cancels {@code source}. */
    public static <A, B> CompletableFuture<B> map(CompletableFuture<A> source, Function<A, B> fn) {
        CompletableFuture<B> out = new CompletableFuture<>();
        source.whenComplete((r, t) -> {
            if (t != null) {
                out.completeExceptionally(unwrap(t));
            } else {
                try {
                    out.complete(fn.apply(r));
                } catch (RuntimeException e) {
                    out.completeExceptionally(e);
                }
            }
        });
        out.whenComplete((r, t) -> {
            if (out.isCancelled()) {
                source.cancel(true);
            }
        });
        return out;
    }

    /**
     * {@code first.thenCompose(next)}, except that cancelling the result cancels whichever step runs,
     * and that a {@code first} already done runs {@code next} at once on this thread.
     */
    public static <A, B> CompletableFuture<B> compose(CompletableFuture<A> first,
            Function<A, CompletableFuture<B>> next) {
        if (first.isDone() && !first.isCompletedExceptionally() && !first.isCancelled()) {
            return next.apply(first.join());
        }
        CompletableFuture<B> out = new CompletableFuture<>();
        java.util.concurrent.atomic.AtomicReference<CompletableFuture<B>> inner =
                new java.util.concurrent.atomic.AtomicReference<>();
        first.whenComplete((a, t) -> {
            if (t != null) {
                out.completeExceptionally(unwrap(t));
                return;
            }
            CompletableFuture<B> n;
            try {
                n = next.apply(a);
            } catch (RuntimeException e) {
                out.completeExceptionally(e);
                return;
            }
            inner.set(n);
            if (out.isCancelled()) {
                n.cancel(true);
            }
            n.whenComplete((b, t2) -> {
                if (t2 != null) {
                    out.completeExceptionally(unwrap(t2));
                } else {
                    out.complete(b);
                }
            });
        });
        out.whenComplete((r, t) -> {
            if (out.isCancelled()) {
                first.cancel(true);
                CompletableFuture<B> n = inner.get();
                if (n != null) {
                    n.cancel(true);
                }
            }
        });
        return out;
    }

    /** Whether a failed call certainly changed nothing on the server (a refusal, or a known loss). */
    public static boolean refused(Throwable t) {
        t = unwrap(t);
        return t instanceof BatonException && !(t instanceof dev.baton.client.BatonUnavailableException)
                && !(t instanceof BatonClosedException) && !(t instanceof BatonInterruptedException)
                && ((BatonException) t).statusCode() != Status.Code.CANCELLED
                && ((BatonException) t).statusCode() != Status.Code.DEADLINE_EXCEEDED;
    }

    /**
     * {@code source}'s outcome, given on only after {@code bookkeeping} has seen it. A caller woken by
     * the reply must find the client's books (which session holds which grant) already updated: its
     * next call (a release by fence, say) is routed by them. A dependent added with
     * {@code whenComplete} beside the caller's own would not do: dependents run in no promised order.
     * Cancelling the result cancels {@code source}.
     */
    public static <T> CompletableFuture<T> afterBookkeeping(CompletableFuture<T> source,
            java.util.function.BiConsumer<T, Throwable> bookkeeping) {
        CompletableFuture<T> out = new CompletableFuture<>();
        source.whenComplete((r, t) -> {
            try {
                bookkeeping.accept(r, t);
            } finally {
                if (t != null) {
                    out.completeExceptionally(unwrap(t));
                } else {
                    out.complete(r);
                }
            }
        });
        out.whenComplete((r, t) -> {
            if (out.isCancelled()) {
                source.cancel(true); // as with map: cancelling the caller's future cancels the call
            }
        });
        return out;
    }

    public static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    /**
     * Starts a call for a blocking method and waits for it: the call's future is not moved to the
     * callback executor ({@link #forCaller}), so the waiting thread is woken by the I/O thread directly.
     */
    public static <T> T await(Supplier<CompletableFuture<T>> start) {
        CompletableFuture<T> future;
        BLOCKING_CALLER.set(Boolean.TRUE);
        try {
            future = start.get();
        } finally {
            BLOCKING_CALLER.remove();
        }
        return await(future);
    }

    /**
     * Waits for a call: returns its result or throws its {@link BatonException} (with this thread's
     * stack trace; the cause is kept). On interrupt, cancels the call, sets the flag again and throws
     * {@link BatonInterruptedException}.
     */
    public static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new BatonInterruptedException(e);
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (CancellationException e) {
            throw new BatonException(Status.Code.CANCELLED, null, "the call was cancelled", e);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof BatonException be) {
            be.fillInStackTrace();
            return be;
        }
        if (t instanceof Error error) {
            throw error;
        }
        if (t instanceof RuntimeException re && !(t instanceof CompletionException)) {
            return new BatonException(Status.Code.UNKNOWN, null, String.valueOf(t.getMessage()), re);
        }
        return new BatonException(Status.Code.UNKNOWN, null, String.valueOf(t), t);
    }
}
