package dev.baton.core.command;

/**
 * How a dispatch group selects targets (Wikibase's SqlChangeDispatchCoordinator setters).
 *
 * @param intervalMs a target rests this long after a release before it is eligible again,
 *                   unless it lags by more than {@code batchSize} (dispatchInterval, 60 s)
 * @param batchSize  lag (head − seen) above which a target is eligible without resting (1000)
 * @param randomness choose at random among this many most-lagged eligible targets (15)
 */
public record DispatchSettings(long intervalMs, long batchSize, int randomness) {
    public static final DispatchSettings DEFAULTS = new DispatchSettings(60_000, 1_000, 15);

    public DispatchSettings {
        if (intervalMs < 0 || batchSize < 0 || randomness < 1) {
            throw new IllegalArgumentException("dispatch settings need intervalMs >= 0, batchSize >= 0, randomness >= 1");
        }
    }
}
