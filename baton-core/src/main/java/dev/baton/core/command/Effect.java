package dev.baton.core.command;

/**
 * Something that happened to a session other than as the direct result of its own command: a
 * wait granted or timed out, a DONE, an event completed. Effects are returned by
 * {@code update} and delivered by whichever node holds the session's connection or stream.
 * They are outputs only: replicas compute the same effects, but nothing of them is stored.
 */
public sealed interface Effect {

    /**
     * Which effect this is, one constant per record, for switch expressions that the compiler
     * checks for completeness (whoever delivers effects).
     */
    enum Kind {
        POOL_WAIT_ENDED,
        LOCK_WAIT_ENDED,
        SESSION_ENDED,
        EVENT_COMPLETED,
        QUEUE_CLAIMABLE
    }

    /** Which one this is; see {@link Kind}. */
    Kind kind();


    /** A pool wait ended: {@code LOCKED} (with fence), {@code DONE} (ACQ4ANY, someone released) or {@code TIMEOUT}. */
    record PoolWaitEnded(long session, long requestId, String key, Result.PoolStatus status, long fence)
            implements Effect {
        @Override
        public Kind kind() {
            return Kind.POOL_WAIT_ENDED;
        }
    }

    /** A lock wait ended: {@code LOCKED} (with fence) or {@code TIMEOUT}. */
    record LockWaitEnded(long session, long requestId, String name, Result.LockStatus status, long fence)
            implements Effect {
        @Override
        public Kind kind() {
            return Kind.LOCK_WAIT_ENDED;
        }
    }

    /** The session ended (closed, expired); its holdings were released. */
    record SessionEnded(long session, boolean expired) implements Effect {
        @Override
        public Kind kind() {
            return Kind.SESSION_ENDED;
        }
    }

    /** A pending event was completed (explicitly or because its owner's session ended). */
    record EventCompleted(String name) implements Effect {
        @Override
        public Kind kind() {
            return Kind.EVENT_COMPLETED;
        }
    }

    /** The queue has items that can be claimed now (enqueued, ungated, retried, or returned by a dead session). */
    record QueueClaimable(String queue) implements Effect {
        @Override
        public Kind kind() {
            return Kind.QUEUE_CLAIMABLE;
        }
    }
}
