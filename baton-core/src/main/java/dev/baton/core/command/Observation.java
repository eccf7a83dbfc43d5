package dev.baton.core.command;

/**
 * A fact for the metrics that the state machine learns while applying an entry: how an acquire
 * ended and how long it waited, how long a slot was held, how long an item waited for its claim.
 * Observations are outputs like {@link Effect}s: every replica computes the same ones from the same
 * entries, nothing of them is stored, and a node replaying its log sees them again.
 */
public sealed interface Observation {

    /** How a pool acquire ended, as the metrics label it. */
    enum PoolOutcome {
        /** Granted at once. */
        LOCKED,
        /** Granted after waiting. */
        LOCKED_AFTER_WAIT,
        /** ACQ4ANY waiter told DONE (someone else did the work). */
        DONE,
        /** Timed out (at once with timeout 0, or after waiting). */
        TIMEOUT,
        QUEUE_FULL,
        LOCK_HELD,
        WAIT_FOR_RESPONSE,
        /** The wait ended without a grant: RELEASE while waiting, or the session ended. */
        CANCELLED
    }

    /** A pool acquire of {@code key} ended with {@code outcome} after waiting {@code waitedMs} (0 if at once). */
    record PoolAcquireEnded(String key, PoolOutcome outcome, long waitedMs) implements Observation {}

    /** A slot of {@code key} was given up after being held {@code heldMs} (release, or its session ended). */
    record PoolHoldEnded(String key, long heldMs) implements Observation {}

    /** An item of {@code queue} was claimed {@code waitedMs} after it was first enqueued. */
    record QueueItemClaimed(String queue, long waitedMs) implements Observation {}

    /** A lock was granted after waiting {@code waitedMs} (0 if at once). */
    record LockAcquired(String name, long waitedMs) implements Observation {}

    /** A lock was given up after being held {@code heldMs}. */
    record LockHoldEnded(String name, long heldMs) implements Observation {}
}
