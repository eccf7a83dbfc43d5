package dev.baton.core.lock;

import org.organicdesign.fp.collections.PersistentHashMap;

/** The locks' part of one published state (every held lock by name): immutable, like the whole {@code State}. */
public record LockData(PersistentHashMap<String, LockState> locks) {
    public static final LockData EMPTY = new LockData(PersistentHashMap.empty());
}
