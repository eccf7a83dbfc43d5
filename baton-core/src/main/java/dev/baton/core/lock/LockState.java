package dev.baton.core.lock;

import dev.baton.core.session.Waiter;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * A named fenced mutex. It exists while held (a lock with waiters always has a holder: a release
 * hands it to the oldest waiter at once).
 *
 * @param waiters wait id → waiter, FIFO
 */
public record LockState(String name, long holder, long fence, long since, long requestId,
                        PersistentTreeMap<Long, Waiter> waiters) {

    public LockState withWaiters(PersistentTreeMap<Long, Waiter> w) {
        return new LockState(name, holder, fence, since, requestId, w);
    }
}
