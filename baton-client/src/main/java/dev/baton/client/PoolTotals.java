package dev.baton.client;

/**
 * Totals over all pools: current counts and cumulative counters and times (milliseconds).
 *
 * @param keys see the server's pool metrics
 * @param processing see the server's pool metrics
 * @param waiting see the server's pool metrics
 * @param acquired see the server's pool metrics
 * @param released see the server's pool metrics
 * @param done see the server's pool metrics
 * @param timeouts see the server's pool metrics
 * @param queueFull see the server's pool metrics
 * @param lockHeld see the server's pool metrics
 * @param waitForResponse see the server's pool metrics
 * @param releaseMismatch see the server's pool metrics
 * @param holdMs see the server's pool metrics
 * @param waitMeMs see the server's pool metrics
 * @param waitAnyMs see the server's pool metrics
 * @param timeoutWaitMs see the server's pool metrics
 * @param doneWaitMs see the server's pool metrics
 * @param gainedMs see the server's pool metrics
 */
public record PoolTotals(long keys, long processing, long waiting, long acquired, long released, long done, long timeouts, long queueFull, long lockHeld, long waitForResponse, long releaseMismatch, long holdMs, long waitMeMs, long waitAnyMs, long timeoutWaitMs, long doneWaitMs, long gainedMs) {}
