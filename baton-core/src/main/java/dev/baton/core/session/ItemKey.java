package dev.baton.core.session;

/** Identifies a queue item across queues; ordered by queue then item so iteration is deterministic. */
public record ItemKey(String queue, String item) implements Comparable<ItemKey> {
    @Override
    public int compareTo(ItemKey o) {
        int c = queue.compareTo(o.queue);
        return c != 0 ? c : item.compareTo(o.item);
    }
}
