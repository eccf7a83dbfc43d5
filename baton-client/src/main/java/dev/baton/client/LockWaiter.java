package dev.baton.client;

/**
 * A session waiting for a lock.
 *
 * @param session the waiting session
 * @param requestId the waiting request's id
 * @param since when it started waiting (ms since the epoch)
 * @param deadline when the wait times out (ms since the epoch)
 */
public record LockWaiter(long session, long requestId, long since, long deadline) {}
