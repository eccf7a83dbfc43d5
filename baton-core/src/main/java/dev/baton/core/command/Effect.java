package dev.baton.core.command;

/**
 * Something that happened to a session other than as the direct result of its own command: a
 * wait granted or timed out, a DONE, an event completed. Effects are returned by
 * {@code update} and delivered by whichever node holds the session's connection or stream.
 * They are outputs only: replicas compute the same effects, but nothing of them is stored.
 */
public sealed interface Effect {

    /** A pool wait ended: {@code LOCKED} (with fence), {@code DONE} (ACQ4ANY, someone released) or {@code TIMEOUT}. */
    record PoolWaitEnded(long session, long requestId, String key, Result.PoolStatus status, long fence)
            implements Effect {}

    /** A lock wait ended: {@code LOCKED} (with fence) or {@code TIMEOUT}. */
    record LockWaitEnded(long session, long requestId, String name, Result.LockStatus status, long fence)
            implements Effect {}

    /** The session ended (closed, expired); its holdings were released. */
    record SessionEnded(long session, boolean expired) implements Effect {}

    /** A pending event was completed (explicitly or because its owner's session ended). */
    record EventCompleted(String name) implements Effect {}

    /** The queue has items that can be claimed now (enqueued, ungated, retried, or returned by a dead session). */
    record QueueClaimable(String queue) implements Effect {}
}
