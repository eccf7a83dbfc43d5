package dev.baton.client.dispatch;

import java.util.List;

/**
 * Where a {@link Dispatcher} reads changes from (Wikibase: the {@code wb_changes} table through its
 * chunk cache).
 *
 * <p>The contract the dispatcher relies on: once {@link #head()} has returned {@code h}, every change
 * with an id up to {@code h} is visible to {@link #after(long, int)}. So when {@code after} returns
 * fewer than {@code max} changes, there are no others up to the head it read before, and the cursor
 * may jump over gaps in the ids to that head.
 *
 * @param <C> the type of change
 */
public interface ChangeSource<C extends Change> {
    /** The id of the newest change (0 if there is none). Never decreases. */
    long head() throws Exception;

    /**
     * Up to {@code max} changes with ids above {@code seen}, in increasing id order, oldest first.
     * Fewer than {@code max} only when there are no more (the dispatcher then moves the cursor to the
     * head it read before, over any gaps in the ids).
     *
     * @param seen a target's cursor
     * @param max  the batch size, at least 1
     */
    List<C> after(long seen, int max) throws Exception;
}
