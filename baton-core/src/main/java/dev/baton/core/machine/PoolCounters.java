package dev.baton.core.machine;

/**
 * Cluster-wide pool counters, replicated with the state so every node reports the same numbers
 * (they feed poolcounterd's {@code STATS} and the metrics). Times are sums of entry-time spans, in ms.
 *
 * <p>{@code doneWaitMs} is the part of {@code waitAnyMs} spent by ACQ4ANY waiters that ended with
 * DONE (poolcounterd's "waiting time for good"); {@code gainedMs} adds, for each such DONE, the
 * releasing holder's hold time (its "gained time": work the waiter did not have to redo).
 */
public record PoolCounters(long acquired, long released, long done, long timeouts, long queueFull, long lockHeld,
                           long waitForResponse, long releaseMismatch, long holdMs, long waitMeMs, long waitAnyMs,
                           long timeoutWaitMs, long doneWaitMs, long gainedMs) {

    /** Number of counters; {@link Counter} holds their indexes. */
    public static final int SIZE = 14;
    public static final PoolCounters ZERO = fromArray(new long[SIZE]);

    public static PoolCounters fromArray(long[] a) {
        return new PoolCounters(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
                a[13]);
    }

    public long[] toArray() {
        return new long[] {acquired, released, done, timeouts, queueFull, lockHeld, waitForResponse, releaseMismatch,
                holdMs, waitMeMs, waitAnyMs, timeoutWaitMs, doneWaitMs, gainedMs};
    }
}
