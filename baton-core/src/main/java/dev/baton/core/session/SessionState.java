package dev.baton.core.session;

import org.organicdesign.fp.collections.PersistentTreeMap;
import org.organicdesign.fp.collections.PersistentTreeSet;

import java.util.Arrays;

/**
 * One client session: its lease and everything it holds or waits for, so that ending it can
 * release all of it. Immutable; every change makes a new instance (the collections inside are
 * persistent and shared).
 *
 * @param id          session id, never reused
 * @param token       the client token it was opened with, or null
 * @param ttlMs       lease length; the leader expires the session after this long without keep-alive
 * @param openedAt    entry time of the open
 * @param slots       pool slots, oldest first (a stack: poolcounterd's RELEASE pops the newest)
 * @param locksHeld   lock name → fence
 * @param lockWaits   lock name → wait id
 * @param dispatch    dispatch targets it has locked
 * @param events      events it began and that are still pending
 * @param claimed     queue items it has claimed
 * @param recent      idempotency window
 */
public record SessionState(long id, String token, long ttlMs, long openedAt, Slot[] slots,
                           PersistentTreeMap<String, Long> locksHeld, PersistentTreeMap<String, Long> lockWaits,
                           PersistentTreeSet<TargetKey> dispatch, PersistentTreeSet<String> events,
                           PersistentTreeSet<ItemKey> claimed, RecentResults recent) {

    private static final Slot[] NO_SLOTS = new Slot[0];

    public static SessionState open(long id, String token, long ttlMs, long now) {
        return new SessionState(id, token, ttlMs, now, NO_SLOTS, PersistentTreeMap.empty(), PersistentTreeMap.empty(),
                PersistentTreeSet.empty(), PersistentTreeSet.empty(), PersistentTreeSet.empty(), RecentResults.EMPTY);
    }

    public Slot topSlot() {
        return slots.length == 0 ? null : slots[slots.length - 1];
    }

    public SessionState pushSlot(Slot s) {
        Slot[] n = Arrays.copyOf(slots, slots.length + 1);
        n[slots.length] = s;
        return withSlots(n);
    }

    public SessionState removeSlot(int i) {
        if (slots.length == 1) {
            return withSlots(NO_SLOTS);
        }
        Slot[] n = new Slot[slots.length - 1];
        System.arraycopy(slots, 0, n, 0, i);
        System.arraycopy(slots, i + 1, n, i, slots.length - i - 1);
        return withSlots(n);
    }

    public SessionState replaceSlot(int i, Slot s) {
        Slot[] n = slots.clone();
        n[i] = s;
        return withSlots(n);
    }

    /** Index of the slot waiting with the given wait id, or -1. */
    public int slotIndexOfWait(long waitId) {
        for (int i = slots.length - 1; i >= 0; i--) {
            if (slots[i].waiting() && slots[i].id() == waitId) {
                return i;
            }
        }
        return -1;
    }

    public SessionState withSlots(Slot[] s) {
        return new SessionState(id, token, ttlMs, openedAt, s, locksHeld, lockWaits, dispatch, events, claimed, recent);
    }

    public SessionState withLocks(PersistentTreeMap<String, Long> held, PersistentTreeMap<String, Long> waits) {
        return new SessionState(id, token, ttlMs, openedAt, slots, held, waits, dispatch, events, claimed, recent);
    }

    public SessionState withDispatch(PersistentTreeSet<TargetKey> d) {
        return new SessionState(id, token, ttlMs, openedAt, slots, locksHeld, lockWaits, d, events, claimed, recent);
    }

    public SessionState withEvents(PersistentTreeSet<String> e) {
        return new SessionState(id, token, ttlMs, openedAt, slots, locksHeld, lockWaits, dispatch, e, claimed, recent);
    }

    public SessionState withClaimed(PersistentTreeSet<ItemKey> c) {
        return new SessionState(id, token, ttlMs, openedAt, slots, locksHeld, lockWaits, dispatch, events, c, recent);
    }

    public SessionState withRecent(RecentResults r) {
        return new SessionState(id, token, ttlMs, openedAt, slots, locksHeld, lockWaits, dispatch, events, claimed, r);
    }
}
