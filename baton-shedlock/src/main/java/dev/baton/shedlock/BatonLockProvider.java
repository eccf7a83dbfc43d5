package dev.baton.shedlock;

import dev.baton.client.BatonClient;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.LockReply;
import dev.baton.client.LockStatus;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import net.javacrumbs.shedlock.core.ExtensibleLockProvider;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockProvider;
import net.javacrumbs.shedlock.core.SimpleLock;

/**
 * A ShedLock {@link LockProvider} over Baton's fenced locks: a scheduled task runs on one process of
 * the cluster's clients at a time.
 *
 * <pre>{@code
 * @Bean
 * LockProvider lockProvider(BatonClient baton) {
 *     return new BatonLockProvider(baton);
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@link #lock} asks the cluster once and does not wait (ShedLock's semantics): it returns the
 *       lock, or empty if another process, or another task of this one, holds it.</li>
 *   <li>The lock is held by a session of the client, so it ends with that session: if the process dies
 *       or loses contact with the cluster, the cluster frees the lock when the session's lease runs
 *       out (10 s by default), not when {@code lockAtMostFor} ends.</li>
 *   <li>{@code lockAtMostFor} is enforced by this process: a timer releases the lock when it has been
 *       held that long, even if the task still runs.</li>
 *   <li>{@code lockAtLeastFor}: {@link SimpleLock#unlock()} before it has passed since the lock was
 *       taken schedules the release for then; the task's thread does not wait.</li>
 *   <li>Both are measured on this process's monotonic clock from the moment the cluster granted the
 *       lock; there is no wall-clock time stored anywhere, so clock differences between machines do not
 *       matter.</li>
 *   <li>{@link SimpleLock#extend} works (this is an {@link ExtensibleLockProvider}): it sets new
 *       durations counted from now, and the lock it returns replaces the extended one.</li>
 * </ul>
 *
 * <p>The lock's name on the cluster is the provider's prefix followed by ShedLock's lock name
 * ({@code "shedlock/"} by default), so that ShedLock's names do not collide with other users of Baton
 * locks.
 */
public final class BatonLockProvider implements ExtensibleLockProvider {
    private static final System.Logger LOG = System.getLogger(BatonLockProvider.class.getName());

    /** The prefix of the lock names unless another is given. */
    public static final String DEFAULT_PREFIX = "shedlock/";

    /** One daemon thread for every provider's delayed and forced releases; they only send a call. */
    private static final ScheduledThreadPoolExecutor TIMER = newTimer();

    private final BatonClient client;
    private final String prefix;
    /** The names this provider holds now, so that a second task of this process is refused at once. */
    private final ConcurrentHashMap<String, Grant> held = new ConcurrentHashMap<>();

    /** A provider whose lock names start with {@value #DEFAULT_PREFIX}. */
    public BatonLockProvider(BatonClient client) {
        this(client, DEFAULT_PREFIX);
    }

    /**
     * @param client the client whose sessions hold the locks; the provider does not close it
     * @param prefix put before every lock name; may be empty
     */
    public BatonLockProvider(BatonClient client, String prefix) {
        this.client = Objects.requireNonNull(client, "client");
        this.prefix = Objects.requireNonNull(prefix, "prefix");
    }

    private static ScheduledThreadPoolExecutor newTimer() {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "baton-shedlock-release");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        return e;
    }

    /**
     * Takes the lock if it is free now.
     *
     * @return the lock, or empty if it is held elsewhere (or by another task through this provider)
     * @throws dev.baton.client.BatonException if the cluster refused or could not be reached
     */
    @Override
    public Optional<SimpleLock> lock(LockConfiguration config) {
        String name = prefix + config.getName();
        Grant placeholder = new Grant(name);
        if (held.putIfAbsent(name, placeholder) != null) {
            return Optional.empty();
        }
        LockReply reply;
        try {
            reply = client.locks().acquire(name, Duration.ZERO);
        } catch (BatonUnavailableException e) {
            // The outcome is unknown: the lock may be ours. Release it by name, in the background.
            releaseByName(name, placeholder);
            throw e;
        } catch (RuntimeException e) {
            held.remove(name, placeholder);
            throw e;
        }
        if (reply.status() != LockStatus.LOCKED && reply.status() != LockStatus.ALREADY_HELD) {
            held.remove(name, placeholder);
            return Optional.empty();
        }
        placeholder.granted(reply.fence(), System.nanoTime());
        return Optional.of(new BatonSimpleLock(placeholder, config.getLockAtMostFor(), config.getLockAtLeastFor()));
    }

    private void releaseByName(String name, Grant grant) {
        client.locks().releaseAsync(name).whenComplete((r, t) -> {
            if (t != null) {
                LOG.log(Level.DEBUG, "Releasing lock " + name + " after an unknown outcome failed", t);
            }
            held.remove(name, grant);
        });
    }

    /** The prefix of the lock names. */
    public String prefix() {
        return prefix;
    }

    /** One grant of a name: its fence, and whether it has been released. */
    private final class Grant {
        final String name;
        volatile long fence;
        volatile long grantedNanos;
        final AtomicBoolean released = new AtomicBoolean();
        /** The pending release: at lockAtMostFor, or at lockAtLeastFor after unlock(). */
        ScheduledFuture<?> release;

        Grant(String name) {
            this.name = name;
        }

        void granted(long fence, long nanos) {
            this.fence = fence;
            this.grantedNanos = nanos;
        }

        synchronized void releaseAfter(long delayNanos) {
            if (released.get()) {
                return;
            }
            if (release != null) {
                release.cancel(false);
            }
            if (delayNanos <= 0) {
                release = null;
                releaseNow();
            } else {
                release = TIMER.schedule(this::releaseNow, delayNanos, TimeUnit.NANOSECONDS);
            }
        }

        /** Releases the grant on the cluster (once); the name is free in this process again after. */
        void releaseNow() {
            if (!released.compareAndSet(false, true)) {
                return;
            }
            client.locks().releaseAsync(name, fence).whenComplete((reply, failure) -> {
                if (failure != null) {
                    // The session lost it already, or the cluster cannot be reached: either way the
                    // lock ends with the session's lease at the latest.
                    LOG.log(Level.WARNING, "Releasing lock " + name + " (fence " + fence + ") failed: " + failure);
                } else if (reply.status() != LockStatus.UNLOCKED) {
                    LOG.log(Level.WARNING, "Lock " + name + " (fence " + fence + ") was no longer held: "
                            + reply.status());
                }
                held.remove(name, this);
            });
        }
    }

    /** What {@link #lock} returns: a grant with its durations. */
    private final class BatonSimpleLock implements SimpleLock {
        private final Grant grant;
        private final Duration lockAtLeastFor;
        /** lockAtLeastFor counts from here: the grant, or the last extension. */
        private final long startNanos;
        private final AtomicBoolean valid = new AtomicBoolean(true);

        BatonSimpleLock(Grant grant, Duration lockAtMostFor, Duration lockAtLeastFor) {
            this(grant, lockAtMostFor, lockAtLeastFor, grant.grantedNanos);
        }

        private BatonSimpleLock(Grant grant, Duration lockAtMostFor, Duration lockAtLeastFor, long startNanos) {
            this.grant = grant;
            this.lockAtLeastFor = lockAtLeastFor;
            this.startNanos = startNanos;
            grant.releaseAfter(startNanos + nanos(lockAtMostFor) - System.nanoTime());
        }

        @Override
        public void unlock() {
            if (!valid.compareAndSet(true, false)) {
                throw new IllegalStateException("lock " + grant.name + " was already unlocked or extended");
            }
            grant.releaseAfter(startNanos + nanos(lockAtLeastFor) - System.nanoTime());
        }

        /**
         * Holds the lock for {@code lockAtMostFor} from now instead (and at least {@code lockAtLeastFor}
         * from now). Empty if the lock was already released (its {@code lockAtMostFor} ran out).
         */
        @Override
        public Optional<SimpleLock> extend(Duration lockAtMostFor, Duration lockAtLeastFor) {
            if (!valid.compareAndSet(true, false)) {
                throw new IllegalStateException("lock " + grant.name + " was already unlocked or extended");
            }
            synchronized (grant) {
                if (grant.released.get()) {
                    return Optional.empty();
                }
                return Optional.of(new BatonSimpleLock(grant, lockAtMostFor, lockAtLeastFor, System.nanoTime()));
            }
        }

        @Override
        public String toString() {
            return "BatonSimpleLock[" + grant.name + ", fence " + grant.fence + "]";
        }
    }

    private static long nanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 4;
        }
    }
}
