package dev.baton.core.dispatch;

import dev.baton.core.command.TargetView;

/** One dispatch target (a Wikibase client wiki): cursor, last touch, lock holder and fence. */
public record TargetState(String id, String name, long seen, long touched, boolean disabled, long holder, long fence) {

    public boolean locked() {
        return holder != 0;
    }

    public TargetView view(String group) {
        return new TargetView(group, id, name, seen, touched, disabled, holder, fence);
    }
}
