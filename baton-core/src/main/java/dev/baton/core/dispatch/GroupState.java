package dev.baton.core.dispatch;

import dev.baton.core.command.DispatchSettings;
import org.organicdesign.fp.collections.PersistentTreeMap;
import org.organicdesign.fp.collections.PersistentTreeSet;

/**
 * A dispatch group: its targets, the head of the change feed, its selection settings, and an index
 * of the targets by cursor so that selection reads the most-lagged ones first.
 */
public record GroupState(String name, long head, DispatchSettings settings,
                         PersistentTreeMap<String, TargetState> targets, PersistentTreeSet<LagKey> byLag) {

    public static GroupState empty(String name, DispatchSettings settings) {
        return new GroupState(name, 0, settings, PersistentTreeMap.empty(), PersistentTreeSet.empty());
    }

    /** Replaces a target, keeping the lag index in step with its cursor. */
    public GroupState withTarget(TargetState t) {
        TargetState old = targets.get(t.id());
        PersistentTreeSet<LagKey> idx = byLag;
        if (old == null || old.seen() != t.seen()) {
            if (old != null) {
                idx = idx.without(new LagKey(old.seen(), old.id()));
            }
            idx = idx.put(new LagKey(t.seen(), t.id()));
        }
        return new GroupState(name, head, settings, targets.assoc(t.id(), t), idx);
    }

    public GroupState withHead(long h) {
        return new GroupState(name, h, settings, targets, byLag);
    }

    public GroupState withSettings(DispatchSettings s) {
        return new GroupState(name, head, s, targets, byLag);
    }
}
