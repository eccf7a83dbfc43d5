package dev.baton.client.dispatch;

import java.util.List;

/**
 * What a {@link Dispatcher} does with a batch (Wikibase: {@code sendNotification}, which queues a job
 * on the client wiki). Delivery is at least once: a batch whose delivery or release failed, or whose
 * dispatcher died, is delivered again, so deliveries should be idempotent or de-duplicated downstream.
 *
 * @param <C> the type of change
 */
@FunctionalInterface
public interface ChangeSink<C extends Change> {
    /**
     * Delivers {@code batch} to {@code target}. Called only while the dispatcher holds the target's
     * lock; quote {@code target.fence()} downstream to reject a delivery by a dispatcher that lost it.
     * A thrown exception fails the pass: the target is released with its cursor unchanged.
     *
     * @param target the locked target, with the cursor as it was before this batch
     * @param batch  one or more changes with ids above {@code target.seen()}, in increasing id order
     */
    void deliver(DispatchState target, List<C> batch) throws Exception;
}
