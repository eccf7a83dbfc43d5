package dev.baton.client.dispatch;

import java.time.Instant;
import java.util.Objects;

/**
 * One dispatch target as its holder sees it: Wikibase's state row {@code chd_site, chd_db, chd_seen,
 * chd_touched, chd_lock}, with the lock as a fence.
 *
 * <p>A state returned by {@link ChangeDispatchCoordinator#selectClient()} or
 * {@link ChangeDispatchCoordinator#lockClient(String)} is locked for this client's session and carries
 * the fence of that grant; {@link ChangeDispatchCoordinator#releaseClient(DispatchState)} quotes it, so
 * a dispatcher that lost its lock (its session ended and another took the target) cannot store a
 * cursor over the new holder's work. A released state has fence 0.
 *
 * @param site    the target's id (Wikibase: the client wiki's global site id)
 * @param db      the target's name (Wikibase: the client wiki's database name)
 * @param seen    the cursor: the id of the last change dispatched to this target (0 = none yet)
 * @param touched when the target was last released ({@link Instant#EPOCH} = never)
 * @param fence   the fence of the lock this state was granted with, 0 if it is not locked
 */
public record DispatchState(String site, String db, long seen, Instant touched, long fence) {

    /** Checks the fields: names and time present, cursor and fence not negative. */
    public DispatchState {
        Objects.requireNonNull(site, "site");
        Objects.requireNonNull(db, "db");
        Objects.requireNonNull(touched, "touched");
        if (seen < 0) {
            throw new IllegalArgumentException("seen must not be negative: " + seen);
        }
        if (fence < 0) {
            throw new IllegalArgumentException("fence must not be negative: " + fence);
        }
    }

    /** True if this state was granted with a lock (it has a fence to release with). */
    public boolean locked() {
        return fence != 0;
    }

    /**
     * This state with the cursor moved to {@code newSeen}, for
     * {@link ChangeDispatchCoordinator#releaseClient(DispatchState)}.
     *
     * @throws IllegalArgumentException if {@code newSeen} is below the current cursor: a cursor never
     *                                  moves backwards (the server would keep the higher one anyway)
     */
    public DispatchState withSeen(long newSeen) {
        if (newSeen < seen) {
            throw new IllegalArgumentException("the cursor of " + site + " never moves backwards: " + newSeen
                    + " < " + seen);
        }
        return new DispatchState(site, db, newSeen, touched, fence);
    }
}
