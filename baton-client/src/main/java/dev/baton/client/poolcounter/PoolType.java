package dev.baton.client.poolcounter;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The configuration of a pool type, like one entry of MediaWiki's {@code $wgPoolCounterConf[type]}:
 * how many workers may hold a key at once, how many holders plus waiters a key may have, how long an
 * acquire waits, and the optional {@code slots} and {@code fastStale} settings. Immutable.
 *
 * <pre>{@code
 * // $wgPoolCounterConf['ArticleView'] = [ 'workers' => 2, 'maxqueue' => 100, 'timeout' => 15, 'fastStale' => true ];
 * PoolType articleView = PoolType.builder().workers(2).maxQueue(100).timeoutSeconds(15).fastStale(true).build();
 * }</pre>
 *
 * @param workers   holders allowed per key at once ({@code workers}); at least 1
 * @param maxQueue  holders + waiters per key at which an acquire gets {@code QUEUE_FULL}
 *                  ({@code maxqueue}); at least 1
 * @param timeout   how long an acquire waits by default ({@code timeout}, seconds in MediaWiki); zero
 *                  means do not wait; sent in whole milliseconds
 * @param slots     0 to use keys as given; otherwise hash every key into this many buckets per type
 *                  ({@code slots}, see {@link PoolCounter#hashKeyIntoSlots}); at most {@value #MAX_SLOTS}
 * @param fastStale whether {@link PoolCounterWork} first tries without waiting and serves a stale
 *                  result on {@code TIMEOUT} ({@code fastStale}, MediaWiki T250248)
 */
public record PoolType(int workers, int maxQueue, Duration timeout, int slots, boolean fastStale) {

    /**
     * The most {@code slots} that make sense: keys are hashed on the first four hex digits of their
     * SHA-1, so there are only 65536 distinct buckets.
     */
    public static final int MAX_SLOTS = 65536;

    /** Checks the values. */
    public PoolType {
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be at least 1: " + workers);
        }
        if (maxQueue < 1) {
            throw new IllegalArgumentException("maxqueue must be at least 1: " + maxQueue);
        }
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative: " + timeout);
        }
        if (slots < 0 || slots > MAX_SLOTS) {
            throw new IllegalArgumentException("slots must be between 0 and " + MAX_SLOTS + ": " + slots);
        }
    }

    /** A type without slots or fast-stale: {@code workers}, {@code maxqueue}, {@code timeout} in seconds. */
    public static PoolType of(int workers, int maxQueue, int timeoutSeconds) {
        return builder().workers(workers).maxQueue(maxQueue).timeoutSeconds(timeoutSeconds).build();
    }

    /** A builder; {@code workers} and {@code maxQueue} must be set, the rest defaults to 0 / false. */
    public static Builder builder() {
        return new Builder();
    }

    private static final Set<String> CONF_KEYS = Set.of("class", "workers", "maxqueue", "timeout", "slots", "fastStale");

    /**
     * A type from a map shaped like {@code $wgPoolCounterConf[type]}: {@code workers}, {@code maxqueue},
     * {@code timeout} (seconds, may be fractional), optional {@code slots} and {@code fastStale}. A
     * {@code class} entry is accepted and ignored (Baton is the backend).
     *
     * @throws IllegalArgumentException on a missing, unknown or mistyped entry
     */
    public static PoolType fromConf(Map<String, ?> conf) {
        Objects.requireNonNull(conf, "conf");
        for (String k : conf.keySet()) {
            if (!CONF_KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown pool counter setting: " + k);
            }
        }
        Builder b = builder()
                .workers(intSetting(conf, "workers", null))
                .maxQueue(intSetting(conf, "maxqueue", null))
                .slots(intSetting(conf, "slots", 0));
        Object timeout = conf.get("timeout");
        if (!(timeout instanceof Number seconds)) {
            throw new IllegalArgumentException("timeout must be a number of seconds: " + timeout);
        }
        b.timeout(Duration.ofMillis(Math.round(seconds.doubleValue() * 1000)));
        Object fastStale = conf.get("fastStale");
        if (fastStale != null && !(fastStale instanceof Boolean)) {
            throw new IllegalArgumentException("fastStale must be a boolean: " + fastStale);
        }
        return b.fastStale(Boolean.TRUE.equals(fastStale)).build();
    }

    private static int intSetting(Map<String, ?> conf, String key, Integer dflt) {
        Object v = conf.get(key);
        if (v == null && dflt != null) {
            return dflt;
        }
        if (!(v instanceof Integer || v instanceof Long || v instanceof Short)) {
            throw new IllegalArgumentException(key + " must be an integer: " + v);
        }
        return Math.toIntExact(((Number) v).longValue());
    }

    /** Whole seconds of {@link #timeout()}, rounded down (MediaWiki's unit). */
    public long timeoutSeconds() {
        return timeout.getSeconds();
    }

    /** Builds a {@link PoolType}. Not thread-safe. */
    public static final class Builder {
        private int workers;
        private int maxQueue;
        private Duration timeout = Duration.ZERO;
        private int slots;
        private boolean fastStale;

        private Builder() {}

        /** Holders allowed per key at once ({@code workers}). */
        public Builder workers(int workers) {
            this.workers = workers;
            return this;
        }

        /** Holders + waiters per key at which an acquire gets {@code QUEUE_FULL} ({@code maxqueue}). */
        public Builder maxQueue(int maxQueue) {
            this.maxQueue = maxQueue;
            return this;
        }

        /** How long an acquire waits by default; zero: do not wait (the default). */
        public Builder timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** {@link #timeout(Duration)} in whole seconds, as MediaWiki configures it. */
        public Builder timeoutSeconds(long seconds) {
            return timeout(Duration.ofSeconds(seconds));
        }

        /** Hash keys into this many buckets per type (0, the default: use keys as given). */
        public Builder slots(int slots) {
            this.slots = slots;
            return this;
        }

        /** Enables fast-stale mode for {@link PoolCounterWork} (default off). */
        public Builder fastStale(boolean fastStale) {
            this.fastStale = fastStale;
            return this;
        }

        /**
         * The type.
         *
         * @throws IllegalArgumentException if a value is out of range (see {@link PoolType})
         */
        public PoolType build() {
            return new PoolType(workers, maxQueue, timeout, slots, fastStale);
        }
    }
}
