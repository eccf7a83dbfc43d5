package dev.baton.core.dispatch;

import org.organicdesign.fp.collections.PersistentHashMap;

/** Dispatch's part of one published state (every group by name): immutable, like the whole {@code State}. */
public record DispatchData(PersistentHashMap<String, GroupState> groups) {
    public static final DispatchData EMPTY = new DispatchData(PersistentHashMap.empty());
}
