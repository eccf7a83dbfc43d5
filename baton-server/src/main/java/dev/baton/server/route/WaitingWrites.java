package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Writes that may wait: a pool or lock acquire with a timeout, answered QUEUED first and settled
 * later (LOCKED, DONE, TIMEOUT) by an entry that every replica applies. This is the one place that
 * knows how such a wait ends, whichever door it came through:
 * <ul>
 *   <li>the outcome is an effect of a later entry ({@link Effect.PoolWaitEnded},
 *       {@link Effect.LockWaitEnded}), seen by every replica in log order;</li>
 *   <li>when the write was forwarded, the leader sends the outcome the moment it applies it
 *       ({@link Router#writeWithOutcome}), ahead of this node's own apply;</li>
 *   <li>the session's end ends its waits;</li>
 *   <li>an effect can be missed (a node that installs a snapshot skips the effects of the entries
 *       folded into it): when no outcome has come by the wait's own timeout plus
 *       {@link #RECONCILE_GRACE_MS}, the same request (same request id) is proposed again, and the
 *       core's remembered answer is the final outcome; still QUEUED (or no leader), it asks again a
 *       grace period later.</li>
 * </ul>
 * Doors either let this class follow the apply stream ({@link #write}: the gRPC door) or deliver
 * the outcomes they see themselves, in their own order ({@link #track}: the line door, which writes
 * outcomes and answers to one connection in log order). The leader's end of a forwarded wait uses
 * {@link #watch}.
 */
public final class WaitingWrites {
    /** A wait that outlives its own timeout by this much is reconciled by proposing its request again. */
    public static final long RECONCILE_GRACE_MS = 3_000;
    /** Timeouts are capped here (a day) when computing when to reconcile. */
    private static final long MAX_TIMEOUT_MS = 86_400_000L;

    private final Router router;
    private final ScheduledExecutorService timer;
    private final WaitRegistry registry = new WaitRegistry();

    /** @param timer runs the reconciliation of waits registered through {@link #write} and {@link #watch} */
    public WaitingWrites(Router router, ScheduledExecutorService timer) {
        this.router = router;
        this.timer = timer;
    }

    /** Called in log order with every applied effect (on one thread). */
    public void onEffect(Effect e) {
        registry.onEffect(e);
    }

    /** Waits registered here now (followed through the apply stream). */
    public int registered() {
        return registry.size();
    }

    /** True for the first answer of a wait still in progress. */
    public static boolean queued(Result r) {
        return (r instanceof Result.PoolReply p && p.status() == Result.PoolStatus.QUEUED)
                || (r instanceof Result.LockReply l && l.status() == Result.LockStatus.QUEUED);
    }

    /** The timeout of {@code c} if it is an acquire that may wait, else 0. */
    public static long waitMs(Command c) {
        return c instanceof Command.PoolAcquire p ? Math.max(p.timeoutMs(), 0)
                : c instanceof Command.LockAcquire l ? Math.max(l.timeoutMs(), 0) : 0;
    }

    /**
     * Writes {@code c} for {@code caller} and completes with its final result: a command that does
     * not wait (or whose caller asked for the QUEUED answer: {@code returnQueued}) with its answer; a
     * waiting acquire answered QUEUED with the wait's outcome (a {@link Result.PoolReply} or
     * {@link Result.LockReply} that is not QUEUED), or fails when the session ends first
     * ({@link BatonException#unknownSession}). Failures are {@link BatonException}s.
     *
     * @param onCancel gets what to run if the caller gives up (the wait is forgotten)
     */
    public CompletableFuture<Result> write(Command.ClientCommand c, Caller caller, boolean returnQueued,
                                           Consumer<Runnable> onCancel) {
        WaitRegistry.Key key = returnQueued ? null : WaitRegistry.Key.ofWaitingAcquire(c);
        if (key == null) {
            return router.write(c, caller);
        }
        Command.SessionRequest request = (Command.SessionRequest) c;
        Wait w = new Wait(timer);
        // Registered before proposing: an outcome applied before the QUEUED answer arrives is not missed.
        CompletableFuture<Effect> ended = registry.register(key);
        ended.whenComplete((e, t) -> {
            if (t == null) {
                w.complete(asResult(e));
            } else {
                w.fail(t);
            }
        });
        // Forgotten however it ends, also when the leader's outcome came first.
        w.outcome.whenComplete((r, t) -> registry.remove(key, ended));
        onCancel.accept(w::cancel);
        CompletableFuture<Result> f = router.writeWithOutcome(c, caller, r -> {
            if (!queued(r)) {
                w.complete(r); // from the leader, ahead of this follower's own apply
            }
        }).thenCompose(r -> {
            if (queued(r)) {
                w.queued(request);
                return w.outcome.thenCompose(o -> toTell(request.session(), o));
            }
            w.answeredAtOnce(r);
            return CompletableFuture.completedFuture(r);
        });
        f.whenComplete((r, t) -> {
            if (t != null) {
                w.cancel();
            }
        });
        return f;
    }

    /**
     * A wait's outcome once it may be told to the caller: a grant only while the leader's latest
     * acknowledgement of the session is fresh ({@link LeaseKeeper#whenFresh}), so that a node that
     * learns a grant late (it was cut off) never tells one whose session the leader has expired
     * since; the caller then hears that the session ended. Other outcomes at once.
     */
    private CompletableFuture<Result> toTell(long session, Result outcome) {
        if (!granted(outcome)) {
            return CompletableFuture.completedFuture(outcome);
        }
        return router.leases().whenFresh(session).thenApply(told -> {
            if (!told) {
                throw BatonException.unknownSession("session " + Long.toUnsignedString(session)
                        + " ended before its grant could be told");
            }
            return outcome;
        });
    }

    /** True for a wait's outcome that hands its session a slot or a lock. */
    public static boolean granted(Result r) {
        return (r instanceof Result.PoolReply p && p.status() == Result.PoolStatus.LOCKED)
                || (r instanceof Result.LockReply l && l.status() == Result.LockStatus.LOCKED);
    }

    /**
     * A wait whose outcome the door delivers itself, from what it sees in its own order (its apply
     * stream, the leader's early outcome): see {@link Wait#complete}. Reconciliation runs on
     * {@code thread}, which is also where a reconciled outcome completes the wait.
     */
    public Wait track(ScheduledExecutorService thread) {
        return new Wait(thread);
    }

    /**
     * The leader's end of a forwarded acquire whose outcome the follower asked for: registered
     * before the command is proposed; null if {@code c} does not wait.
     */
    public Watch watch(Command c) {
        WaitRegistry.Key key = WaitRegistry.Key.ofWaitingAcquire(c);
        return key == null ? null : new Watch(key, registry.register(key), WaitRegistry.Key.timeoutMs(c));
    }

    /** One wait: its outcome, and its reconciliation once its first answer was QUEUED. */
    public final class Wait {
        private final CompletableFuture<Result> outcome = new CompletableFuture<>();
        private final ScheduledExecutorService thread;
        private volatile ScheduledFuture<?> reconcile;

        private Wait(ScheduledExecutorService thread) {
            this.thread = thread;
        }

        /**
         * The final result of the wait (not QUEUED), seen anywhere; fails with
         * {@link BatonException#unknownSession} if the session ended first, with a
         * {@link CancellationException} once {@link #cancel}led.
         */
        public CompletableFuture<Result> outcome() {
            return outcome;
        }

        public boolean isDone() {
            return outcome.isDone();
        }

        /** An outcome seen by the door (an effect, or the leader's word); the first one counts. */
        public boolean complete(Result finalResult) {
            boolean first = outcome.complete(finalResult);
            if (first) {
                stopReconciling();
            }
            return first;
        }

        /** The wait's outcome as an applied effect tells it. */
        public boolean complete(Effect.PoolWaitEnded e) {
            return complete(asResult(e));
        }

        /** The wait ended without an outcome (its session ended). */
        public boolean fail(Throwable t) {
            boolean first = outcome.completeExceptionally(t);
            if (first) {
                stopReconciling();
            }
            return first;
        }

        /**
         * The command's first answer was final (not QUEUED): there is nothing to wait for, and that
         * answer is the outcome. Not {@link #cancel}: cancelling a future makes a
         * {@code CancellationException} and fills in its stack trace, which, once for every acquire
         * granted at once, took about 7 % of the line door's thread under load.
         */
        public void answeredAtOnce(Result answer) {
            complete(answer);
        }

        /** Nobody wants the outcome any more (given up, released, closed): stop reconciling. */
        public void cancel() {
            outcome.cancel(false);
            stopReconciling();
        }

        /**
         * {@code c} was answered QUEUED: unless an outcome comes by its timeout plus the grace
         * period, propose it again to learn the outcome.
         */
        public void queued(Command.SessionRequest c) {
            reconcileAfter(c, Math.min(waitMs(c), MAX_TIMEOUT_MS) + RECONCILE_GRACE_MS);
        }

        private void stopReconciling() {
            ScheduledFuture<?> r = reconcile;
            if (r != null) {
                r.cancel(false);
            }
        }

        private void reconcileAfter(Command.SessionRequest c, long delayMs) {
            if (outcome.isDone()) {
                return;
            }
            try {
                reconcile = thread.schedule(() -> {
                    if (outcome.isDone()) {
                        return;
                    }
                    // Same request id: the core answers with the wait's final outcome if it has one.
                    router.write(c).whenComplete((r, t) -> {
                        try {
                            thread.execute(() -> reconciled(c, r, t));
                        } catch (RejectedExecutionException stopping) {
                            // the door or node is closing
                        }
                    });
                }, delayMs, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException stopping) {
                // the door or node is closing
            }
            if (outcome.isDone()) {
                stopReconciling();
            }
        }

        private void reconciled(Command.SessionRequest c, Result r, Throwable t) {
            if (outcome.isDone()) {
                return;
            }
            if (t == null && (r instanceof Result.PoolReply || r instanceof Result.LockReply) && !WaitingWrites.queued(r)) {
                complete(r);
            } else if (t == null && r instanceof Result.Rejected rej && rej.code() == ErrorCode.UNKNOWN_SESSION) {
                fail(BatonException.unknownSession("session " + Long.toUnsignedString(c.session()) + " ended"));
            } else {
                // Still waiting (or no leader right now): look again later.
                reconcileAfter(c, RECONCILE_GRACE_MS);
            }
        }
    }

    /** The leader's watch over a forwarded wait; see {@link #watch}. */
    public final class Watch {
        private final WaitRegistry.Key key;
        private final CompletableFuture<Effect> ended;
        private final long timeoutMs;

        private Watch(WaitRegistry.Key key, CompletableFuture<Effect> ended, long timeoutMs) {
            this.key = key;
            this.ended = ended;
            this.timeoutMs = timeoutMs;
        }

        /**
         * The command was answered ({@code r}) or failed ({@code t}). Null unless it is waiting;
         * then the wait's outcome, or null if there is none to tell by the wait's own timeout plus
         * the grace period (a leader change, say) or the session ended: the follower's own apply
         * stream and reconciliation take over.
         */
        public CompletableFuture<Result> answered(Result r, Throwable t) {
            if (t != null || !queued(r)) {
                registry.remove(key, ended);
                return null;
            }
            CompletableFuture<Result> out = new CompletableFuture<>();
            ScheduledFuture<?> giveUp;
            try {
                giveUp = timer.schedule(() -> {
                    if (out.complete(null)) {
                        registry.remove(key, ended);
                    }
                }, Math.min(timeoutMs, MAX_TIMEOUT_MS) + RECONCILE_GRACE_MS, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException stopping) {
                registry.remove(key, ended);
                return CompletableFuture.completedFuture(null);
            }
            ended.whenComplete((e, err) -> {
                giveUp.cancel(false);
                out.complete(err == null ? asResult(e) : null);
            });
            return out;
        }
    }

    /** A wait's outcome as the remembered final answer of its request. */
    public static Result asResult(Effect e) {
        if (e instanceof Effect.PoolWaitEnded p) {
            return new Result.PoolReply(p.status(), p.key(), p.fence());
        }
        Effect.LockWaitEnded l = (Effect.LockWaitEnded) e;
        return new Result.LockReply(l.status(), l.name(), l.fence());
    }
}
