package dev.baton.server.raft;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The cluster time of one node: what the leader stamps entries with (ms since the epoch), made so
 * that a step of the wall clock cannot bend it. Waits time out, and ages are measured, in this time.
 *
 * <h2>The rule</h2>
 * <ul>
 *   <li><b>Taking the lead</b> (term by term) anchors it at the later of this node's wall clock and
 *       the estimate {@code E} = the newest stamp this node has applied + the monotonic time
 *       ({@code System.nanoTime}) that passed since it saw that stamp applied. {@code E} is never
 *       ahead of the time the old leader would have stamped by now (the entry reached this node
 *       after it was stamped), so a new leader whose wall clock is behind continues the old
 *       leader's time instead of freezing it until its clock catches up; one whose clock is ahead
 *       moves the cluster time forward to its clock (by the amount it is ahead: that is the one
 *       place where a clock can push the time forward, and the skew warning names it beforehand).</li>
 *   <li><b>While leading</b> it advances by the monotonic time that really passed, never more, and
 *       never backwards. When this node's wall clock is behind it, it advances more slowly, by at
 *       most {@link #SLEW} (1 %) of the monotonic time, and never to below the wall clock: so a
 *       cluster time pushed ahead (a wall clock stepped back, a former leader whose clock ran
 *       ahead) returns to the wall clock at 36 s per hour, while a wait ends at most 1 % late. A wall
 *       clock that jumps ahead is not followed (forward corrections would end waits early).</li>
 *   <li><b>Elsewhere</b> (a follower) {@link #now} is the estimate {@code E}: for ages shown to
 *       people and the skew metric, never for decisions.</li>
 * </ul>
 * Consequences: a step back of the wall clock changes nothing; a step forward changes nothing on
 * the leader (the skew metric shows it) until that node takes the lead again; a restart anchors
 * at the later of the wall clock and the last stamp in the log. The state machine itself only
 * ever sees the stamps (time is data in the entries), which its caller keeps non-decreasing.
 *
 * <p>Thread-safe (one lock; every call is a few arithmetic operations).
 */
public final class ClusterClock {
    /** How much slower than monotonic time the leader's time may run to meet a wall clock behind it. */
    public static final double SLEW = 0.01;

    private static final long NANOS_PER_MS = 1_000_000L;

    private final LongSupplier wallMillis;
    private final LongSupplier nanoTime;

    // The newest applied stamp seen, and the monotonic time it was first seen at.
    private long seenStamp = Long.MIN_VALUE;
    private long seenAtNanos;

    // The leader's time: in nanoseconds since the epoch (sub-ms steps add up), read at readNanos;
    // anchored afresh whenever a new term asks for it (a node leads at most one term at a time).
    private long leaderTerm = -1;
    private long timeNanos;
    private long readNanos;

    /**
     * @param wallMillis the wall clock, ms since the epoch ({@code System::currentTimeMillis})
     * @param nanoTime   a monotonic clock, ns ({@code System::nanoTime})
     */
    public ClusterClock(LongSupplier wallMillis, LongSupplier nanoTime) {
        this.wallMillis = wallMillis;
        this.nanoTime = nanoTime;
    }

    /** The system's clocks. */
    public static ClusterClock system() {
        return new ClusterClock(System::currentTimeMillis, System::nanoTime);
    }

    /** The wall clock this clock compares against (ms since the epoch). */
    public long wallMillis() {
        return wallMillis.getAsLong();
    }

    /**
     * Notes the newest stamp applied on this node (any node, any role); cheap, call it often. A
     * stamp seen late only makes the estimate lower (later waits, never earlier).
     */
    public synchronized void observeApplied(long stamp) {
        // 0: nothing applied yet (no stamp), not the epoch.
        if (stamp > 0 && stamp > seenStamp) {
            seenStamp = stamp;
            seenAtNanos = nanoTime.getAsLong();
        }
    }

    /**
     * The cluster time to stamp an entry of {@code term} with, this node leading it: anchored on the
     * first call of the term (see the class comment), then advancing with monotonic time.
     *
     * @param lastAppliedStamp the newest stamp applied on this node
     */
    public synchronized long leaderNow(long term, long lastAppliedStamp) {
        observeApplied(lastAppliedStamp);
        long n = nanoTime.getAsLong();
        if (term != leaderTerm) {
            leaderTerm = term;
            long anchor = Math.max(wallMillis.getAsLong(), estimateAt(n));
            timeNanos = toNanos(anchor);
            readNanos = n;
            return anchor;
        }
        long d = n - readNanos;
        if (d > 0) {
            long full = timeNanos + d;
            long wall = toNanos(wallMillis.getAsLong());
            long next = full;
            if (wall < full) {
                next = Math.max(full - (long) (d * SLEW), wall);
            }
            timeNanos = next;
            readNanos = n;
        }
        return Math.floorDiv(timeNanos, NANOS_PER_MS);
    }

    /**
     * This node's view of the cluster time: the leader's time while it leads {@code leaderTerm}
     * (&gt; 0), the estimate from the applied stamps otherwise (the wall clock before any stamp).
     */
    public synchronized long now(long leaderTerm, long lastAppliedStamp) {
        if (leaderTerm > 0) {
            return leaderNow(leaderTerm, lastAppliedStamp);
        }
        observeApplied(lastAppliedStamp);
        long e = estimateAt(nanoTime.getAsLong());
        return e == Long.MIN_VALUE ? wallMillis.getAsLong() : e;
    }

    /** {@link #now} − wall clock, ms: positive when the cluster time is ahead of this node's clock. */
    public synchronized long skewMillis(long leaderTerm, long lastAppliedStamp) {
        return now(leaderTerm, lastAppliedStamp) - wallMillis.getAsLong();
    }

    /** seenStamp + monotonic time since it was seen, or MIN_VALUE before any stamp. */
    private long estimateAt(long n) {
        if (seenStamp == Long.MIN_VALUE) {
            return Long.MIN_VALUE;
        }
        return seenStamp + TimeUnit.NANOSECONDS.toMillis(Math.max(0, n - seenAtNanos));
    }

    private static long toNanos(long ms) {
        return Math.multiplyExact(ms, NANOS_PER_MS);
    }
}
