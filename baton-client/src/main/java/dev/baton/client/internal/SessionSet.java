package dev.baton.client.internal;

import dev.baton.client.BatonEvent;
import dev.baton.client.LockStatus;
import dev.baton.client.PoolStatus;
import dev.baton.client.SessionLostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The sessions a client spreads its pool and lock acquires over, and where each hold lives.
 *
 * <p>The server limits each session: at most {@code slotsPerSession} pool slots held or waited for,
 * one pool acquire waiting at a time, and one waiting acquire per lock name. So an acquire goes to
 * the first session (the client's own first) that has room for it: fewer slots than the limit and no
 * pool acquire under way, or no acquire of that lock name under way. When none has room, another
 * session of the same client is opened for it. A hold remembers its session: its release goes there,
 * and losing that session loses only the holds on it. Extra sessions that have held nothing for a
 * while are closed.
 *
 * <p>A set may also be a single session ({@link #single}): every acquire goes to it, and the server's
 * limits apply to it as to any session. Not part of the client's API.
 */
public final class SessionSet {
    private final ClientCore core;
    /** The first session; in a single set, replaced by a closed stand-in when the set is retired. */
    private volatile ClientSession primary;
    private final boolean single;
    private final int slotsPerSession;
    private final long idleCloseNanos;
    /** Open sessions, the primary first; guarded by this. */
    private final List<ClientSession> sessions = new ArrayList<>();
    /** Pool holds and acquires under way, oldest first; guarded by this. */
    private final List<PoolEntry> pool = new ArrayList<>();
    /** Lock name to the session that holds it; guarded by this. */
    private final Map<String, ClientSession> locks = new HashMap<>();
    private final ScheduledFuture<?> sweeper;
    private boolean closed;

    /** A pool slot the client holds, or an acquire of one under way ({@code fence} 0). */
    private static final class PoolEntry {
        final ClientSession session;
        final String key;
        long fence;
        long requestId;

        PoolEntry(ClientSession session, String key) {
            this.session = session;
            this.key = key;
        }
    }

    /** A pool acquire placed on a session: report its outcome with {@link SessionSet#poolAcquired}. */
    public static final class PoolPlacement {
        public final ClientSession session;
        final PoolEntry entry;

        PoolPlacement(ClientSession session, PoolEntry entry) {
            this.session = session;
            this.entry = entry;
        }
    }

    private SessionSet(ClientCore core, ClientSession primary, boolean single) {
        this.core = core;
        this.primary = primary;
        this.single = single;
        this.slotsPerSession = core.settings().slotsPerSession();
        this.idleCloseNanos = core.settings().idleSessionClose().toNanos();
        sessions.add(primary);
        watch(primary);
        if (single) {
            sweeper = null;
        } else {
            long period = Math.max(TimeUnit.MILLISECONDS.toNanos(100), idleCloseNanos / 2);
            sweeper = core.scheduler().scheduleWithFixedDelay(this::closeIdle, period, period, TimeUnit.NANOSECONDS);
        }
    }

    /** A set that spreads acquires over as many sessions as they need, starting with {@code primary}. */
    public static SessionSet spreading(ClientCore core, ClientSession primary) {
        return new SessionSet(core, primary, false);
    }

    /** A set of one session. */
    public static SessionSet single(ClientCore core, ClientSession session) {
        return new SessionSet(core, session, true);
    }

    public ClientSession primary() {
        return primary;
    }

    /**
     * The primary, for a write the client keeps no account of (dispatch, events, queues): the session
     * is marked as possibly holding something, so it is never handed on ({@link #retireIfIdle}).
     * Under the set's lock, so that a retirement either sees the mark or comes first (and then the
     * closed stand-in is returned).
     */
    public synchronized ClientSession primaryForUntrackedWrite() {
        ClientSession s = primary;
        s.madeUntrackedWrites = true;
        return s;
    }

    /**
     * For a single set whose user closes it: if its session holds nothing and waits for nothing (no
     * pool slot or lock held or asked for, no write unanswered, no dispatch, event or queue write ever
     * made, alive as far as the client knows), detaches the session and returns true; calls through
     * this set then fail with {@link dev.baton.client.BatonClosedException}. Otherwise changes nothing
     * and returns false: the caller closes the set.
     */
    public synchronized boolean retireIfIdle() {
        ClientSession s = primary;
        if (!single || closed || !isIdle(s) || !pool.isEmpty() || !locks.isEmpty() || s.madeUntrackedWrites
                || s.lost() != null || s.state() != dev.baton.client.SessionState.ALIVE || !s.writesQuiet()) {
            return false;
        }
        closed = true;
        primary = ClientSession.closedStandIn(core);
        sessions.set(0, primary);
        return true;
    }

    /** How many sessions are open (for tests and status). */
    public synchronized int size() {
        return sessions.size();
    }

    private void watch(ClientSession s) {
        s.listen(this::lost, this::ownEvent);
    }

    // ---- pools ----------------------------------------------------------------------------------

    /** A session with room for a pool acquire of {@code key}, opening one if none has room. */
    public CompletableFuture<PoolPlacement> placePool(String key) {
        return placePool(key, false);
    }

    /** {@link #placePool(String)}; {@code pinned}: on the primary, whatever room it has. */
    public CompletableFuture<PoolPlacement> placePool(String key, boolean pinned) {
        SessionLostException lost = primary.lost();
        if (lost != null) {
            return CompletableFuture.failedFuture(lost);
        }
        synchronized (this) {
            for (ClientSession s : sessions) {
                if (single || pinned || hasPoolRoom(s)) {
                    return CompletableFuture.completedFuture(reservePool(s, key));
                }
            }
        }
        return ClientCore.map(openExtra(), s -> {
            synchronized (this) {
                return reservePool(s, key);
            }
        });
    }

    private boolean hasPoolRoom(ClientSession s) {
        return s.lost() == null && !s.poolAcquiring && s.poolSlots < slotsPerSession;
    }

    private PoolPlacement reservePool(ClientSession s, String key) {
        s.poolSlots++;
        s.poolAcquiring = true;
        PoolEntry e = new PoolEntry(s, key);
        pool.add(e);
        return new PoolPlacement(s, e);
    }

    /**
     * The outcome of a placed pool acquire: the reply's status and fence, or {@code null} status when
     * the call failed ({@code refused}: the server changed nothing; else the outcome is unknown, and
     * the slot is counted as taken until the session ends).
     */
    public synchronized void poolAcquired(PoolPlacement p, PoolStatus status, long fence, long requestId,
            boolean refused) {
        ClientSession s = p.session;
        if (status == PoolStatus.QUEUED) {
            p.entry.requestId = requestId; // still waiting: the event ends it
            return;
        }
        s.poolAcquiring = false;
        if (status == PoolStatus.LOCKED) {
            p.entry.fence = fence;
        } else if (status != null || refused) {
            dropPool(p.entry);
        }
        // an unknown outcome keeps the entry: the slot may be held
    }

    /**
     * The placed acquire's outcome is unknown and is being cleared up: its slot stays counted, and
     * no other acquire is placed on its session until {@link #poolCleared}.
     */
    public synchronized void poolInDoubt(PoolPlacement p) {
        p.session.poolAcquiring = true;
    }

    /** The acquire in doubt has been cleared up: it holds nothing now (or its session has ended). */
    public synchronized void poolCleared(PoolPlacement p) {
        p.session.poolAcquiring = false;
        dropPool(p.entry);
    }

    private void dropPool(PoolEntry e) {
        if (pool.remove(e)) {
            e.session.poolSlots--;
            idleCheck(e.session);
        }
    }

    /** The session a pool release goes to: the one of the newest matching hold, else the primary. */
    public synchronized ClientSession routePoolRelease(String key, long fence) {
        for (int i = pool.size() - 1; i >= 0; i--) {
            PoolEntry e = pool.get(i);
            if ((key.isEmpty() || e.key.equals(key)) && (fence == 0 || e.fence == fence)) {
                if (e.session.lost() != null) {
                    pool.remove(i); // the release fails with the loss; the server released the slot
                }
                return e.session;
            }
        }
        return primary;
    }

    /** A pool release's reply: {@link PoolStatus#RELEASED} with a fence ends that hold. */
    public synchronized void poolReleased(ClientSession s, String key, PoolStatus status, long fence) {
        if (status != PoolStatus.RELEASED || fence == 0) {
            return;
        }
        for (PoolEntry e : pool) {
            if (e.session == s && e.fence == fence && (key.isEmpty() || e.key.equals(key))) {
                dropPool(e);
                return;
            }
        }
    }

    // ---- locks ----------------------------------------------------------------------------------

    /**
     * A session that neither holds lock {@code name} nor has an acquire of it under way, opening one if
     * none: so that another thread's acquire of a lock the client holds waits for it, as it would in
     * another process.
     */
    public CompletableFuture<ClientSession> placeLock(String name) {
        return placeLock(name, false);
    }

    /** {@link #placeLock(String)}; {@code pinned}: on the primary. */
    public CompletableFuture<ClientSession> placeLock(String name, boolean pinned) {
        SessionLostException lost = primary.lost();
        if (lost != null) {
            return CompletableFuture.failedFuture(lost);
        }
        synchronized (this) {
            for (ClientSession s : sessions) {
                if (single || pinned || (s.lost() == null && !s.lockAcquiring.contains(name) && locks.get(name) != s)) {
                    CompletableFuture<Void> doubt = s.locksInDoubt.get(name);
                    if (doubt != null) {
                        // Only here for the one session of a single or pinned set: an acquire in doubt on
                        // it is settled first, or the new one could be told ALREADY_HELD for the grant the
                        // settling is about to release.
                        return doubt.thenCompose(v -> placeLock(name, pinned));
                    }
                    s.lockAcquiring.add(name);
                    return CompletableFuture.completedFuture(s);
                }
            }
        }
        return ClientCore.map(openExtra(), s -> {
            synchronized (this) {
                s.lockAcquiring.add(name);
                return s;
            }
        });
    }

    /** The outcome of a placed lock acquire ({@code null} status: the call failed, refused). */
    public synchronized void lockAcquired(ClientSession s, String name, LockStatus status) {
        if (status == LockStatus.QUEUED) {
            return;
        }
        if (!s.locksInDoubt.containsKey(name)) {
            s.lockAcquiring.remove(name);
        }
        if (status == LockStatus.LOCKED || status == LockStatus.ALREADY_HELD) {
            if (locks.put(name, s) != s) {
                s.locksHeld++;
            }
        }
        idleCheck(s);
    }

    /**
     * A placed lock acquire got no answer and is being settled: the session keeps counting as
     * acquiring the lock (no other acquire of it is placed there) until {@link #lockCleared}.
     */
    public synchronized void lockInDoubt(ClientSession s, String name) {
        s.lockAcquiring.add(name);
        s.locksInDoubt.putIfAbsent(name, new CompletableFuture<>());
    }

    /** The lock acquire in doubt on {@code s} is settled; acquires waiting for that go on. */
    public void lockCleared(ClientSession s, String name) {
        CompletableFuture<Void> settled;
        synchronized (this) {
            s.lockAcquiring.remove(name);
            settled = s.locksInDoubt.remove(name);
            idleCheck(s);
        }
        if (settled != null) {
            settled.complete(null);
        }
    }

    /** Whether the client knows {@code s} to hold lock {@code name} (its owner was told). */
    public synchronized boolean holdsLock(ClientSession s, String name) {
        return locks.get(name) == s;
    }

    /** The session a lock release goes to: the holder's, else one waiting for it, else the primary. */
    public synchronized ClientSession routeLockRelease(String name) {
        ClientSession holder = locks.get(name);
        if (holder != null) {
            if (holder.lost() != null) {
                locks.remove(name); // the release fails with the loss; the server released the lock
            }
            return holder;
        }
        for (int i = sessions.size() - 1; i >= 0; i--) {
            if (sessions.get(i).lockAcquiring.contains(name)) {
                return sessions.get(i);
            }
        }
        return primary;
    }

    /** A lock release's reply. */
    public synchronized void lockReleased(ClientSession s, String name, LockStatus status) {
        if ((status == LockStatus.UNLOCKED || status == LockStatus.NOT_HELD) && locks.get(name) == s) {
            locks.remove(name);
            s.locksHeld--;
            idleCheck(s);
        }
    }

    // ---- events and losses ----------------------------------------------------------------------

    private synchronized void ownEvent(BatonEvent e) {
        if (e instanceof BatonEvent.PoolWaitEnded p) {
            for (PoolEntry entry : pool) {
                if (entry.session.sessionId() == p.session() && entry.requestId == p.requestId() && entry.fence == 0) {
                    entry.session.poolAcquiring = false;
                    if (p.status() == PoolStatus.LOCKED) {
                        entry.fence = p.fence();
                    } else {
                        dropPool(entry);
                    }
                    return;
                }
            }
        } else if (e instanceof BatonEvent.LockWaitEnded l) {
            for (ClientSession s : sessions) {
                if (s.sessionId() == l.session()) {
                    lockAcquired(s, l.name(), l.status());
                    return;
                }
            }
        }
    }

    /**
     * A session was lost: it takes no more acquires. Its holds stay known, so that their releases go
     * to it and fail with the loss, telling their holders.
     */
    private synchronized void lost(ClientSession s) {
        pool.removeIf(e -> e.session == s && e.fence == 0);
        s.poolSlots = 0;
        s.locksHeld = 0;
        s.lockAcquiring.clear();
        if (s != primary) {
            sessions.remove(s);
        }
    }

    // ---- extra sessions -------------------------------------------------------------------------

    private CompletableFuture<ClientSession> openExtra() {
        return ClientCore.map(ClientSession.open(core, UUID.randomUUID().toString(), false), s -> {
            boolean keep;
            synchronized (this) {
                keep = !closed;
                if (keep) {
                    sessions.add(s);
                    watch(s);
                }
            }
            if (!keep) {
                ForkJoinPool.commonPool().execute(s::close);
                throw new dev.baton.client.BatonClosedException("the Baton client is closed");
            }
            return s;
        });
    }

    private void idleCheck(ClientSession s) {
        if (isIdle(s)) {
            s.idleSinceNanos = System.nanoTime();
        }
    }

    private static boolean isIdle(ClientSession s) {
        return s.poolSlots == 0 && !s.poolAcquiring && s.lockAcquiring.isEmpty() && s.locksHeld == 0;
    }

    /** Closes extra sessions that have had nothing on them for the idle time. */
    private void closeIdle() {
        List<ClientSession> surplus = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            for (Iterator<ClientSession> it = sessions.iterator(); it.hasNext(); ) {
                ClientSession s = it.next();
                if (s != primary && isIdle(s) && now - s.idleSinceNanos >= idleCloseNanos) {
                    it.remove();
                    surplus.add(s);
                }
            }
        }
        for (ClientSession s : surplus) {
            ForkJoinPool.commonPool().execute(s::close);
        }
    }

    /** Closes every session. */
    public void close() {
        List<ClientSession> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(sessions);
        }
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        // in parallel: each close waits up to about two seconds for an unreachable cluster
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (ClientSession s : all) {
            if (s != primary) {
                closing.add(CompletableFuture.runAsync(s::close, ForkJoinPool.commonPool()));
            }
        }
        primary.close();
        closing.forEach(CompletableFuture::join);
    }
}
