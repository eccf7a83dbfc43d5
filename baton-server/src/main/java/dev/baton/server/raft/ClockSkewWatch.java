package dev.baton.server.raft;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.LongSupplier;

/**
 * Watches the difference between the cluster time ({@link BatonNode#clusterTime()}) and this node's
 * wall clock: the gauge {@code baton_clock_skew_seconds}, one WARN line when it leaves the bound
 * (either way), one INFO line when it is back within 90 % of it, and {@link #warning()} for the
 * dashboard.
 *
 * <p>A skew means this node's wall clock was stepped, or differs from the clock of a node that led
 * before; it does not bend waits (see {@link ClusterClock}), but a node whose clock is ahead of the
 * cluster time moves the time forward by that much if it takes the lead (waits in progress then
 * end early by as much), and absolute times shown to people are off by it.
 */
public final class ClockSkewWatch {
    private static final Logger LOG = LoggerFactory.getLogger(ClockSkewWatch.class);

    /** The gauge ({@code baton_clock_skew_seconds} in Prometheus): cluster time − wall clock here. */
    public static final String METRIC = "baton.clock.skew";
    /**
     * Default bound, ms: far above what NTP-synchronised machines differ by (milliseconds) and than
     * a healthy follower's estimate lags (its apply lag), well below the seconds-long wait timeouts
     * a step would distort.
     */
    public static final long DEFAULT_WARN_MS = 5_000;

    private final LongSupplier skewMs;
    private volatile long warnMs = DEFAULT_WARN_MS;
    private volatile boolean warning;

    /** @param skewMs cluster time − wall clock, ms ({@link BatonNode#clockSkewMillis()}) */
    public ClockSkewWatch(LongSupplier skewMs) {
        this.skewMs = skewMs;
    }

    /** Sets the bound (ms, positive). */
    public void setWarnMs(long ms) {
        if (ms <= 0) {
            throw new IllegalArgumentException("clock skew bound must be positive");
        }
        warnMs = ms;
    }

    public long warnMs() {
        return warnMs;
    }

    /** Cluster time − wall clock now, ms. */
    public long skewMs() {
        return skewMs.getAsLong();
    }

    /** True from a check that found the skew beyond the bound until one finds it back within 90 % of it. */
    public boolean warning() {
        return warning;
    }

    /** Compares once (the node's timer calls this every second); logs only on a crossing. */
    public synchronized void check() {
        long skew = skewMs.getAsLong();
        long abs = skew == Long.MIN_VALUE ? Long.MAX_VALUE : Math.abs(skew);
        long bound = warnMs;
        if (!warning && abs > bound) {
            warning = true;
            LOG.warn("Cluster time is {} ms {} this node's wall clock (bound {} ms): the wall clock was stepped "
                    + "or differs from a former leader's; waits keep their timeouts, but if this node takes the "
                    + "lead while its clock is ahead, the cluster time jumps forward to it. Check NTP.",
                    abs, skew > 0 ? "ahead of" : "behind", bound);
        } else if (warning && abs <= bound - bound / 10) {
            warning = false;
            LOG.info("Cluster time is back within {} ms of this node's wall clock ({} ms)", bound, skew);
        }
    }

    /** Registers the gauge {@code baton_clock_skew_seconds}. */
    public void bindTo(MeterRegistry registry) {
        Gauge.builder(METRIC, this, w -> w.skewMs() / 1000.0)
                .description("Cluster time (what entries are stamped with) minus this node's wall clock")
                .baseUnit("seconds")
                .register(registry);
    }
}
