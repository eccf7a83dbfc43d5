package dev.baton.core.pool;

import org.organicdesign.fp.collections.PersistentHashMap;

/**
 * The pools' part of one published state: immutable, like the whole {@code State}.
 *
 * @param keys    every pool key with a holder or a waiter
 * @param holders held slots over all keys (kept as it changes, so STATS need not scan)
 * @param waiters waiting slots over all keys
 */
public record PoolData(PersistentHashMap<String, PoolState> keys, long holders, long waiters) {
    public static final PoolData EMPTY = new PoolData(PersistentHashMap.empty(), 0, 0);
}
