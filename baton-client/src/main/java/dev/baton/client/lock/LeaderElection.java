package dev.baton.client.lock;

import dev.baton.client.BatonClient;
import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonSession;
import dev.baton.client.LockInfo;
import dev.baton.client.LockReply;
import dev.baton.client.LockStatus;
import dev.baton.client.SessionLostException;
import dev.baton.client.SessionState;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Leader election among the processes that contend for the same name, like Curator's
 * {@code LeaderLatch} or etcd's election: the contender whose session holds Baton's fenced lock of
 * that name is the leader, and the lock's fence is the fence of its term, which the resources the
 * leader writes to check (they refuse a write quoting a smaller fence than the largest they saw).
 *
 * <pre>{@code
 * LeaderElection election = LeaderElection.builder(baton, "scheduler")
 *         .listener(new LeaderElection.Listener() {
 *             public void gained(long fence) { scheduler.start(fence); }
 *             public void lost() { scheduler.stop(); }
 *         })
 *         .build();
 * election.start();
 * ...
 * election.close();   // gives up: lost() if it led, then the next contender leads
 * }</pre>
 *
 * <h2>How it works</h2>
 * Each election contends on a session of its own ({@link BatonClient#newSession()}), on one daemon
 * thread, waiting on the cluster for the lock until it is granted. Before {@link Listener#gained} it
 * confirms the grant with a write of that session (a try-acquire of the lock, which the cluster answers
 * {@link LockStatus#ALREADY_HELD} with the same fence), and it repeats that confirmation every quarter
 * of the session's lease while it leads. A write of a session renews its lease on the cluster's leader,
 * so a confirmation sent at time {@code t} and answered proves the session cannot expire before
 * {@code t + ttl} (and the lock cannot go to anyone else before then, unless it is released
 * explicitly). The leader therefore counts itself leader until <em>its last answered confirmation's
 * send time + ttl - margin</em>, and calls {@link Listener#lost} as soon as that passes without a newer
 * answer: before the cluster can expire the session and grant the lock to the next contender.
 *
 * <h2>When leadership is lost</h2>
 * <ul>
 *   <li>the confirmations stop being answered (the cluster is unreachable, or too slow) until the
 *       confirmed time runs out: {@code lost()} is called before the session's lease can run out on
 *       the cluster;</li>
 *   <li>the session ends (closed by an operator, or found expired) or the lock is released by name
 *       elsewhere: {@code lost()} is called as soon as the election learns it (within about
 *       {@value #CHECK_INTERVAL_MS} ms of the client knowing the session lost, or at the next
 *       confirmation), which is <em>after</em> the cluster may have granted the lock to another
 *       contender: the fence is what protects the resources then;</li>
 *   <li>{@link #close()}: {@code lost()} is called, then the lock is released.</li>
 * </ul>
 * After a loss the election contends again (on a new session if its session ended), until closed. If
 * its session still held the lock all along (confirmations were only late), it leads again with the
 * same fence: nobody else led in between.
 *
 * <h2>What is not guaranteed</h2>
 * The deadline is kept by this process's clock and threads. A process that is paused (GC, a stopped
 * VM, swapping) past its deadline, or whose clock runs more than the margin slower than the cluster
 * leader's, can still believe it leads while another contender does. As with any lease-based leader
 * election, only the fence makes that safe: quote {@link #fence()} to every resource the leader
 * changes, and have the resource refuse smaller fences.
 *
 * <p>Listener calls are made on the election's thread, one at a time, {@code gained} and {@code lost}
 * alternating; keep them short (start or stop work elsewhere). Methods of this class are safe to call
 * from any thread, the listener included.
 */
public final class LeaderElection implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(LeaderElection.class.getName());

    /** How often the election's thread looks at its session's state while waiting. */
    public static final long CHECK_INTERVAL_MS = 100;
    /** Longest single wait for the lock asked of the cluster; the wait is repeated. */
    private static final Duration WAIT_CHUNK = Duration.ofSeconds(30);
    /** Pause before contending again after a failure, so a failing cluster is not hammered. */
    private static final long RETRY_PAUSE_MS = 500;
    /** For {@link #waitUntil}: no deadline but the check interval. */
    private static final long NO_DEADLINE = Long.MAX_VALUE;

    /** Told when this contender becomes leader and when it stops being leader. */
    public interface Listener {
        /**
         * This contender leads, in the term of this fence (larger than every fence granted before on the
         * cluster). Quote it to the resources the leader writes to.
         */
        void gained(long fence);

        /**
         * This contender no longer leads (or can no longer be sure it does): stop acting as leader, do
         * not quote the fence any more. Called before another contender can be granted the lock unless
         * the session was ended or the lock released from outside (see the class comment).
         */
        void lost();
    }

    private final BatonClient client;
    private final String name;
    private final Listener listener;
    private final Duration margin;

    private final Object monitor = new Object();
    private Thread thread; // guarded by monitor
    private boolean started; // guarded by monitor
    private volatile boolean closed;
    private volatile BatonSession session;

    /** The fence of the current term, valid while {@link #leading} is true. */
    private volatile long fence;
    private volatile boolean leading;
    /** {@link System#nanoTime()} until which leadership is confirmed. */
    private volatile long confirmedUntil;

    private LeaderElection(Builder b) {
        this.client = b.client;
        this.name = b.name;
        this.listener = b.listener;
        this.margin = b.margin;
    }

    /** A builder for an election among the contenders that use this {@code name}. */
    public static Builder builder(BatonClient client, String name) {
        return new Builder(client, name);
    }

    /** Starts contending in the background. Once only. */
    public void start() {
        synchronized (monitor) {
            if (closed) {
                throw new IllegalStateException("the election " + name + " is closed");
            }
            if (started) {
                throw new IllegalStateException("the election " + name + " was already started");
            }
            started = true;
            thread = new Thread(this::run, "baton-election-" + name);
            thread.setDaemon(true);
            thread.start();
        }
    }

    /** The election's name (the name of the lock the contenders contend for). */
    public String name() {
        return name;
    }

    /** True while this contender leads and its leadership is confirmed (see the class comment). */
    public boolean isLeader() {
        return leading && System.nanoTime() - confirmedUntil < 0;
    }

    /**
     * The fence of the current term.
     *
     * @throws IllegalStateException if this contender does not lead
     */
    public long fence() {
        long f = fence;
        if (!isLeader()) {
            throw new IllegalStateException("not the leader of " + name);
        }
        return f;
    }

    /** The id of the session this contender contends with, or empty before it has one. */
    public OptionalLong sessionId() {
        BatonSession s = session;
        return s == null ? OptionalLong.empty() : OptionalLong.of(s.sessionId());
    }

    /**
     * Who leads, as the cluster sees it now: the lock's holding session and fence (a read; compare the
     * holder with {@link #sessionId()}). Empty when nobody holds the lock.
     */
    public java.util.Optional<LockInfo> currentLeader() {
        LockInfo info = client.locks().get(name);
        return info.holder() == 0 ? java.util.Optional.empty() : java.util.Optional.of(info);
    }

    /**
     * Stops contending: if this contender leads, {@link Listener#lost()} is called (on the election's
     * thread), and the election's session is closed, which releases the lock (so the next contender is
     * granted it at once) or cancels the wait for it. Waits up to a few seconds for that unless called
     * from the listener (then it happens when the listener returns). Idempotent.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (monitor) {
            if (closed) {
                return;
            }
            closed = true;
            t = thread;
            monitor.notifyAll();
        }
        if (t == null) {
            return;
        }
        if (t == Thread.currentThread()) {
            return; // the thread ends the term and closes the session when the listener returns
        }
        BatonSession s = session;
        try {
            t.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive() && s != null && !leading) {
            // the thread is stuck in a call (not in the listener of a term): end the session from here;
            // a leader's session is closed by the thread itself, after lost()
            s.close();
        }
    }

    // ---- the election's thread ------------------------------------------------------------------

    private void run() {
        try {
            while (!closed) {
                BatonSession s = ensureSession();
                if (s == null) {
                    continue;
                }
                LockReply granted = contend(s);
                if (granted == null) {
                    continue;
                }
                lead(s, granted.fence());
            }
        } finally {
            endTerm();
            BatonSession s = session;
            if (s != null) {
                s.close();
            }
        }
    }

    /** The election's session, opening a new one if it has none or it ended; null after a pause if that failed. */
    private BatonSession ensureSession() {
        BatonSession s = session;
        if (s != null) {
            SessionState st = s.sessionState();
            if (st == SessionState.ALIVE || st == SessionState.SUSPECT) {
                return s;
            }
            s.close();
            session = null;
        }
        try {
            s = client.newSession();
        } catch (BatonClosedException e) {
            closed = true;
            return null;
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Leader election {0}: could not open a session: {1}", name, e.toString());
            pause(RETRY_PAUSE_MS);
            return null;
        }
        session = s;
        if (closed) {
            return null; // run()'s finally closes it
        }
        return s;
    }

    /** Waits for the lock on {@code s}; the grant, or null if closed, the session ended or the wait failed. */
    private LockReply contend(BatonSession s) {
        CompletableFuture<LockReply> acquire = s.locks().acquireAsync(name, WAIT_CHUNK);
        LockReply r = awaitAnswer(s, acquire, NO_DEADLINE);
        if (r == null) {
            return null;
        }
        if (r.status() == LockStatus.LOCKED || r.status() == LockStatus.ALREADY_HELD) {
            return r;
        }
        return null; // TIMEOUT: the wait chunk ended; ask again
    }

    /**
     * Leads with {@code fence} once a confirmation is answered, until a confirmation fails or its time
     * runs out, the session ends, or the election is closed.
     */
    private void lead(BatonSession s, long grantFence) {
        long period = s.sessionTtl().toNanos() / 4;
        CompletableFuture<LockReply> inflight = null;
        long inflightSent = 0;
        long nextConfirm = System.nanoTime();
        while (!closed) {
            long now = System.nanoTime();
            if (inflight == null && now - nextConfirm >= 0) {
                inflightSent = now;
                inflight = s.locks().acquireAsync(name, Duration.ZERO);
                inflight.whenComplete((r, t) -> wake());
            }
            if (inflight != null && inflight.isDone()) {
                LockReply r;
                try {
                    r = inflight.join();
                } catch (CompletionException | java.util.concurrent.CancellationException e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    inflight = null;
                    if (cause instanceof SessionLostException || cause instanceof BatonClosedException) {
                        return; // run() ends the term, then opens a new session or stops
                    }
                    LOG.log(Level.DEBUG, "Leader election {0}: confirmation failed: {1}", name, cause.toString());
                    nextConfirm = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RETRY_PAUSE_MS);
                    continue;
                }
                inflight = null;
                if (r.status() != LockStatus.ALREADY_HELD || r.fence() != grantFence) {
                    // released from outside (and perhaps granted again with a new fence): this term is over
                    endTerm();
                    if (r.status() == LockStatus.LOCKED) {
                        release(s, r.fence());
                    }
                    return;
                }
                long until = inflightSent + s.sessionTtl().toNanos() - margin.toNanos();
                if (until - confirmedUntil > 0 || !leading) {
                    confirmedUntil = until;
                }
                nextConfirm = inflightSent + period;
                if (!leading) {
                    fence = grantFence;
                    leading = true;
                    call(() -> listener.gained(grantFence));
                }
            }
            SessionState st = s.sessionState();
            if (st == SessionState.LOST || st == SessionState.CLOSED) {
                endTerm();
                return;
            }
            if (leading && System.nanoTime() - confirmedUntil >= 0) {
                LOG.log(Level.WARNING, "Leader election {0}: leadership not confirmed in time; giving it up", name);
                endTerm();
                // the session may still hold the lock: contend again, which finds it held (same term) or waits
                return;
            }
            long wakeAt = NO_DEADLINE;
            if (inflight == null) {
                wakeAt = nextConfirm;
            }
            if (leading && (wakeAt == NO_DEADLINE || confirmedUntil - wakeAt < 0)) {
                wakeAt = confirmedUntil;
            }
            waitUntil(wakeAt);
        }
    }

    /** Ends the current term, if any: {@code lost()}, once. */
    private void endTerm() {
        if (leading) {
            leading = false;
            call(listener::lost);
        }
    }

    /** Releases a grant that this election will not use (a new grant found while confirming). */
    private void release(BatonSession s, long grantFence) {
        try {
            s.locks().release(name, grantFence);
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "Leader election {0}: release failed: {1}", name, e.toString());
        }
    }

    /**
     * The answer of {@code f}, or null if it failed, the election was closed or the session ended before
     * (the session is then left for {@link #ensureSession()} to replace).
     */
    private LockReply awaitAnswer(BatonSession s, CompletableFuture<LockReply> f, long deadlineNanos) {
        f.whenComplete((r, t) -> wake());
        while (!f.isDone()) {
            if (closed) {
                return null; // the session's close cancels the wait on the cluster
            }
            SessionState st = s.sessionState();
            if (st == SessionState.LOST || st == SessionState.CLOSED) {
                return null;
            }
            waitUntil(deadlineNanos);
        }
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof BatonClosedException) {
                closed = true;
            } else if (!(cause instanceof SessionLostException)) {
                LOG.log(Level.DEBUG, "Leader election {0}: acquire failed: {1}", name, cause.toString());
                pause(RETRY_PAUSE_MS);
            }
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
            return null;
        }
    }

    private void wake() {
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /**
     * Waits until notified, {@code deadlineNanos} ({@link #NO_DEADLINE}: none), or {@value #CHECK_INTERVAL_MS}
     * ms, whichever is first.
     */
    private void waitUntil(long deadlineNanos) {
        long waitNanos = TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MS);
        if (deadlineNanos != NO_DEADLINE) {
            waitNanos = Math.min(waitNanos, deadlineNanos - System.nanoTime());
        }
        if (waitNanos <= 0) {
            return;
        }
        synchronized (monitor) {
            if (closed) {
                return;
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(monitor, waitNanos);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                closed = true;
            }
        }
    }

    private void pause(long ms) {
        waitUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms));
    }

    private void call(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Leader election " + name + ": the listener failed", e);
        }
    }

    /** Builds a {@link LeaderElection}. */
    public static final class Builder {
        private final BatonClient client;
        private final String name;
        private Listener listener = new Listener() {
            @Override
            public void gained(long fence) {}

            @Override
            public void lost() {}
        };
        private Duration margin;

        private Builder(BatonClient client, String name) {
            this.client = Objects.requireNonNull(client, "client");
            this.name = Objects.requireNonNull(name, "name");
            if (name.isEmpty()) {
                throw new IllegalArgumentException("the election's name is empty");
            }
        }

        /** Told of gained and lost leadership (default: nobody; use {@link #isLeader()}). */
        public Builder listener(Listener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * How long before the confirmed end of its lease the leader gives up (default: a fifth of the
         * session's TTL). It covers this process's thread scheduling and the difference between its
         * clock's rate and the cluster leader's; it must be less than half the TTL.
         */
        public Builder margin(Duration margin) {
            Objects.requireNonNull(margin, "margin");
            if (margin.isNegative() || margin.isZero()) {
                throw new IllegalArgumentException("the margin must be positive: " + margin);
            }
            this.margin = margin;
            return this;
        }

        public LeaderElection build() {
            Duration ttl = client.sessionTtl();
            if (margin == null) {
                margin = ttl.dividedBy(5);
            } else if (margin.multipliedBy(2).compareTo(ttl) >= 0) {
                throw new IllegalArgumentException("the margin " + margin + " is not less than half the session TTL " + ttl);
            }
            return new LeaderElection(this);
        }
    }
}
