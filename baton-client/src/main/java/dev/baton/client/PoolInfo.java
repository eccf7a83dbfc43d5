package dev.baton.client;

import java.util.List;

/**
 * A pool's holders and waiters.
 *
 * @param key the pool key
 * @param exists false for an idle key
 * @param processing slots held
 * @param waiting requests waiting
 * @param holders the holders, oldest first
 * @param waiters the waiters, in queue order
 */
public record PoolInfo(String key, boolean exists, int processing, int waiting, List<PoolHolder> holders, List<PoolWaiter> waiters) {}
