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
    /** Wait time of ACQ4ANY waiters that got DONE; also counted in {@link #WAIT_ANY_MS}. */
    public static final int DONE_WAIT_MS = 12;
    /** Per DONE, the hold time of the holder whose RELEASE sent it. */
    public static final int GAINED_MS = 13;
}
