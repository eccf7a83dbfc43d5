package dev.baton.core.command;

import java.util.List;

/** The immediate answer to one command, computed on every replica and returned on the proposing node. */
public sealed interface Result {

    /** The command was refused and changed nothing. */
    record Rejected(ErrorCode code, String message) implements Result {}

    /**
     * A session, new or (with a client token naming a live session) existing. {@code nextRequestId}
     * is the first request id the client should use: 1 for a new session; for an existing one, a
     * window past every id the session has used (see {@code Sessions.open}), so that a client taking
     * over a token never gets an answer remembered for another client's request.
     */
    record SessionOpened(long session, long ttlMs, boolean existing, long nextRequestId) implements Result {}

    /**
     * The answer to {@link Command.OpenSessionThen}: the session (new, or found by its token) and the
     * first command's own answer.
     */
    record SessionOpenedThen(SessionOpened opened, Result first) implements Result {}

    record SessionClosed(long session) implements Result {}

    /** The sessions that {@link Command.ExpireSessions} actually ended. */
    record SessionsExpired(List<Long> sessions) implements Result {}

    record WaitsExpired(int count) implements Result {}

    record LimitsSet(Limits limits) implements Result {}

    /**
     * Answer to {@link Command.AnnounceNode}: {@code removed} is true when the announcement was a
     * removal (empty API endpoint); the entry is then gone, whether or not it existed before.
     */
    record NodeAnnounced(String raftEndpoint, boolean removed) implements Result {}

    /**
     * Pool outcome in poolcounterd's vocabulary. {@code fence} is set for {@code LOCKED}; for
     * {@code RELEASED} it is the released slot's fence (0 for a cancelled wait). {@code key} is
     * null for a {@code NOT_LOCKED} answer to a key-less (LIFO) release.
     */
    record PoolReply(PoolStatus status, String key, long fence) implements Result {}

    record LockReply(LockStatus status, String name, long fence) implements Result {}

    /** {@code target} is null when nothing was selected; {@code value} is the head or the number of targets added. */
    record DispatchReply(DispatchStatus status, TargetView target, long value) implements Result {}

    record EventReply(EventStatus status, String name) implements Result {}

    record QueueReply(QueueStatus status, List<ClaimedItem> items) implements Result {}

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
