package dev.baton.client;

/** The outcome of a lock acquire or release. */
public enum LockStatus {
    /** The lock was granted; the reply carries a new fence. */
    LOCKED,
    /** The request waits; its outcome arrives as a {@link BatonEvent.LockWaitEnded} (queued acquires only). */
    QUEUED,
    /** Another session holds it (try-lock). */
    BUSY,
    /** The session already holds it; the reply carries the current fence. */
    ALREADY_HELD,
    /** It was not granted within the timeout. */
    TIMEOUT,
    /** It was released. */
    UNLOCKED,
    /** The session's wait for it was cancelled. */
    CANCELLED,
    /** The session neither held nor waited for it. */
    NOT_HELD,
    /** A status this client does not know (a newer server). */
    UNKNOWN
}
