package dev.baton.core.queue;

import dev.baton.core.session.ItemKey;
import org.organicdesign.fp.collections.PersistentHashMap;
import org.organicdesign.fp.collections.PersistentTreeSet;

/**
 * The queues' part of one published state: immutable, like the whole {@code State}.
 *
 * @param queues    every queue with an item, by name
 * @param eventRefs event name → the items that name it as a prerequisite (derived: rebuilt from the
 *                  items on recovery)
 */
public record QueueData(PersistentHashMap<String, QueueState> queues,
                        PersistentHashMap<String, PersistentTreeSet<ItemKey>> eventRefs) {
    public static final QueueData EMPTY = new QueueData(PersistentHashMap.empty(), PersistentHashMap.empty());
}
