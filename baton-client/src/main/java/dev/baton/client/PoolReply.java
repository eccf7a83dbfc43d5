package dev.baton.client;

/**
 * The server's answer to a pool acquire or release.
 *
 * @param status the outcome
 * @param key the pool key
 * @param fence the slot's fence when {@link PoolStatus#LOCKED} or {@link PoolStatus#RELEASED}, else 0
 * @param session the session the request was made on (a hold's release goes to that session)
 */
public record PoolReply(PoolStatus status, String key, long fence, long session) {
    /** True if a slot was granted. */
    public boolean granted() {
        return status == PoolStatus.LOCKED;
    }
}
