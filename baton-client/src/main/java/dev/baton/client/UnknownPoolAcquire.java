package dev.baton.client;

import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolSlot;
import dev.baton.api.v1.SessionInfo;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.Errors;
import dev.baton.client.internal.Invoker;

import java.lang.System.Logger.Level;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Clears up a pool acquire whose caller got no answer (every attempt failed as unavailable, the
 * call's deadline passed, or the caller cancelled or was interrupted). The cluster may have granted
 * it, or may still have it waiting; a slot nobody knows of would stay held for as long as the session
 * lives, and the client keeps its sessions alive, so the key would lose a worker for good.
 *
 * <p>So the client sends the same request again, in the background, with the <em>same</em> request
 * id: the server applies a request id at most once and answers a repeat with the first request's
 * answer (a waiting one when its wait ends), so this answer settles the outcome for good (if the
 * first request is still on its way, it is the repeat). A grant is released by its fence; any other
 * answer needs nothing; no answer, and the request is sent again after a pause that grows to
 * {@value #MAX_PAUSE_MS} ms. (An acquire made with {@code return_queued} is answered QUEUED while it
 * waits: it is asked about again the same way until its wait has ended.) If the server no longer remembers the request id ({@code REQUEST_TOO_OLD}: it keeps a
 * bounded window of answers per session, and more later requests than that were answered meanwhile),
 * the id can no longer be applied either, so the session's slots are read and the one that request
 * made, if any, is released by its fence (a wait is read again until it ends).
 *
 * <p>It stops when that is done, when the session is lost or closed (the server releases everything
 * a session held when it ends), or when the client is closed; then {@code done} runs.
 */
final class UnknownPoolAcquire {
    private static final System.Logger LOG = System.getLogger(UnknownPoolAcquire.class.getName());
    static final long FIRST_PAUSE_MS = 100;
    static final long MAX_PAUSE_MS = 5_000;

    private final ClientCore core;
    private final ClientSession session;
    private final PoolAcquireRequest sent;
    private final Runnable done;

    private UnknownPoolAcquire(ClientCore core, ClientSession session, PoolAcquireRequest sent, Runnable done) {
        this.core = core;
        this.session = session;
        this.sent = sent;
        this.done = done;
    }

    /**
     * Starts clearing up {@code sent} (the request as it was sent: its session and request id) on
     * {@code session}; {@code done} runs once, on a client thread, when it is over.
     */
    static void clearUp(ClientCore core, ClientSession session, PoolAcquireRequest sent, Runnable done) {
        LOG.log(Level.DEBUG, () -> "Clearing up the acquire of " + sent.getKey() + " (request "
                + Long.toUnsignedString(sent.getRequestId()) + " of " + session + ") whose outcome is unknown");
        core.inDoubt(1);
        new UnknownPoolAcquire(core, session, sent, done).ask(0);
    }

    /** True when nothing more can or need be done: the server releases what an ended session held. */
    private boolean over() {
        return core.closed() || session.lost() != null || session.state() == SessionState.CLOSED
                || session.state() == SessionState.LOST;
    }

    private void ask(long pause) {
        if (over()) {
            finish();
            return;
        }
        Invoker.Policy policy = sent.getReturnQueued() ? core.policy("Pools.Acquire", session)
                : core.waitingPolicy("Pools.Acquire", sent.getTimeoutMs(), session);
        call(() -> core.run(PoolsGrpc.getAcquireMethod(), sent, policy))
                .whenComplete((r, t) -> {
                    if (t == null) {
                        answered(r, pause);
                    } else if (!ClientCore.refused(t)) {
                        again(this::ask, pause); // still no answer
                    } else if (Errors.REQUEST_TOO_OLD.equals(((BatonException) ClientCore.unwrap(t)).errorCode())) {
                        read(FIRST_PAUSE_MS);
                    } else {
                        finish(); // refused: it changed nothing (an ended session, say)
                    }
                });
    }

    private void answered(PoolReply r, long pause) {
        switch (r.getStatus()) {
            case POOL_LOCKED -> release(r.getFence(), FIRST_PAUSE_MS);
            case POOL_QUEUED -> again(this::ask, pause); // it waits: ask again after a while
            default -> finish(); // QUEUE_FULL, TIMEOUT, DONE, ...: it holds nothing
        }
    }

    /** The request id is no longer remembered: find the slot it made, if any, among the session's. */
    private void read(long pause) {
        if (over()) {
            finish();
            return;
        }
        call(() -> core.run(SessionsGrpc.getGetMethod(), GetSessionRequest.newBuilder().setSession(session.sessionId())
                .build(), core.policy("Sessions.Get", session))).whenComplete((info, t) -> {
                    if (t != null) {
                        if (ClientCore.refused(t)) {
                            finish(); // the session is gone
                        } else {
                            again(this::read, pause);
                        }
                        return;
                    }
                    PoolSlot made = slotOf(info);
                    if (made == null) {
                        finish();
                    } else if ("HELD".equals(made.getState())) {
                        release(made.getId(), FIRST_PAUSE_MS);
                    } else {
                        again(this::read, pause); // still waiting
                    }
                });
    }

    private PoolSlot slotOf(SessionInfo info) {
        for (PoolSlot s : info.getPoolSlotsList()) {
            if (s.getRequestId() == sent.getRequestId() && s.getKey().equals(sent.getKey())) {
                return s;
            }
        }
        return null;
    }

    /** Releases the grant by its fence, as a write of the session (a new request id). */
    private void release(long fence, long pause) {
        if (over()) {
            finish();
            return;
        }
        PoolReleaseRequest.Builder b = PoolReleaseRequest.newBuilder().setSession(session.sessionId())
                .setKey(sent.getKey()).setFence(fence);
        call(() -> session.write(PoolsGrpc.getReleaseMethod(), id -> b.setRequestId(id).build(),
                core.policy("Pools.Release", session))).whenComplete((r, t) -> {
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
    private void again(java.util.function.LongConsumer step, long pause) {
        long p = next(pause);
        later(() -> step.accept(p), p);
    }

    private void later(Runnable r, long pauseMs) {
        if (over()) {
            finish();
            return;
        }
        if (!core.schedule(r, pauseMs)) {
            finish(); // the client is closing
        }
    }

    private static long next(long pause) {
        return pause <= 0 ? FIRST_PAUSE_MS : Math.min(MAX_PAUSE_MS, pause * 2);
    }

    private void finish() {
        core.inDoubt(-1);
        try {
            done.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Clearing up an acquire failed", e);
        }
    }
}
