package dev.baton.client;

/** The outcome of a pool acquire or release. */
public enum PoolStatus {
    /** A slot was granted; the reply carries its fence. */
    LOCKED,
    /** The request waits; its outcome arrives as a {@link BatonEvent.PoolWaitEnded} (queued acquires only). */
    QUEUED,
    /** Holders plus waiters reached the pool's {@code maxQueue}; nothing changed. */
    QUEUE_FULL,
    /** No slot was free within the timeout. */
    TIMEOUT,
    /** The session already holds or waits for as many slots as the server allows a session. */
    LOCK_HELD,
    /** The slot was released (fence 0: a waiting slot was cancelled). */
    RELEASED,
    /** The session held no such slot. */
    NOT_LOCKED,
    /** A for-anyone wait ended because another worker finished the job. */
    DONE,
    /** A status this client does not know (a newer server). */
    UNKNOWN
}
