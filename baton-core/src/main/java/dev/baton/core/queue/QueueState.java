package dev.baton.core.queue;

import org.organicdesign.fp.collections.PersistentHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * A gated work queue: all its items, and the claimable ones in FIFO order (seq → item id) so a
 * claim never scans gated or claimed items. The queue exists while it has items.
 */
public record QueueState(String name, PersistentHashMap<String, ItemState> items, PersistentTreeMap<Long, String> ready) {

    public static QueueState empty(String name) {
        return new QueueState(name, PersistentHashMap.empty(), PersistentTreeMap.empty());
    }
}
