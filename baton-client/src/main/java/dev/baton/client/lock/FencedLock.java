package dev.baton.client.lock;

import dev.baton.client.LockReply;
import dev.baton.client.LockStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonException;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.SessionLostException;
import dev.baton.client.SessionState;
import dev.baton.client.StaleFenceException;
import java.lang.System.Logger.Level;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.function.Consumer;

/**
 * A cluster-wide mutex with fencing tokens, over Baton's fenced locks ({@code locks().acquire},
 * {@code locks().release}), as a {@link Lock}.
 *
 * <pre>{@code
 * FencedLock lock = new FencedLock(baton, "invoice-run");
 * try (FencedLock.Handle held = lock.acquire()) {
 *     storage.write(invoice, held.fence());   // the resource rejects fences older than the newest it saw
 * }
 * }</pre>
 *
 * <h2>What it guarantees</h2>
 * <ul>
 *   <li><b>Mutual exclusion</b> between sessions (clients, processes, machines): at most one session
 *       holds a name at a time. Within one {@link BatonClient}, between threads: at most
 *       one thread holds the lock, through any {@code FencedLock} object of that client and name.</li>
 *   <li><b>Fences.</b> Every grant carries a {@linkplain #fence() fence} larger than every fence granted
 *       before on the cluster. A paused or partitioned ex-holder may still believe it holds the lock;
 *       only a resource that remembers the largest fence it has seen and rejects smaller ones is safe
 *       against it. See {@code docs/lock.md}.</li>
 *   <li><b>Losing the lock.</b> A grant lasts while the client's session lives. If the session is lost
 *       (lease expired, closed) the cluster releases the lock. This object notices within
 *       {@value #WATCH_INTERVAL_MS} ms of the client knowing it (it checks
 *       {@link BatonClient#sessionState()}), calls the {@linkplain #addLostListener lost listeners}
 *       once, and from then on {@link #unlock()} and {@link #fence()} throw {@link LockLostException}.
 *       The client itself learns of the loss only when a node tells it: while it cannot reach any
 *       node, the lock may already be lost ({@link SessionState#SUSPECT}) without anyone here
 *       knowing; fences are what make that safe.</li>
 * </ul>
 *
 * <h2>Differences from {@code java.util.concurrent.locks}</h2>
 * <ul>
 *   <li><b>Not reentrant</b>, like Baton's lock: acquiring again from the thread that holds it throws
 *       {@link IllegalStateException} (instead of deadlocking).</li>
 *   <li><b>Owned by a thread</b> for {@link #unlock()} and {@link #fence()} (like {@code ReentrantLock});
 *       a {@link Handle} may be closed from any thread.</li>
 *   <li>{@link #newCondition()} is not supported.</li>
 *   <li>Calls go to the cluster, so every method may throw a {@link BatonException}: the session is
 *       lost ({@link SessionLostException}), the client is closed, or no node answered within the
 *       client's {@code retryFor} ({@link BatonUnavailableException}; the session may have been granted
 *       the lock, so it is released in the background, as is a lock whose {@code unlock()} got no
 *       answer). Meanwhile other threads of the client wait for the lock locally.</li>
 *   <li>Waiting is done by the cluster, in chunks of at most a minute; between chunks another waiter
 *       may overtake this one.</li>
 * </ul>
 */
public final class FencedLock implements Lock {
    private static final System.Logger LOG = System.getLogger(FencedLock.class.getName());

    /** How often a held lock checks whether its client's session was lost. */
    public static final long WATCH_INTERVAL_MS = 100;
    /** Longest single wait asked of the cluster; {@link #lock()} repeats it. */
    static final long WAIT_CHUNK_MS = 60_000;
    /** Pause between background attempts to release a lock whose release got no answer. */
    private static final Executor LATER = CompletableFuture.delayedExecutor(500, TimeUnit.MILLISECONDS);
    /** One daemon thread watching every held lock's session. */
    private static final ScheduledThreadPoolExecutor WATCHER = newWatcher();
    /** The local gate of each (client, name); a gate does not refer to its client. */
    private static final Map<BatonClient, Map<String, WeakReference<Gate>>> GATES = new WeakHashMap<>();

    /**
     * Lets one thread of the process at a time hold a (client, name) or be acquiring it. The permit is
     * taken before asking the cluster and given back when the lock is released (or, after an
     * unknown outcome, once the background release got an answer).
     */
    private static final class Gate {
        final Semaphore permit = new Semaphore(1, true);
        /** The grant held through this gate, until unlocked (also after it was lost). */
        volatile Grant current;
    }

    /** One grant of the lock. */
    private static final class Grant {
        final FencedLock lock;
        final long fence;
        final Thread owner;
        final AtomicBoolean ended = new AtomicBoolean();
        final AtomicReference<LockLostException> lost = new AtomicReference<>();
        volatile ScheduledFuture<?> watch;

        Grant(FencedLock lock, long fence, Thread owner) {
            this.lock = lock;
            this.fence = fence;
            this.owner = owner;
        }
    }

    private final BatonClient client;
    private final String name;
    private final Gate gate;
    private final List<Consumer<LockLostException>> lostListeners = new CopyOnWriteArrayList<>();

    /**
     * The lock {@code name} for the session of {@code client}. Objects made for the same client and
     * name share their local state; making one does not contact the cluster.
     */
    public FencedLock(BatonClient client, String name) {
        this.client = Objects.requireNonNull(client, "client");
        this.name = Objects.requireNonNull(name, "name");
        this.gate = gate(client, name);
    }

    private static ScheduledThreadPoolExecutor newWatcher() {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "baton-fenced-lock-watcher");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        return e;
    }

    private static Gate gate(BatonClient client, String name) {
        synchronized (GATES) {
            Map<String, WeakReference<Gate>> byName = GATES.computeIfAbsent(client, c -> new HashMap<>());
            WeakReference<Gate> ref = byName.get(name);
            Gate g = ref == null ? null : ref.get();
            if (g == null) {
                byName.values().removeIf(r -> r.get() == null);
                g = new Gate();
                byName.put(name, new WeakReference<>(g));
            }
            return g;
        }
    }

    // ---- acquiring ----------------------------------------------------------------------------------

    /**
     * Acquires the lock, waiting as long as it takes. Not interruptible (as {@link Lock#lock()}
     * requires): an interrupt is remembered and the thread's flag set again when this returns.
     *
     * @throws IllegalStateException if the current thread holds the lock already (not reentrant)
     * @throws BatonException        if the cluster refused or could not be reached (see the class comment)
     */
    @Override
    public void lock() {
        try {
            acquire(-1, false);
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible wait was interrupted", e);
        }
    }

    /**
     * Acquires the lock, waiting as long as it takes unless the thread is interrupted. An interrupt
     * while the cluster has the request queued cancels it (in the background, like an unknown outcome).
     *
     * @throws InterruptedException  if the thread was interrupted before or while waiting
     * @throws IllegalStateException if the current thread holds the lock already
     * @throws BatonException        if the cluster refused or could not be reached
     */
    @Override
    public void lockInterruptibly() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        acquire(-1, true);
    }

    /**
     * Acquires the lock if it is free now (one request to the cluster, which does not queue it).
     *
     * @return true if acquired; false if another session (or another thread of this client) holds it
     * @throws IllegalStateException if the current thread holds the lock already
     * @throws BatonException        if the cluster refused or could not be reached
     */
    @Override
    public boolean tryLock() {
        checkNotHeldByCurrentThread();
        if (!gate.permit.tryAcquire()) {
            return false;
        }
        try {
            if (askCluster(0, false) != null) {
                return true;
            }
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible call was interrupted", e);
        }
        gate.permit.release();
        return false;
    }

    /**
     * Acquires the lock if it becomes free within {@code time}. Waiting for another thread of this
     * client and for the cluster both count against the time.
     *
     * @return true if acquired, false if the time ran out
     * @throws InterruptedException  if the thread was interrupted before or while waiting
     * @throws IllegalStateException if the current thread holds the lock already
     * @throws BatonException        if the cluster refused or could not be reached
     */
    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        // Capped so that "now + timeout" cannot overflow (toNanos saturates at Long.MAX_VALUE).
        return acquire(Math.min(Math.max(0, unit.toNanos(time)), Long.MAX_VALUE / 4), true) != null;
    }

    /**
     * {@link #lock()}, returning the grant as a handle for try-with-resources.
     *
     * @throws IllegalStateException if the current thread holds the lock already
     * @throws BatonException        if the cluster refused or could not be reached
     */
    public Handle acquire() {
        try {
            return new Handle(acquire(-1, false));
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible wait was interrupted", e);
        }
    }

    /**
     * {@link #tryLock(long, TimeUnit)}, returning the grant as a handle for try-with-resources.
     *
     * @throws TimeoutException      if the lock did not become free within {@code timeout}
     * @throws InterruptedException  if the thread was interrupted before or while waiting
     * @throws IllegalStateException if the current thread holds the lock already
     * @throws BatonException        if the cluster refused or could not be reached
     */
    public Handle acquire(Duration timeout) throws InterruptedException, TimeoutException {
        Objects.requireNonNull(timeout, "timeout");
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        long nanos = timeout.isNegative() ? 0 : saturatedNanos(timeout);
        Grant g = acquire(nanos, true);
        if (g == null) {
            throw new TimeoutException("lock " + name + " not acquired within " + timeout);
        }
        return new Handle(g);
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 4;
        }
    }

    /**
     * Takes the local permit, then asks the cluster until granted or out of time.
     *
     * @param timeoutNanos negative: no limit
     * @return the grant, or {@code null} if the time ran out
     */
    private Grant acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        checkNotHeldByCurrentThread();
        boolean bounded = timeoutNanos >= 0;
        long deadline = System.nanoTime() + (bounded ? timeoutNanos : 0);
        if (!bounded) {
            if (interruptible) {
                gate.permit.acquire();
            } else {
                gate.permit.acquireUninterruptibly();
            }
        } else if (!gate.permit.tryAcquire(timeoutNanos, TimeUnit.NANOSECONDS)) {
            return null;
        }
        // The permit is kept across chunks: this thread is the one of the process waiting on the cluster.
        while (true) {
            long waitMs = WAIT_CHUNK_MS;
            if (bounded) {
                waitMs = Math.min(waitMs, TimeUnit.NANOSECONDS.toMillis(Math.max(0, deadline - System.nanoTime())));
            }
            Grant g = askCluster(waitMs, interruptible);
            if (g != null) {
                return g;
            }
            if (bounded && deadline - System.nanoTime() <= 0) {
                gate.permit.release();
                return null;
            }
        }
    }

    /**
     * One acquire request, the permit held. Returns the grant, or {@code null} if the lock stayed busy
     * (the caller still has the permit). On failure the permit is given back, or kept by a background
     * release when the outcome is unknown.
     */
    private Grant askCluster(long waitMs, boolean interruptible) throws InterruptedException {
        LockReply reply;
        try {
            CompletableFuture<LockReply> call = client.session().locks().acquireAsync(name, Duration.ofMillis(waitMs));
            reply = interruptible ? awaitInterruptibly(call) : awaitUninterruptibly(call);
        } catch (InterruptedException | BatonUnavailableException e) {
            // The session may hold the lock or still be queued for it: release it by name, then let go.
            releaseInBackground(0);
            throw e;
        } catch (RuntimeException | Error e) {
            gate.permit.release();
            throw e;
        }
        switch (reply.status()) {
            case LOCKED:
            case ALREADY_HELD: // the session held it already (e.g. a retried grant): it is ours
                return grant(reply.fence());
            case BUSY:
            case TIMEOUT:
            case CANCELLED: // the session's wait was cancelled (a release of the name meanwhile): not granted
                return null;
            default:
                gate.permit.release();
                throw new IllegalStateException("unexpected reply to an acquire of lock " + name + ": " + reply);
        }
    }

    private Grant grant(long fence) {
        Grant g = new Grant(this, fence, Thread.currentThread());
        gate.current = g;
        g.watch = WATCHER.scheduleWithFixedDelay(() -> {
            ScheduledFuture<?> self = g.watch;
            if ((checkSession(g) != null || g.ended.get()) && self != null) {
                self.cancel(false);
            }
        }, WATCH_INTERVAL_MS, WATCH_INTERVAL_MS, TimeUnit.MILLISECONDS);
        return g;
    }

    private void checkNotHeldByCurrentThread() {
        Grant g = gate.current;
        if (g != null && g.owner == Thread.currentThread()) {
            throw new IllegalStateException("FencedLock " + name + " is not reentrant: this thread holds it already"
                    + " (fence " + g.fence + ")");
        }
    }

    // ---- releasing ------------------------------------------------------------------------------------

    /**
     * Releases the lock held by the current thread: the cluster hands it to the next waiter with a new
     * fence. If the cluster does not answer, the release is retried in the background (other threads
     * of this client wait until it is done) and this returns normally.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock (through this
     *                                      object)
     * @throws LockLostException            if the lock was lost meanwhile (session lost, client closed,
     *                                      or released elsewhere); it is not held any more either way
     */
    @Override
    public void unlock() {
        Grant g = gate.current;
        if (g == null || g.lock != this || g.owner != Thread.currentThread()) {
            throw new IllegalMonitorStateException("FencedLock " + name + " is not held by this thread");
        }
        release(g);
    }

    private void release(Grant g) {
        if (g.ended.get()) {
            return;
        }
        LockLostException lost = checkSession(g); // before ending the grant, so that the listeners hear of it
        if (!g.ended.compareAndSet(false, true)) {
            return;
        }
        g.watch.cancel(false);
        gate.current = null;
        if (lost != null) {
            gate.permit.release();
            throw lost;
        }
        LockReply reply;
        try {
            reply = awaitUninterruptibly(client.session().locks().releaseAsync(name, g.fence));
        } catch (BatonUnavailableException e) {
            LOG.log(Level.WARNING, "Unlocking " + name + " (fence " + g.fence + ") got no answer; retrying in the"
                    + " background", e);
            releaseInBackground(g.fence);
            return;
        } catch (StaleFenceException | SessionLostException | BatonClosedException e) {
            gate.permit.release();
            throw lostNow(g, e);
        } catch (RuntimeException | Error e) {
            gate.permit.release();
            throw e;
        }
        gate.permit.release();
        if (reply.status() != LockStatus.UNLOCKED) {
            throw lostNow(g, new IllegalStateException("the cluster answered " + reply.status()));
        }
    }

    /**
     * Keeps the permit until the cluster answers a release of {@code fence} (0: whatever the session
     * holds or waits for under this name), then gives it back.
     */
    private void releaseInBackground(long fence) {
        CompletableFuture<LockReply> call;
        try {
            call = client.session().locks().releaseAsync(name, fence);
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        call.whenComplete((reply, failure) -> {
            if (unwrap(failure) instanceof BatonUnavailableException) {
                LATER.execute(() -> releaseInBackground(fence));
                return;
            }
            if (failure != null) {
                // Stale fence, lost session, closed client: nothing left to release.
                LOG.log(Level.DEBUG, "Background release of lock " + name + " ended", unwrap(failure));
            }
            gate.permit.release();
        });
    }

    // ---- losing -----------------------------------------------------------------------------------------

    /** The loss of {@code g}, if it is lost or its session is known lost or closed; else {@code null}. */
    private LockLostException checkSession(Grant g) {
        LockLostException lost = g.lost.get();
        if (lost != null || g.ended.get()) {
            return lost; // a grant released by unlock() is not lost later
        }
        SessionState state = client.sessionState();
        if (state == SessionState.LOST || state == SessionState.CLOSED) {
            return lostNow(g, null);
        }
        return null;
    }

    /** Records the loss of {@code g} (once) and tells the listeners of the object that acquired it. */
    private LockLostException lostNow(Grant g, Throwable cause) {
        SessionState state = client.sessionState();
        String why;
        if (cause instanceof BatonClosedException || state == SessionState.CLOSED) {
            why = "the client was closed, which released it";
        } else if (cause == null || cause instanceof SessionLostException || state == SessionState.LOST) {
            why = "session " + Long.toUnsignedString(client.sessionId()) + " was lost, which released it";
        } else {
            why = "it was released elsewhere (" + cause.getMessage() + ")";
        }
        LockLostException e = new LockLostException(name, g.fence,
                "lock " + name + " (fence " + g.fence + ") was lost: " + why, cause);
        if (!g.lost.compareAndSet(null, e)) {
            return g.lost.get();
        }
        ScheduledFuture<?> watch = g.watch;
        if (watch != null) {
            watch.cancel(false);
        }
        for (Consumer<LockLostException> listener : g.lock.lostListeners) {
            try {
                listener.accept(e);
            } catch (RuntimeException | Error t) {
                LOG.log(Level.WARNING, "A lost-lock listener of " + name + " failed", t);
            }
        }
        return e;
    }

    /**
     * Adds a listener told when a grant made through this object is known lost while held (see the
     * class comment): once per grant, on the watcher thread or on the thread that found out.
     * It is not told of locks released by {@link #unlock()}. Keep it short.
     */
    public void addLostListener(Consumer<LockLostException> listener) {
        lostListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Removes a listener added with {@link #addLostListener}. */
    public void removeLostListener(Consumer<LockLostException> listener) {
        lostListeners.remove(listener);
    }

    // ---- state ------------------------------------------------------------------------------------------

    /**
     * The fence of the grant the current thread holds: quote it to the resource the lock protects.
     *
     * @throws IllegalStateException if the current thread does not hold the lock through this object
     * @throws LockLostException     if the grant is known lost (its fence is stale)
     */
    public long fence() {
        Grant g = gate.current;
        if (g == null || g.lock != this || g.owner != Thread.currentThread()) {
            throw new IllegalStateException("FencedLock " + name + " is not held by this thread");
        }
        LockLostException lost = checkSession(g);
        if (lost != null) {
            throw lost;
        }
        return g.fence;
    }

    /**
     * True if the current thread holds the lock through this object and the grant is not known lost.
     * While the client cannot reach the cluster ({@link SessionState#SUSPECT}) this may still say true
     * for a lock the cluster has released.
     */
    public boolean isHeldByCurrentThread() {
        Grant g = gate.current;
        return g != null && g.lock == this && g.owner == Thread.currentThread() && checkSession(g) == null;
    }

    /** Not supported: a condition would need the lock to be reacquired on another node's signal. */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("FencedLock has no conditions");
    }

    /** The lock's name. */
    public String name() {
        return name;
    }

    /** The client whose session holds the lock. */
    public BatonClient client() {
        return client;
    }

    @Override
    public String toString() {
        Grant g = gate.current;
        return "FencedLock[" + name + (g == null ? "" : ", held with fence " + g.fence + " by " + g.owner.getName()
                + (g.lost.get() != null ? " (lost)" : "")) + "]";
    }

    // ---- waiting on futures ------------------------------------------------------------------------

    private static <T> T awaitUninterruptibly(CompletableFuture<T> call) {
        try {
            return call.join(); // join() waits through interrupts and sets the flag again
        } catch (CompletionException e) {
            throw rethrow(e.getCause());
        }
    }

    private static <T> T awaitInterruptibly(CompletableFuture<T> call) throws InterruptedException {
        try {
            return call.get();
        } catch (InterruptedException e) {
            call.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        t = unwrap(t);
        if (t instanceof Error error) {
            throw error;
        }
        if (t instanceof RuntimeException re) {
            re.fillInStackTrace(); // the calling thread's stack, as the client's blocking calls do
            return re;
        }
        return new CompletionException(t);
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    // ---- handle -------------------------------------------------------------------------------------

    /**
     * One grant of a {@link FencedLock}, from {@link FencedLock#acquire()}: its fence, and
     * {@link #close()} to release it (from any thread).
     */
    public final class Handle implements AutoCloseable {
        private final Grant grant;

        private Handle(Grant grant) {
            this.grant = grant;
        }

        /**
         * This grant's fence.
         *
         * @throws IllegalStateException if the handle was closed
         * @throws LockLostException     if the grant is known lost
         */
        public long fence() {
            if (grant.ended.get() && grant.lost.get() == null) {
                throw new IllegalStateException("lock " + name + " (fence " + grant.fence + ") was released");
            }
            LockLostException lost = checkSession(grant);
            if (lost != null) {
                throw lost;
            }
            return grant.fence;
        }

        /** The lock this grant is of. */
        public FencedLock lock() {
            return FencedLock.this;
        }

        /** True once the grant is known lost. */
        public boolean isLost() {
            return checkSession(grant) != null;
        }

        /**
         * Releases the grant, like {@link FencedLock#unlock()} but from any thread. Does nothing if it
         * was released already.
         *
         * @throws LockLostException if the grant was lost while held (reported once)
         */
        @Override
        public void close() {
            release(grant);
        }

        @Override
        public String toString() {
            return "FencedLock.Handle[" + name + ", fence " + grant.fence + "]";
        }
    }
}
