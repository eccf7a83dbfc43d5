package dev.baton.core.pool;

import dev.baton.core.session.Waiter;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * One pool key (poolcounterd's {@code struct PoolCounter}). {@code workers} and {@code maxqueue}
 * are not stored: each request is judged by its own values, as in poolcounterd. The key exists
 * only while it has holders or waiters.
 *
 * @param holders fence → holder, in grant order
 * @param waitMe  wait id → ACQ4ME waiter, FIFO
 * @param waitAny wait id → ACQ4ANY waiter, FIFO
 */
public record PoolState(String key, PersistentTreeMap<Long, Holder> holders, PersistentTreeMap<Long, Waiter> waitMe,
                        PersistentTreeMap<Long, Waiter> waitAny) {

    public static PoolState empty(String key) {
        return new PoolState(key, PersistentTreeMap.empty(), PersistentTreeMap.empty(), PersistentTreeMap.empty());
    }

    public int processing() {
        return holders.size();
    }

    public int waiting() {
        return waitMe.size() + waitAny.size();
    }

    /** Holders plus waiters: what {@code maxqueue} is compared with. */
    public int count() {
        return holders.size() + waitMe.size() + waitAny.size();
    }

    public boolean isEmpty() {
        return count() == 0;
    }

    public PoolState withHolders(PersistentTreeMap<Long, Holder> h) {
        return new PoolState(key, h, waitMe, waitAny);
    }

    public PoolState withWaiters(PersistentTreeMap<Long, Waiter> me, PersistentTreeMap<Long, Waiter> any) {
        return new PoolState(key, holders, me, any);
    }
}
