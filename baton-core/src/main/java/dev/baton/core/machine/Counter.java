package dev.baton.core.machine;

/** Indexes of the pool counters in {@link Tx#poolCounters}, in {@link PoolCounters} order. */
public final class Counter {
    private Counter() {}

    public static final int ACQUIRED = 0;
    public static final int RELEASED = 1;
    public static final int DONE = 2;
    public static final int TIMEOUTS = 3;
    public static final int QUEUE_FULL = 4;
    public static final int LOCK_HELD = 5;
    public static final int WAIT_FOR_RESPONSE = 6;
    public static final int RELEASE_MISMATCH = 7;
    public static final int HOLD_MS = 8;
    public static final int WAIT_ME_MS = 9;
    public static final int WAIT_ANY_MS = 10;
    public static final int TIMEOUT_WAIT_MS = 11;
}
