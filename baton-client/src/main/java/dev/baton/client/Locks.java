package dev.baton.client;

import dev.baton.api.v1.GetLockRequest;
import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockReleaseRequest;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Fenced locks by name: one session holds a name at a time, and every grant carries a fence that only
 * grows. Get it with {@link BatonClient#locks()} or {@link BatonSession#locks()}.
 *
 * <p>Through a {@link BatonClient}, an acquire goes to the client's first session that neither holds
 * that lock nor is acquiring it (the server allows one waiting acquire per name per session), opening
 * another session when needed; so several threads of one client may wait for the same lock as threads
 * of different processes would, and the one that gets it holds it on its own session. A release goes
 * to the session that holds the lock. Through a {@link BatonSession}, acquiring a lock the session
 * already holds replies {@link LockStatus#ALREADY_HELD}.
 */
public final class Locks {
    private final ClientCore core;
    private final SessionSet sessions;
    /** Every acquire on the set's first session (the client's own session as a {@link BatonSession}). */
    private final boolean pinned;

    Locks(ClientCore core, SessionSet sessions, boolean pinned) {
        this.core = core;
        this.sessions = sessions;
        this.pinned = pinned;
    }

    /**
     * Acquires the lock {@code name}: a try-lock with {@link Duration#ZERO}, otherwise waits up to
     * {@code timeout} (the server holds the call; its deadline is {@code timeout} plus the request
     * timeout). Replies {@link LockStatus#LOCKED} with a new fence, {@link LockStatus#ALREADY_HELD} with
     * the current fence, {@link LockStatus#BUSY} (try-lock) or {@link LockStatus#TIMEOUT}. Quote the
     * fence to whatever the lock protects.
     */
    public CompletableFuture<LockReply> acquireAsync(String name, Duration timeout) {
        long timeoutMs = Args.millis(timeout, "timeout");
        Objects.requireNonNull(name, "name");
        return core.forCaller(ClientCore.compose(sessions.placeLock(name, pinned), s -> {
            AtomicReference<LockAcquireRequest> sent = new AtomicReference<>();
            CompletableFuture<LockReply> f = ClientCore.map(s.write(LocksGrpc.getAcquireMethod(),
                    id -> sent(sent, request(s, id, name, timeoutMs, false)),
                    core.waitingPolicy("Locks.Acquire", timeoutMs, s)), r -> Wire.lock(r, s.sessionId()));
            return ClientCore.afterBookkeeping(f, (r, t) -> acquired(s, name, r == null ? null : r.status(), sent.get(), t));
        }));
    }

    /** Blocking {@link #acquireAsync}. */
    public LockReply acquire(String name, Duration timeout) {
        return ClientCore.await(() -> acquireAsync(name, timeout));
    }

    /**
     * Like {@link #acquireAsync} but a request that has to wait is answered {@link LockStatus#QUEUED} at
     * once; the outcome (granted with a fence, or {@code TIMEOUT}) arrives at the
     * {@link BatonClient.Builder#onEvent onEvent} listener as a {@link BatonEvent.LockWaitEnded} carrying
     * the {@link RequestReply#requestId() request id} returned here. For advanced users; see
     * {@link Pools#acquireQueuedAsync} about missed events.
     */
    public CompletableFuture<RequestReply<LockReply>> acquireQueuedAsync(String name, Duration timeout) {
        long timeoutMs = Args.millis(timeout, "timeout");
        Objects.requireNonNull(name, "name");
        return core.forCaller(ClientCore.compose(sessions.placeLock(name, pinned), s -> {
            AtomicReference<LockAcquireRequest> sent = new AtomicReference<>();
            CompletableFuture<RequestReply<LockReply>> f = ClientCore.map(s.writeWithId(LocksGrpc.getAcquireMethod(),
                    id -> sent(sent, request(s, id, name, timeoutMs, true)), core.policy("Locks.Acquire", s)),
                    r -> new RequestReply<>(r.requestId(), Wire.lock(r.reply(), s.sessionId())));
            return ClientCore.afterBookkeeping(f, (r, t) -> acquired(s, name, r == null ? null : r.reply().status(), sent.get(), t));
        }));
    }

    /** Blocking {@link #acquireQueuedAsync}. */
    public RequestReply<LockReply> acquireQueued(String name, Duration timeout) {
        return ClientCore.await(() -> acquireQueuedAsync(name, timeout));
    }

    private static LockAcquireRequest sent(AtomicReference<LockAcquireRequest> into, LockAcquireRequest r) {
        into.set(r);
        return r;
    }

    /**
     * The books after an acquire: its outcome, or, when it was sent and got no answer, the session
     * may hold the lock without anyone knowing, so the client finds out and releases it in the
     * background ({@link UnknownAcquire}); meanwhile no other acquire of the lock is placed on that
     * session (on the one session of a {@link BatonSession}, the next acquire of it waits for that).
     */
    private void acquired(ClientSession s, String name, LockStatus status, LockAcquireRequest sent, Throwable t) {
        if (!UnknownAcquire.unknown(t) || sent == null) {
            sessions.lockAcquired(s, name, status);
            return;
        }
        sessions.lockInDoubt(s, name);
        UnknownAcquire.settle(core, s, new LockAcquireInDoubt(s, sent),
                "lock acquire of " + name + " (request " + Long.toUnsignedString(sent.getRequestId()) + ")",
                () -> sessions.lockCleared(s, name));
    }

    /** A lock acquire in doubt: asked again as it was sent; the lock found among the session's. */
    private final class LockAcquireInDoubt implements UnknownAcquire.InDoubt {
        private final ClientSession session;
        private final LockAcquireRequest sent;

        LockAcquireInDoubt(ClientSession session, LockAcquireRequest sent) {
            this.session = session;
            this.sent = sent;
        }

        @Override
        public CompletableFuture<Long> sendAgain() {
            return core.run(LocksGrpc.getAcquireMethod(), sent.toBuilder().setReturnQueued(true).build(),
                            core.policy("Locks.Acquire", session))
                    .thenApply(r -> switch (r.getStatus()) {
                        case LOCK_LOCKED -> r.getFence();
                        // held before this request: the caller's own, if the client knows of it
                        case LOCK_ALREADY_HELD -> sessions.holdsLock(session, sent.getName()) ? UnknownAcquire.NOTHING : r.getFence();
                        case LOCK_QUEUED -> UnknownAcquire.WAITING;
                        default -> UnknownAcquire.NOTHING; // BUSY, TIMEOUT, ...
                    });
        }

        @Override
        public CompletableFuture<Long> findInSession() {
            return core.run(SessionsGrpc.getGetMethod(), GetSessionRequest.newBuilder().setSession(session.sessionId()).build(),
                    core.policy("Sessions.Get", session)).thenApply(info -> {
                        if (info.getLockWaitsList().contains(sent.getName())) {
                            return UnknownAcquire.WAITING;
                        }
                        Long fence = info.getLocksHeldMap().get(sent.getName());
                        return fence == null || sessions.holdsLock(session, sent.getName()) ? UnknownAcquire.NOTHING : fence;
                    });
        }

        @Override
        public CompletableFuture<?> release(long fence) {
            LockReleaseRequest.Builder b = LockReleaseRequest.newBuilder().setSession(session.sessionId())
                    .setName(sent.getName()).setFence(fence);
            return session.write(LocksGrpc.getReleaseMethod(), id -> b.setRequestId(id).build(),
                    core.policy("Locks.Release", session)).thenApply(r -> {
                        sessions.lockReleased(session, sent.getName(), Wire.lock(r, session.sessionId()).status());
                        return r;
                    });
        }
    }

    private static LockAcquireRequest request(ClientSession s, long id, String name, long timeoutMs,
            boolean returnQueued) {
        return LockAcquireRequest.newBuilder()
                .setSession(s.sessionId())
                .setRequestId(id)
                .setName(name)
                .setTimeoutMs(timeoutMs)
                .setReturnQueued(returnQueued)
                .build();
    }

    /**
     * Unlocks {@code name} if it is held under {@code fence} (0: whatever its fence), or cancels a wait
     * for it; the request goes to the session that holds (or waits for) it. Replies
     * {@link LockStatus#UNLOCKED}, {@link LockStatus#CANCELLED} or {@link LockStatus#NOT_HELD}.
     *
     * @throws StaleFenceException (blocking) if {@code fence} is not the current grant's
     */
    public CompletableFuture<LockReply> releaseAsync(String name, long fence) {
        Objects.requireNonNull(name, "name");
        ClientSession s = sessions.routeLockRelease(name);
        LockReleaseRequest.Builder request = LockReleaseRequest.newBuilder()
                .setSession(s.sessionId())
                .setName(name)
                .setFence(fence);
        CompletableFuture<LockReply> f = ClientCore.map(s.write(LocksGrpc.getReleaseMethod(),
                id -> request.setRequestId(id).build(), core.policy("Locks.Release", s)),
                r -> Wire.lock(r, s.sessionId()));
        return core.forCaller(ClientCore.afterBookkeeping(f, (r, t) -> {
            if (r != null) {
                sessions.lockReleased(s, name, r.status());
            }
        }));
    }

    /** Blocking {@link #releaseAsync(String, long)}. */
    public LockReply release(String name, long fence) {
        return ClientCore.await(() -> releaseAsync(name, fence));
    }

    /** {@link #releaseAsync(String, long)} with fence 0. */
    public CompletableFuture<LockReply> releaseAsync(String name) {
        return releaseAsync(name, 0);
    }

    /** Blocking {@link #releaseAsync(String)}. */
    public LockReply release(String name) {
        return ClientCore.await(() -> releaseAsync(name));
    }

    /** A lock's holder, fence and waiters (a linearizable read). */
    public CompletableFuture<LockInfo> getAsync(String name) {
        Objects.requireNonNull(name, "name");
        return core.forCaller(ClientCore.map(core.run(LocksGrpc.getGetMethod(),
                GetLockRequest.newBuilder().setName(name).build(), core.policy("Locks.Get", null)), Wire::lock));
    }

    /** Blocking {@link #getAsync}. */
    public LockInfo get(String name) {
        return ClientCore.await(() -> getAsync(name));
    }
}
