package dev.baton.client;

import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.Errors;

import java.lang.System.Logger.Level;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/**
 * Settles an acquire (a pool slot or a lock) whose caller got no answer: every attempt failed as
 * unavailable, the call's deadline passed, or the caller cancelled or was interrupted. The cluster
 * may have granted it, or may still have it waiting and grant it later; a grant nobody knows of would
 * stay held for as long as the session lives, and the client keeps its sessions alive, so a pool
 * would lose a worker, or a lock be held, for good.
 *
 * <p>So the client sends the same request again, in the background, with the <em>same</em> session
 * and request id: the server applies a request id at most once and answers a repeat with the first
 * request's answer, so this answer settles the outcome for good (if the first request is still on
 * its way, it is the repeat). A grant is released by its fence; any other answer needs nothing; no
 * answer, and the request is sent again after a pause that grows from {@value #FIRST_PAUSE_MS} to
 * {@value #MAX_PAUSE_MS} ms. The repeat carries {@code return_queued}, so a request that still waits
 * is answered QUEUED at once (not held: a wait cancelled meanwhile would hold it to its deadline) and
 * asked about again the same way; a wait that ended has its outcome remembered under its request id
 * (a cancelled one as cancelled). If the server no longer remembers the request id ({@code REQUEST_TOO_OLD}: it keeps a
 * bounded window of answers per session, and more later requests than that were answered
 * meanwhile), the id can no longer be applied either, so the session's state is read and what that
 * request made, if anything, is released.
 *
 * <p>It stops when that is done, when the session is lost or closed (the server releases everything
 * a session held when it ends), or when the client is closed; then {@code done} runs, once.
 */
final class UnknownAcquire {
    private static final System.Logger LOG = System.getLogger(UnknownAcquire.class.getName());
    static final long FIRST_PAUSE_MS = 100;
    static final long MAX_PAUSE_MS = 5_000;
    /** An outcome: the request still waits on the cluster. */
    static final long WAITING = -1;
    /** An outcome: the request holds nothing (or what it holds is known to its owner). */
    static final long NOTHING = 0;

    /** One kind of acquire: how to ask about it again, how to find it in the session, how to release it. */
    interface InDoubt {
        /** The same request again; completes with the fence to release, {@link #NOTHING} or {@link #WAITING}. */
        CompletableFuture<Long> sendAgain();

        /** What the request made, from the session's state; as {@link #sendAgain}. */
        CompletableFuture<Long> findInSession();

        /** Releases the grant of {@code fence}, as a new write of the session. */
        CompletableFuture<?> release(long fence);
    }

    private final ClientCore core;
    private final ClientSession session;
    private final InDoubt request;
    private final String what;
    private final Runnable done;

    private UnknownAcquire(ClientCore core, ClientSession session, InDoubt request, String what, Runnable done) {
        this.core = core;
        this.session = session;
        this.request = request;
        this.what = what;
        this.done = done;
    }

    /**
     * Whether a call that failed with {@code t} left its outcome unknown: no answer came, and the
     * client is not closed (a refusal changed nothing; a closed client closes its sessions).
     */
    static boolean unknown(Throwable t) {
        return t != null && !ClientCore.refused(t) && !(ClientCore.unwrap(t) instanceof BatonClosedException);
    }

    /** Starts settling {@code request} (described as {@code what}) on {@code session}. */
    static void settle(ClientCore core, ClientSession session, InDoubt request, String what, Runnable done) {
        LOG.log(Level.DEBUG, () -> "Settling the " + what + " of " + session + ", whose outcome is unknown");
        core.inDoubt(1);
        new UnknownAcquire(core, session, request, what, done).ask(0);
    }

    /** True when nothing more can or need be done: the server releases what an ended session held. */
    private boolean over() {
        SessionState state = session.state();
        return core.closed() || session.lost() != null || state == SessionState.CLOSED || state == SessionState.LOST;
    }

    private void ask(long pause) {
        step(request::sendAgain, pause, this::ask, true);
    }

    private void read(long pause) {
        step(request::findInSession, pause, this::read, false);
    }

    /** One question; what to do with its answer ({@code tooOldReads}: REQUEST_TOO_OLD falls back to a read). */
    private void step(Supplier<CompletableFuture<Long>> question, long pause, LongConsumer again, boolean tooOldReads) {
        if (over()) {
            finish();
            return;
        }
        call(question).whenComplete((outcome, t) -> {
            if (t == null) {
                if (outcome == WAITING) {
                    again(again, pause); // it waits: ask again after a while
                } else if (outcome == NOTHING) {
                    finish();
                } else {
                    release(outcome, 0);
                }
            } else if (!ClientCore.refused(t)) {
                again(again, pause); // still no answer
            } else if (tooOldReads && tooOld(t)) {
                read(0);
            } else {
                finish(); // refused: it changed nothing (an ended session, say)
            }
        });
    }

    private static boolean tooOld(Throwable t) {
        return ClientCore.unwrap(t) instanceof BatonException b && Errors.REQUEST_TOO_OLD.equals(b.errorCode());
    }

    private void release(long fence, long pause) {
        if (over()) {
            finish();
            return;
        }
        call(() -> request.release(fence)).whenComplete((r, t) -> {
            if (t == null || ClientCore.refused(t)) {
                finish(); // released, or no longer held (a stale fence)
            } else {
                again(p -> release(fence, p), pause);
            }
        });
    }

    private static <T> CompletableFuture<T> call(Supplier<CompletableFuture<T>> c) {
        try {
            return c.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** {@code step} again after a pause longer than the last one ({@code pause}). */
    private void again(LongConsumer step, long pause) {
        long p = pause <= 0 ? FIRST_PAUSE_MS : Math.min(MAX_PAUSE_MS, pause * 2);
        if (over() || !core.schedule(() -> step.accept(p), p)) {
            finish(); // the session ended, or the client is closing
        }
    }

    private void finish() {
        core.inDoubt(-1);
        LOG.log(Level.DEBUG, () -> "The " + what + " of " + session + " is settled");
        try {
            done.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Settling the " + what + " failed", e);
        }
    }
}
