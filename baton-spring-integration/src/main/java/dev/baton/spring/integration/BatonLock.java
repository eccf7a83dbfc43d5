package dev.baton.spring.integration;

import dev.baton.client.BatonException;
import dev.baton.client.lock.FencedLock;
import dev.baton.client.lock.LockLostException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link Lock} a {@link BatonLockRegistry} hands out for one key: a Baton fenced lock held by the
 * client's session, reentrant per thread.
 *
 * <p>A local {@link ReentrantLock} stands in front of the cluster's lock, as in Spring Integration's
 * Redis and JDBC registries: the first {@code lock()} of a thread takes the local lock, then the
 * cluster's; nested {@code lock()} calls of the same thread only count; the matching last
 * {@code unlock()} releases the cluster's lock, then the local one. Other threads of the process wait on
 * the local lock, other processes on the cluster.
 *
 * <p>{@link #fence()} gives the fence of the current hold: a number larger than that of every earlier
 * hold of this key on the cluster. Pass it to what the lock protects, so that it can refuse a writer
 * whose hold has already been lost (see Baton's lock documentation).
 *
 * <p>If the client's session is lost while a thread holds the lock, the cluster has released it and may
 * have granted it to another process. The thread still holds the local lock (so its other threads keep
 * waiting) until it calls {@link #unlock()}, which then frees the local lock and throws
 * {@link LockLostException} (an {@link IllegalMonitorStateException}), the way Spring's registries throw
 * when their store lost the lock. {@link #isLost()} tells it before.
 */
public final class BatonLock implements Lock {
    private final String key;
    private final FencedLock fenced;
    private final ReentrantLock local = new ReentrantLock();
    private volatile long lastUsedNanos = System.nanoTime();

    BatonLock(String key, FencedLock fenced) {
        this.key = key;
        this.fenced = fenced;
    }

    /**
     * Waits as long as it takes. Not interruptible (an interrupt is kept for later).
     *
     * @throws BatonException if the cluster refused or could not be reached; the lock is not held then
     */
    @Override
    public void lock() {
        local.lock();
        if (local.getHoldCount() > 1) {
            return;
        }
        try {
            fenced.lock();
        } catch (RuntimeException | Error e) {
            local.unlock();
            throw e;
        }
        touch();
    }

    /**
     * Waits until the lock is held or the thread is interrupted.
     *
     * @throws BatonException if the cluster refused or could not be reached; the lock is not held then
     */
    @Override
    public void lockInterruptibly() throws InterruptedException {
        local.lockInterruptibly();
        if (local.getHoldCount() > 1) {
            return;
        }
        try {
            fenced.lockInterruptibly();
        } catch (InterruptedException | RuntimeException | Error e) {
            local.unlock();
            throw e;
        }
        touch();
    }

    /**
     * Takes the lock if no one holds it now: no waiting, one call to the cluster (none when another
     * thread of this process holds it).
     */
    @Override
    public boolean tryLock() {
        if (!local.tryLock()) {
            return false;
        }
        if (local.getHoldCount() > 1) {
            return true;
        }
        boolean held = false;
        try {
            held = fenced.tryLock();
        } finally {
            if (!held) {
                local.unlock();
            }
        }
        touch();
        return held;
    }

    /**
     * Takes the lock if it becomes free within {@code time}; the wait for other threads of this process
     * and the wait on the cluster share the time.
     */
    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + Math.min(Math.max(0, unit.toNanos(time)), Long.MAX_VALUE / 4);
        if (!local.tryLock(time, unit)) {
            return false;
        }
        if (local.getHoldCount() > 1) {
            return true;
        }
        boolean held = false;
        try {
            held = fenced.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } finally {
            if (!held) {
                local.unlock();
            }
        }
        touch();
        return held;
    }

    /**
     * Undoes one {@code lock()} of the current thread; the last one releases the lock on the cluster.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     * @throws LockLostException            if the lock was lost while held (session lost); it is free
     *                                      locally from now on
     * @throws BatonException               if the cluster refused the release
     */
    @Override
    public void unlock() {
        if (!local.isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException("lock " + key + " is not held by this thread");
        }
        try {
            if (local.getHoldCount() == 1) {
                // An unanswered release is retried by the client in the background; this returns.
                fenced.unlock();
            }
        } finally {
            local.unlock();
            touch();
        }
    }

    /**
     * The fence of the current thread's hold.
     *
     * @throws IllegalStateException if the current thread does not hold the lock
     * @throws LockLostException     if the hold is known lost (its fence is stale)
     */
    public long fence() {
        if (!local.isHeldByCurrentThread()) {
            throw new IllegalStateException("lock " + key + " is not held by this thread");
        }
        return fenced.fence();
    }

    /** True if the current thread holds the lock and it is not known lost. */
    public boolean isHeldByCurrentThread() {
        return local.isHeldByCurrentThread() && fenced.isHeldByCurrentThread();
    }

    /**
     * True if the current thread holds the lock locally but the cluster no longer does for it (the
     * session was lost): the thread should stop and {@link #unlock()}.
     */
    public boolean isLost() {
        return local.isHeldByCurrentThread() && !fenced.isHeldByCurrentThread();
    }

    /** True if a thread of this process holds the lock (or is taking it from the cluster). */
    public boolean isAcquiredInThisProcess() {
        return local.isLocked();
    }

    /** The lock's name on the cluster: the registry's prefix and the key. */
    public String name() {
        return fenced.name();
    }

    /** Not supported: a condition would need the lock to be reacquired on another node's signal. */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("Baton locks have no conditions");
    }

    long lastUsedNanos() {
        return lastUsedNanos;
    }

    private void touch() {
        lastUsedNanos = System.nanoTime();
    }

    @Override
    public String toString() {
        return "BatonLock[" + fenced.name() + (local.isLocked() ? ", held in this process" : "") + "]";
    }
}
