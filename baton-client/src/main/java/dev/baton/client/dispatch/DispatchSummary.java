package dev.baton.client.dispatch;

/**
 * What a {@link Dispatcher} run did. Every pass has exactly one outcome, so
 * {@code passes == batches + empty + idle + failed}.
 *
 * @param passes  passes made (idle ones included, as Wikibase counts them toward max-passes)
 * @param batches passes that delivered a batch and released the target with the new cursor
 * @param changes changes handed to the sink (including batches whose release then failed)
 * @param empty   passes that selected a target but found no changes to deliver (the cursor still
 *                moved over gaps in the ids)
 * @param idle    passes that found no eligible target (each followed by the idle delay, unless last)
 * @param failed  passes that failed (source, sink or Baton errors), each followed by the idle delay
 */
public record DispatchSummary(long passes, long batches, long changes, long empty, long idle, long failed) {
    @Override
    public String toString() {
        return "passes=" + passes + " batches=" + batches + " changes=" + changes + " empty=" + empty
                + " idle=" + idle + " failed=" + failed;
    }
}
