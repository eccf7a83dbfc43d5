package dev.baton.client;

/** The outcome of a queue call. */
public enum QueueStatus {
    /** The item was added. */
    ENQUEUED,
    /** An existing item's payload and prerequisites were replaced. */
    REPLACED,
    /** Items were claimed (possibly none). */
    CLAIMED,
    /** The item was removed. */
    DONE,
    /** The item went back to the queue. */
    REQUEUED,
    /** A status this client does not know (a newer server). */
    UNKNOWN
}
