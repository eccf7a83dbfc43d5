package dev.baton.server.raft;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ClusterClock} with a fake wall clock and a fake monotonic clock. */
class ClusterClockTest {
    private static final long T0 = 1_780_000_000_000L; // ms since the epoch (2026)
    private static final long TERM = 3;

    /** A machine's two clocks: the wall clock can be stepped, the monotonic one only advances. */
    private static final class Machine {
        long wallMs;
        long nanos = 123_456_789L;

        Machine(long wallMs) {
            this.wallMs = wallMs;
        }

        void pass(long ms) {
            wallMs += ms;
            nanos += TimeUnit.MILLISECONDS.toNanos(ms);
        }

        ClusterClock clock() {
            return new ClusterClock(() -> wallMs, () -> nanos);
        }
    }

    @Test
    void followsTheWallClockWhileNobodyStepsIt() {
        Machine m = new Machine(T0);
        ClusterClock c = m.clock();
        assertThat(c.leaderNow(TERM, 0)).isEqualTo(T0);
        for (int i = 0; i < 100; i++) {
            m.pass(20);
            assertThat(c.leaderNow(TERM, 0)).isEqualTo(m.wallMs);
        }
        assertThat(c.skewMillis(TERM, 0)).isZero();
    }

    @Test
    void aStepBackNeitherFreezesNorReversesTime() {
        Machine m = new Machine(T0);
        ClusterClock c = m.clock();
        c.leaderNow(TERM, 0);
        m.pass(1_000);
        long before = c.leaderNow(TERM, 0);
        m.wallMs -= TimeUnit.MINUTES.toMillis(10); // date -s "10 minutes ago"
        m.pass(3_000);
        long after = c.leaderNow(TERM, 0);
        // 3 s of a wait's timeout still take 3 s (1 % slower at most while slewing towards the wall)
        assertThat(after - before).isBetween(2_970L, 3_000L);
        assertThat(c.skewMillis(TERM, 0)).isGreaterThan(TimeUnit.MINUTES.toMillis(9));
    }

    @Test
    void aStepForwardDoesNotFastForwardTime() {
        Machine m = new Machine(T0);
        ClusterClock c = m.clock();
        c.leaderNow(TERM, 0);
        m.pass(1_000);
        long before = c.leaderNow(TERM, 0);
        m.wallMs += TimeUnit.HOURS.toMillis(1);
        m.pass(3_000);
        assertThat(c.leaderNow(TERM, 0) - before).isEqualTo(3_000L);
        assertThat(c.skewMillis(TERM, 0)).isEqualTo(-TimeUnit.HOURS.toMillis(1));
    }

    @Test
    void aNewLeaderWhoseClockIsBehindContinuesTheOldLeadersTime() {
        Machine old = new Machine(T0);
        ClusterClock oldClock = old.clock();
        long stamp = oldClock.leaderNow(TERM, 0);

        Machine behind = new Machine(T0 - 30_000); // 30 s behind
        ClusterClock c = behind.clock();
        c.observeApplied(stamp);           // the follower applied the old leader's last entry
        assertThat(c.now(-1, stamp)).isEqualTo(stamp);
        behind.pass(1_500);                // election
        long anchored = c.leaderNow(TERM + 1, stamp);
        assertThat(anchored).isEqualTo(stamp + 1_500); // neither frozen at the stamp nor 30 s back
        behind.pass(3_000);
        assertThat(c.leaderNow(TERM + 1, stamp) - anchored).isBetween(2_970L, 3_000L);
    }

    @Test
    void aNewLeaderWhoseClockIsAheadMovesTimeToItsClock() {
        Machine ahead = new Machine(T0 + 10_000);
        ClusterClock c = ahead.clock();
        c.observeApplied(T0);
        assertThat(c.leaderNow(TERM, T0)).isEqualTo(T0 + 10_000); // the documented forward jump
    }

    @Test
    void aFollowerSeesTheLastStampAdvancedByMonotonicTime() {
        Machine m = new Machine(T0 + 999_999); // its wall clock does not matter
        ClusterClock c = m.clock();
        c.observeApplied(T0);
        m.pass(700);
        assertThat(c.now(-1, T0)).isEqualTo(T0 + 700);
        m.wallMs -= 3_600_000;
        m.pass(300);
        assertThat(c.now(-1, T0)).isEqualTo(T0 + 1_000);
        c.observeApplied(T0 + 1_200);
        assertThat(c.now(-1, T0 + 1_200)).isEqualTo(T0 + 1_200);
        assertThat(c.now(-1, T0)).isEqualTo(T0 + 1_200); // an older stamp changes nothing
    }

    @Test
    void aRestartNeverGoesBehindTheLogNorStaysBehindTheWallClock() {
        long lastInLog = T0;
        Machine behind = new Machine(T0 - 30_000);
        assertThat(behind.clock().leaderNow(TERM, lastInLog)).isEqualTo(lastInLog);
        Machine downAMinute = new Machine(T0 + 60_000);
        assertThat(downAMinute.clock().leaderNow(TERM, lastInLog)).isEqualTo(T0 + 60_000);
    }

    @Test
    void slewsBackToAWallClockBehindItAtOnePercent() {
        Machine m = new Machine(T0);
        ClusterClock c = m.clock();
        c.leaderNow(TERM, 0);
        m.wallMs -= 60_000;
        long start = c.leaderNow(TERM, 0);
        // 60 s are absorbed at 1 % of the monotonic time: after 100 min (plus a tick) it is on the wall again
        for (int i = 0; i < 6_001; i++) {
            m.pass(1_000);
            c.leaderNow(TERM, 0);
        }
        assertThat(c.skewMillis(TERM, 0)).isZero();
        assertThat(c.leaderNow(TERM, 0) - start).isEqualTo(6_001_000L - 60_000L);
    }

    @Test
    void neverBackwardsNeverFasterThanMonotonicTimeWhateverTheWallClockDoes() {
        Random r = new Random(20);
        Machine m = new Machine(T0);
        ClusterClock c = m.clock();
        long prev = c.leaderNow(TERM, 0);
        long prevNanos = m.nanos;
        long slack = 0; // ms lost to flooring since the last check, at most 1
        for (int i = 0; i < 100_000; i++) {
            m.pass(r.nextInt(50));
            if (r.nextInt(100) == 0) {
                m.wallMs += r.nextInt(2_000_000) - 1_000_000; // steps of up to ±1000 s
            }
            long t = c.leaderNow(TERM, 0);
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(m.nanos - prevNanos);
            assertThat(t).isGreaterThanOrEqualTo(prev);
            assertThat(t - prev).isLessThanOrEqualTo(elapsedMs + 1);
            assertThat(t - prev).isGreaterThanOrEqualTo((long) (elapsedMs * (1 - ClusterClock.SLEW)) - 1);
            prev = t;
            prevNanos = m.nanos;
        }
    }

    @Test
    void skewWatchWarnsOncePerCrossing() {
        long[] skew = {0};
        ClockSkewWatch w = new ClockSkewWatch(() -> skew[0]);
        w.setWarnMs(5_000);
        w.check();
        assertThat(w.warning()).isFalse();
        skew[0] = -3_600_000;
        w.check();
        assertThat(w.warning()).isTrue();
        skew[0] = 4_800; // within the bound but not within 90 % of it: still warning (no flapping)
        w.check();
        assertThat(w.warning()).isTrue();
        skew[0] = 100;
        w.check();
        assertThat(w.warning()).isFalse();
        skew[0] = 5_001;
        w.check();
        assertThat(w.warning()).isTrue();
    }
}
