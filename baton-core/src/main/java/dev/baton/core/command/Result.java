package dev.baton.core.command;

import java.util.List;

/** The immediate answer to one command, computed on every replica and returned on the proposing node. */
public sealed interface Result {

    /**
     * Which result this is, one constant per record, for switch expressions that the compiler
     * checks for completeness (the codec, the JSON dump, the footprint).
     */
    enum Kind {
        REJECTED,
        SESSION_OPENED,
        SESSION_OPENED_THEN,
        SESSION_CLOSED,
        SESSIONS_EXPIRED,
        WAITS_EXPIRED,
        LIMITS_SET,
        NODE_ANNOUNCED,
        POOL_REPLY,
        LOCK_REPLY,
        DISPATCH_REPLY,
        EVENT_REPLY,
        QUEUE_REPLY
    }

    /** Which one this is; see {@link Kind}. */
    Kind kind();


    /** The command was refused and changed nothing. */
    record Rejected(ErrorCode code, String message) implements Result {
        @Override
        public Kind kind() {
            return Kind.REJECTED;
        }
    }

    /**
     * A session, new or (with a client token naming a live session) existing. {@code nextRequestId}
     * is the first request id the client should use: 1 for a new session; for an existing one, a
     * window past every id the session has used (see {@code Sessions.open}), so that a client taking
     * over a token never gets an answer remembered for another client's request.
     */
    record SessionOpened(long session, long ttlMs, boolean existing, long nextRequestId) implements Result {
        @Override
        public Kind kind() {
            return Kind.SESSION_OPENED;
        }
    }

    /**
     * The answer to {@link Command.OpenSessionThen}: the session (new, or found by its token) and the
     * first command's own answer.
     */
    record SessionOpenedThen(SessionOpened opened, Result first) implements Result {
        @Override
        public Kind kind() {
            return Kind.SESSION_OPENED_THEN;
        }
    }

    record SessionClosed(long session) implements Result {
        @Override
        public Kind kind() {
            return Kind.SESSION_CLOSED;
        }
    }

    /** The sessions that {@link Command.ExpireSessions} actually ended. */
    record SessionsExpired(List<Long> sessions) implements Result {
        @Override
        public Kind kind() {
            return Kind.SESSIONS_EXPIRED;
        }
    }

    record WaitsExpired(int count) implements Result {
        @Override
        public Kind kind() {
            return Kind.WAITS_EXPIRED;
        }
    }

    record LimitsSet(Limits limits) implements Result {
        @Override
        public Kind kind() {
            return Kind.LIMITS_SET;
        }
    }

    /**
     * Answer to {@link Command.AnnounceNode}: {@code removed} is true when the announcement was a
     * removal (empty API endpoint); the entry is then gone, whether or not it existed before.
     */
    record NodeAnnounced(String raftEndpoint, boolean removed) implements Result {
        @Override
        public Kind kind() {
            return Kind.NODE_ANNOUNCED;
        }
    }

    /**
     * Pool outcome in poolcounterd's vocabulary. {@code fence} is set for {@code LOCKED}; for
     * {@code RELEASED} it is the released slot's fence (0 for a cancelled wait). {@code key} is
     * null for a {@code NOT_LOCKED} answer to a key-less (LIFO) release.
     */
    record PoolReply(PoolStatus status, String key, long fence) implements Result {
        @Override
        public Kind kind() {
            return Kind.POOL_REPLY;
        }
    }

    record LockReply(LockStatus status, String name, long fence) implements Result {
        @Override
        public Kind kind() {
            return Kind.LOCK_REPLY;
        }
    }

    /** {@code target} is null when nothing was selected; {@code value} is the head or the number of targets added. */
    record DispatchReply(DispatchStatus status, TargetView target, long value) implements Result {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_REPLY;
        }
    }

    record EventReply(EventStatus status, String name) implements Result {
        @Override
        public Kind kind() {
            return Kind.EVENT_REPLY;
        }
    }

    record QueueReply(QueueStatus status, List<ClaimedItem> items) implements Result {
        @Override
        public Kind kind() {
            return Kind.QUEUE_REPLY;
        }
    }

    enum PoolStatus { LOCKED, QUEUED, QUEUE_FULL, TIMEOUT, LOCK_HELD, RELEASED, NOT_LOCKED, DONE }

    enum LockStatus {
        LOCKED,
        /** Waiting; the grant or timeout arrives as an effect. */
        QUEUED,
        /** tryLock found it held by someone else. */
        BUSY,
        /** The session already holds it; {@code fence} is the current grant. */
        ALREADY_HELD,
        TIMEOUT,
        UNLOCKED,
        /** A wait was cancelled by an unlock. */
        CANCELLED,
        NOT_HELD
    }

    enum DispatchStatus { INITIALIZED, ADVANCED, SELECTED, NONE, LOCKED, BUSY, RELEASED, UPDATED }

    enum EventStatus { BEGUN, ALREADY_PENDING, COMPLETED, NOT_PENDING }

    enum QueueStatus { ENQUEUED, REPLACED, CLAIMED, DONE, REQUEUED }
}
