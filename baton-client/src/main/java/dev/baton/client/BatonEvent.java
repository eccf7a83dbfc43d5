package dev.baton.client;

/**
 * What the server pushes to a session over its keep-alive stream, handed to the
 * {@link BatonClient.Builder#onEvent(java.util.function.Consumer) onEvent} listener. Events may repeat
 * or be missed across fail-overs: treat them as hints and confirm with a call.
 */
public sealed interface BatonEvent {
    /**
     * A queued pool acquire ({@link Pools#acquireQueued}) ended.
     *
     * @param session   the session that waited
     * @param requestId the request id the queued acquire returned
     * @param key       the pool key
     * @param status    {@link PoolStatus#LOCKED}, {@link PoolStatus#DONE}, {@link PoolStatus#TIMEOUT}, or
     *                  {@link PoolStatus#RELEASED} (the session released the key while it waited)
     * @param fence     the slot's fence when granted
     */
    record PoolWaitEnded(long session, long requestId, String key, PoolStatus status, long fence)
            implements BatonEvent {}

    /**
     * A queued lock acquire ({@link Locks#acquireQueued}) ended.
     *
     * @param session   the session that waited
     * @param requestId the request id the queued acquire returned
     * @param name      the lock's name
     * @param status    {@link LockStatus#LOCKED}, {@link LockStatus#TIMEOUT}, or {@link LockStatus#CANCELLED}
     *                  (the session released the lock's name while it waited)
     * @param fence     the grant's fence when granted
     */
    record LockWaitEnded(long session, long requestId, String name, LockStatus status, long fence)
            implements BatonEvent {}

    /**
     * A session ended.
     *
     * @param session the session
     * @param expired true if its lease ran out, false if it was closed
     */
    record SessionEnded(long session, boolean expired) implements BatonEvent {}

    /**
     * An event completed (sent to every session on the node).
     *
     * @param name the event's name
     */
    record EventCompleted(String name) implements BatonEvent {}

    /**
     * A queue has claimable items (sent to every session on the node).
     *
     * @param queue the queue's name
     */
    record QueueClaimable(String queue) implements BatonEvent {}
}
