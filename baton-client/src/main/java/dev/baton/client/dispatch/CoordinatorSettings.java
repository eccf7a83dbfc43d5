package dev.baton.client.dispatch;

import java.time.Duration;
import java.util.Objects;

/**
 * How a dispatch group selects its next target: Wikibase's {@code SqlChangeDispatchCoordinator}
 * setters, kept by Baton as replicated settings of the group (the core's {@code DispatchSettings}).
 * A target is eligible when it has pending changes ({@code seen < head}), is not disabled or locked,
 * and either rested for {@code dispatchInterval} since its last release or lags by more than
 * {@code batchSize} changes; the pick is random among the {@code randomness} most lagged eligible
 * targets.
 *
 * @param dispatchInterval how long a target rests after a release (Wikibase default 60 s); sent in
 *                         whole milliseconds
 * @param batchSize        lag above which a target is eligible without resting (default 1000); the
 *                         {@link Dispatcher} also reads at most this many changes per batch, as
 *                         Wikibase's {@code ChangeDispatcher} does with the same option
 * @param randomness       pick at random among this many most-lagged targets (default 15; 1 = strictly
 *                         the most lagged)
 */
public record CoordinatorSettings(Duration dispatchInterval, int batchSize, int randomness) {

    /** Wikibase's defaults (also what the core gives a new group): 60 s, 1000, 15. */
    public static final CoordinatorSettings DEFAULTS = new CoordinatorSettings(Duration.ofSeconds(60), 1000, 15);

    /** Checks the values: interval not negative, batch size at least 1, randomness at least 1. */
    public CoordinatorSettings {
        Objects.requireNonNull(dispatchInterval, "dispatchInterval");
        if (dispatchInterval.isNegative()) {
            throw new IllegalArgumentException("dispatchInterval must not be negative: " + dispatchInterval);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1: " + batchSize);
        }
        if (randomness < 1) {
            throw new IllegalArgumentException("randomness must be at least 1: " + randomness);
        }
    }

    /** These settings with another dispatch interval. */
    public CoordinatorSettings withDispatchInterval(Duration interval) {
        return new CoordinatorSettings(interval, batchSize, randomness);
    }

    /** These settings with another batch size. */
    public CoordinatorSettings withBatchSize(int size) {
        return new CoordinatorSettings(dispatchInterval, size, randomness);
    }

    /** These settings with another randomness. */
    public CoordinatorSettings withRandomness(int n) {
        return new CoordinatorSettings(dispatchInterval, batchSize, n);
    }

    /** The settings as the client sends them. */
    dev.baton.client.DispatchSettings toSettings() {
        return new dev.baton.client.DispatchSettings(dispatchInterval.toMillis(), batchSize, randomness);
    }
}
