package dev.baton.client;

import java.util.List;

/**
 * A lock's holder, fence and waiters.
 *
 * @param name the lock's name
 * @param exists false when nobody holds or waits for it
 * @param holder the holding session, 0 if none
 * @param fence the current grant's fence
 * @param since when it was granted (ms since the epoch)
 * @param waiters the waiters, in queue order
 */
public record LockInfo(String name, boolean exists, long holder, long fence, long since, List<LockWaiter> waiters) {}
