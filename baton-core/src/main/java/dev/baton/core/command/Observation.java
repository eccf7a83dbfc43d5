package dev.baton.core.command;

/**
 * A fact for the metrics that the state machine learns while applying an entry: how an acquire
 * ended and how long it waited, how long a slot was held, how long an item waited for its claim.
 * Observations are outputs like {@link Effect}s: every replica computes the same ones from the same
 * entries, nothing of them is stored, and a node replaying its log sees them again.
 */
public sealed interface Observation {

    /**
     * Which observation this is, one constant per record, for switch expressions that the
     * compiler checks for completeness (the metrics).
     */
    enum Kind {
        POOL_ACQUIRE_ENDED,
        POOL_HOLD_ENDED,
        QUEUE_ITEM_CLAIMED,
        LOCK_ACQUIRED,
        LOCK_HOLD_ENDED
    }

    /** Which one this is; see {@link Kind}. */
    Kind kind();


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
    record PoolAcquireEnded(String key, PoolOutcome outcome, long waitedMs) implements Observation {
        @Override
        public Kind kind() {
            return Kind.POOL_ACQUIRE_ENDED;
        }
    }

    /** A slot of {@code key} was given up after being held {@code heldMs} (release, or its session ended). */
    record PoolHoldEnded(String key, long heldMs) implements Observation {
        @Override
        public Kind kind() {
            return Kind.POOL_HOLD_ENDED;
        }
    }

    /** An item of {@code queue} was claimed {@code waitedMs} after it was first enqueued. */
    record QueueItemClaimed(String queue, long waitedMs) implements Observation {
        @Override
        public Kind kind() {
            return Kind.QUEUE_ITEM_CLAIMED;
        }
    }

    /** A lock was granted after waiting {@code waitedMs} (0 if at once). */
    record LockAcquired(String name, long waitedMs) implements Observation {
        @Override
        public Kind kind() {
            return Kind.LOCK_ACQUIRED;
        }
    }

    /** A lock was given up after being held {@code heldMs}. */
    record LockHoldEnded(String name, long heldMs) implements Observation {
        @Override
        public Kind kind() {
            return Kind.LOCK_HOLD_ENDED;
        }
    }
}
