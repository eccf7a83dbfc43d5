package dev.baton.core.machine;

/**
 * Cluster-wide pool counters, replicated with the state so every node reports the same numbers
 * (they feed poolcounterd's {@code STATS} and the metrics). Times are sums of entry-time spans, in ms.
 */
public record PoolCounters(long acquired, long released, long done, long timeouts, long queueFull, long lockHeld,
                           long waitForResponse, long releaseMismatch, long holdMs, long waitMeMs, long waitAnyMs,
                           long timeoutWaitMs) {

    /** Number of counters; {@link Counter} holds their indexes. */
    public static final int SIZE = 12;
    public static final PoolCounters ZERO = fromArray(new long[SIZE]);

    public static PoolCounters fromArray(long[] a) {
        return new PoolCounters(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
    }

    public long[] toArray() {
        return new long[] {acquired, released, done, timeouts, queueFull, lockHeld, waitForResponse, releaseMismatch,
                holdMs, waitMeMs, waitAnyMs, timeoutWaitMs};
    }
}
