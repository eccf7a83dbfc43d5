package dev.baton.core.dispatch;

import dev.baton.core.command.TargetView;

/** One dispatch target (a Wikibase client wiki): cursor, last touch, lock holder and fence. */
public record TargetState(String id, String name, long seen, long touched, boolean disabled, long holder, long fence) {

    public boolean locked() {
        return holder != 0;
    }

    public TargetState lockedBy(long session, long newFence) {
        return new TargetState(id, name, seen, touched, disabled, session, newFence);
    }

    /** Unlocked with cursor and touch time unchanged (the holder died). */
    public TargetState unlocked() {
        return new TargetState(id, name, seen, touched, disabled, 0, 0);
    }

    /** Released by its holder at {@code now} with a cursor that never moves backwards. */
    public TargetState released(long newSeen, long now) {
        return new TargetState(id, name, Math.max(seen, newSeen), now, disabled, 0, 0);
    }

    public TargetState withDisabled(boolean d) {
        return new TargetState(id, name, seen, touched, d, holder, fence);
    }

    public TargetView view(String group) {
        return new TargetView(group, id, name, seen, touched, disabled, holder, fence);
    }
}
