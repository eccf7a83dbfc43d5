package dev.baton.spring.integration;

import dev.baton.client.BatonClient;
import dev.baton.client.lock.FencedLock;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.springframework.integration.support.locks.ExpirableLockRegistry;
import org.springframework.integration.support.locks.LockRegistry;

/**
 * A Spring Integration {@link LockRegistry} whose locks are Baton's fenced locks: mutual exclusion
 * across processes and machines, with a fence per hold.
 *
 * <pre>{@code
 * BatonLockRegistry registry = new BatonLockRegistry(batonClient, "orders/");
 * BatonLock lock = registry.obtain("invoice-run");
 * lock.lock();
 * try {
 *     store.write(invoice, lock.fence());
 * } finally {
 *     lock.unlock();
 * }
 * }</pre>
 *
 * <p>{@link #obtain(Object)} returns the same {@link BatonLock} for the same key (until
 * {@link #expireUnusedOlderThan expired}); locks are reentrant per thread and are unlocked by the thread
 * that locked them (see {@link BatonLock}). Holds live on the client's own session: they end when it
 * ends (closed, or its lease not renewed), whatever the process thinks. A lost session cannot be
 * resumed: once the client's session is lost, acquiring through this registry fails with
 * {@code SessionLostException} and the application builds a new client (and registry).
 *
 * <p>The name of a key's lock on the cluster is the registry's prefix followed by the key, so that
 * several applications, or a registry and other users of Baton locks, can share a cluster without
 * sharing lock names.
 */
public final class BatonLockRegistry implements ExpirableLockRegistry<BatonLock> {
    private final BatonClient client;
    private final String prefix;
    private final Map<String, BatonLock> locks = new ConcurrentHashMap<>();

    /** A registry whose lock names are the keys themselves. */
    public BatonLockRegistry(BatonClient client) {
        this(client, "");
    }

    /**
     * A registry whose lock names are {@code prefix + key}.
     *
     * @param client the client whose session holds the locks; the registry does not close it
     * @param prefix put before every key, e.g. {@code "billing/"}; may be empty
     */
    public BatonLockRegistry(BatonClient client, String prefix) {
        this.client = Objects.requireNonNull(client, "client");
        this.prefix = Objects.requireNonNull(prefix, "prefix");
    }

    /**
     * The lock of {@code lockKey}, a {@link String} (as in Spring's Redis and JDBC registries). Does not
     * contact the cluster.
     *
     * @throws IllegalArgumentException if the key is not a String
     */
    @Override
    public BatonLock obtain(Object lockKey) {
        if (!(lockKey instanceof String key)) {
            throw new IllegalArgumentException("a Baton lock key is a String, not " + (lockKey == null ? "null"
                    : lockKey.getClass().getName()));
        }
        return locks.computeIfAbsent(key, k -> new BatonLock(k, new FencedLock(client, prefix + k)));
    }

    /**
     * Forgets the locks that no thread of this process holds and that were last locked or unlocked more
     * than {@code age} milliseconds ago, so that a registry over many keys does not grow without end.
     * A lock obtained before and used after this still works, but is no longer the registry's, so
     * obtain locks again rather than keeping them across calls to this.
     */
    @Override
    public void expireUnusedOlderThan(long age) {
        long now = System.nanoTime();
        long ageNanos = TimeUnit.MILLISECONDS.toNanos(age);
        locks.values().removeIf(l -> !l.isAcquiredInThisProcess() && now - l.lastUsedNanos() > ageNanos);
    }

    /** The prefix of the lock names. */
    public String prefix() {
        return prefix;
    }

    /** The client whose session holds the locks. */
    public BatonClient client() {
        return client;
    }

    @Override
    public String toString() {
        return "BatonLockRegistry[prefix=" + prefix + ", " + locks.size() + " locks]";
    }
}
