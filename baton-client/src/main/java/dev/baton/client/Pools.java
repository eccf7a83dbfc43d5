package dev.baton.client;

import dev.baton.api.v1.GetPoolRequest;
import dev.baton.api.v1.GetPoolTotalsRequest;
import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Counting semaphores by key (PoolCounter's pools): {@code workers} sessions may hold a key at once,
 * and up to {@code maxQueue} may hold or wait. Get it with {@link BatonClient#pools()} or
 * {@link BatonSession#pools()}.
 *
 * <p>Through a {@link BatonClient}, each acquire goes to one of the client's sessions that has room
 * for it (the server allows a session a few slots and one waiting acquire), so any number of threads
 * may wait and hold at once; the reply names the session, and a release goes to the session of the
 * hold it names. Through a {@link BatonSession}, everything happens on that one session, and the
 * server's per-session limits show as {@link PoolStatus#LOCK_HELD} or a {@link LimitExceededException}.
 */
public final class Pools {
    private final ClientCore core;
    private final SessionSet sessions;
    /** Every acquire on the set's first session (the client's own session as a {@link BatonSession}). */
    private final boolean pinned;

    Pools(ClientCore core, SessionSet sessions, boolean pinned) {
        this.core = core;
        this.sessions = sessions;
        this.pinned = pinned;
    }

    /**
     * Acquires a slot of pool {@code key} (PoolCounter's {@code ACQ4ME}, or {@code ACQ4ANY} when
     * {@code forAnyone}). Replies {@link PoolStatus#LOCKED} with the grant's fence,
     * {@link PoolStatus#QUEUE_FULL}, {@link PoolStatus#DONE} (for-anyone: another worker finished the
     * job), {@link PoolStatus#TIMEOUT}, or {@link PoolStatus#RELEASED} with fence 0 (the session released
     * the key while the request waited: the wait was cancelled). With a positive {@code timeout} the
     * server holds the call while the request waits; the call's deadline is {@code timeout} plus the
     * request timeout.
     *
     * @param workers  how many sessions may hold the pool at once
     * @param maxQueue holders + waiters at which the request is refused with {@code QUEUE_FULL}
     * @param timeout  how long to wait for a slot; {@link Duration#ZERO} does not wait
     */
    public CompletableFuture<PoolReply> acquireAsync(String key, int workers, int maxQueue, Duration timeout,
            boolean forAnyone) {
        long timeoutMs = Args.millis(timeout, "timeout");
        PoolAcquireRequest.Builder request = request(key, workers, maxQueue, timeoutMs, forAnyone, false);
        return core.forCaller(ClientCore.compose(sessions.placePool(key, pinned), p -> {
            ClientSession s = p.session;
            AtomicReference<PoolAcquireRequest> sent = new AtomicReference<>();
            CompletableFuture<PoolReply> f = ClientCore.map(s.write(PoolsGrpc.getAcquireMethod(),
                    id -> sent(sent, request.setSession(s.sessionId()).setRequestId(id).build()),
                    core.waitingPolicy("Pools.Acquire", timeoutMs, s)), r -> Wire.pool(r, s.sessionId()));
            return ClientCore.afterBookkeeping(f, (r, t) -> {
                sessions.poolAcquired(p, r == null ? null : r.status(), r == null ? 0 : r.fence(),
                        0, t != null && ClientCore.refused(t));
                clearUpIfUnknown(p, sent.get(), t);
            });
        }));
    }

    /** Blocking {@link #acquireAsync}. */
    public PoolReply acquire(String key, int workers, int maxQueue, Duration timeout, boolean forAnyone) {
        return ClientCore.await(() -> acquireAsync(key, workers, maxQueue, timeout, forAnyone));
    }

    /**
     * Like {@link #acquireAsync} but never held by the server: a request that has to wait is answered
     * {@link PoolStatus#QUEUED} at once, and its outcome (granted with a fence, {@code DONE} or
     * {@code TIMEOUT}) arrives later at the {@link BatonClient.Builder#onEvent onEvent} listener as a
     * {@link BatonEvent.PoolWaitEnded} carrying the {@link RequestReply#requestId() request id} returned
     * here. Other replies are final. For advanced users: the wait ends even if the event is missed (e.g.
     * across a fail-over), so confirm with {@link #get} when an event is overdue.
     */
    public CompletableFuture<RequestReply<PoolReply>> acquireQueuedAsync(String key, int workers, int maxQueue,
            Duration timeout, boolean forAnyone) {
        long timeoutMs = Args.millis(timeout, "timeout");
        PoolAcquireRequest.Builder request = request(key, workers, maxQueue, timeoutMs, forAnyone, true);
        return core.forCaller(ClientCore.compose(sessions.placePool(key, pinned), p -> {
            ClientSession s = p.session;
            AtomicReference<PoolAcquireRequest> sent = new AtomicReference<>();
            CompletableFuture<RequestReply<PoolReply>> f = ClientCore.map(s.writeWithId(PoolsGrpc.getAcquireMethod(),
                    id -> sent(sent, request.setSession(s.sessionId()).setRequestId(id).build()),
                    core.policy("Pools.Acquire", s)),
                    r -> new RequestReply<>(r.requestId(), Wire.pool(r.reply(), s.sessionId())));
            return ClientCore.afterBookkeeping(f, (r, t) -> {
                sessions.poolAcquired(p, r == null ? null : r.reply().status(),
                        r == null ? 0 : r.reply().fence(), r == null ? 0 : r.requestId(), t != null && ClientCore.refused(t));
                clearUpIfUnknown(p, sent.get(), t);
            });
        }));
    }

    /** Blocking {@link #acquireQueuedAsync}. */
    public RequestReply<PoolReply> acquireQueued(String key, int workers, int maxQueue, Duration timeout,
            boolean forAnyone) {
        return ClientCore.await(() -> acquireQueuedAsync(key, workers, maxQueue, timeout, forAnyone));
    }

    private static PoolAcquireRequest sent(AtomicReference<PoolAcquireRequest> into, PoolAcquireRequest r) {
        into.set(r);
        return r;
    }

    /**
     * After an acquire that was sent and got no answer (not a refusal, which changed nothing): the
     * cluster may hold a slot for it that the caller does not know of, so the client finds out and
     * releases it in the background ({@link UnknownAcquire}); meanwhile the slot counts as taken on
     * its session, and no other acquire is placed there.
     */
    private void clearUpIfUnknown(SessionSet.PoolPlacement p, PoolAcquireRequest sent, Throwable t) {
        if (!UnknownAcquire.unknown(t) || sent == null) {
            return;
        }
        sessions.poolInDoubt(p);
        UnknownAcquire.settle(core, p.session, new PoolAcquireInDoubt(p.session, sent),
                "pool acquire of " + sent.getKey() + " (request " + Long.toUnsignedString(sent.getRequestId()) + ")",
                () -> sessions.poolCleared(p));
    }

    /** A pool acquire in doubt: asked again as it was sent; a slot found by its request id. */
    private final class PoolAcquireInDoubt implements UnknownAcquire.InDoubt {
        private final ClientSession session;
        private final PoolAcquireRequest sent;

        PoolAcquireInDoubt(ClientSession session, PoolAcquireRequest sent) {
            this.session = session;
            this.sent = sent;
        }

        @Override
        public CompletableFuture<Long> sendAgain() {
            return core.run(PoolsGrpc.getAcquireMethod(), sent.toBuilder().setReturnQueued(true).build(),
                            core.policy("Pools.Acquire", session))
                    .thenApply(r -> switch (r.getStatus()) {
                        case POOL_LOCKED -> r.getFence();
                        case POOL_QUEUED -> UnknownAcquire.WAITING;
                        default -> UnknownAcquire.NOTHING; // QUEUE_FULL, TIMEOUT, DONE, ...
                    });
        }

        @Override
        public CompletableFuture<Long> findInSession() {
            return core.run(SessionsGrpc.getGetMethod(), GetSessionRequest.newBuilder().setSession(session.sessionId()).build(),
                    core.policy("Sessions.Get", session)).thenApply(info -> {
                        for (dev.baton.api.v1.PoolSlot slot : info.getPoolSlotsList()) {
                            if (slot.getRequestId() == sent.getRequestId() && slot.getKey().equals(sent.getKey())) {
                                return "HELD".equals(slot.getState()) ? slot.getId() : UnknownAcquire.WAITING;
                            }
                        }
                        return UnknownAcquire.NOTHING;
                    });
        }

        @Override
        public CompletableFuture<?> release(long fence) {
            PoolReleaseRequest.Builder b = PoolReleaseRequest.newBuilder().setSession(session.sessionId())
                    .setKey(sent.getKey()).setFence(fence);
            return session.write(PoolsGrpc.getReleaseMethod(), id -> b.setRequestId(id).build(),
                    core.policy("Pools.Release", session));
        }
    }

    private static PoolAcquireRequest.Builder request(String key, int workers, int maxQueue, long timeoutMs,
            boolean forAnyone, boolean returnQueued) {
        Objects.requireNonNull(key, "key");
        return PoolAcquireRequest.newBuilder()
                .setKey(key)
                .setWorkers(Args.unsigned(workers, "workers"))
                .setMaxQueue(Args.unsigned(maxQueue, "maxQueue"))
                .setTimeoutMs(timeoutMs)
                .setForAnyone(forAnyone)
                .setReturnQueued(returnQueued);
    }

    /**
     * Releases the pool slot granted with {@code fence} on {@code key}; with fence 0, the newest slot
     * on {@code key}; with an empty key and fence 0, the newest slot (PoolCounter's LIFO
     * {@code RELEASE}). A waiting slot is cancelled. The release goes to the session the slot was
     * acquired on. Replies {@link PoolStatus#RELEASED} (with the released fence, 0 for a cancelled wait)
     * or {@link PoolStatus#NOT_LOCKED}.
     */
    public CompletableFuture<PoolReply> releaseAsync(String key, long fence) {
        Objects.requireNonNull(key, "key");
        ClientSession s = sessions.routePoolRelease(key, fence);
        PoolReleaseRequest.Builder request = PoolReleaseRequest.newBuilder()
                .setSession(s.sessionId())
                .setKey(key)
                .setFence(fence);
        CompletableFuture<PoolReply> f = ClientCore.map(s.write(PoolsGrpc.getReleaseMethod(),
                id -> request.setRequestId(id).build(), core.policy("Pools.Release", s)),
                r -> Wire.pool(r, s.sessionId()));
        return core.forCaller(ClientCore.afterBookkeeping(f, (r, t) -> {
            if (r != null) {
                sessions.poolReleased(s, key, r.status(), r.fence());
            }
        }));
    }

    /** Releases the slot a reply granted, on the session it was granted on. */
    public CompletableFuture<PoolReply> releaseAsync(PoolReply granted) {
        return releaseAsync(granted.key(), granted.fence());
    }

    /** Blocking {@link #releaseAsync(PoolReply)}. */
    public PoolReply release(PoolReply granted) {
        return ClientCore.await(() -> releaseAsync(granted));
    }

    /** Blocking {@link #releaseAsync(String, long)}. */
    public PoolReply release(String key, long fence) {
        return ClientCore.await(() -> releaseAsync(key, fence));
    }

    /** {@link #releaseAsync(String, long)} with fence 0: the newest slot on {@code key}. */
    public CompletableFuture<PoolReply> releaseAsync(String key) {
        return releaseAsync(key, 0);
    }

    /** Blocking {@link #releaseAsync(String)}. */
    public PoolReply release(String key) {
        return ClientCore.await(() -> releaseAsync(key));
    }

    /** The newest slot, on any key (PoolCounter's {@code RELEASE}). */
    public CompletableFuture<PoolReply> releaseAsync() {
        return releaseAsync("", 0);
    }

    /** Blocking {@link #releaseAsync()}. */
    public PoolReply release() {
        return ClientCore.await(() -> releaseAsync());
    }

    /** A pool's holders and waiters (a linearizable read; {@code exists} is false for an idle key). */
    public CompletableFuture<PoolInfo> getAsync(String key) {
        Objects.requireNonNull(key, "key");
        return core.forCaller(ClientCore.map(core.run(PoolsGrpc.getGetMethod(),
                GetPoolRequest.newBuilder().setKey(key).build(), core.policy("Pools.Get", null)), Wire::pool));
    }

    /** Blocking {@link #getAsync}. */
    public PoolInfo get(String key) {
        return ClientCore.await(() -> getAsync(key));
    }

    /** Totals over all pools (counts and cumulative times). */
    public CompletableFuture<PoolTotals> totalsAsync() {
        return core.forCaller(ClientCore.map(core.run(PoolsGrpc.getTotalsMethod(),
                GetPoolTotalsRequest.getDefaultInstance(), core.policy("Pools.Totals", null)), Wire::totals));
    }

    /** Blocking {@link #totalsAsync}. */
    public PoolTotals totals() {
        return ClientCore.await(() -> totalsAsync());
    }
}
