package dev.baton.core.dispatch;

import dev.baton.core.session.TargetKey;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import dev.baton.core.command.Command.DispatchAdvance;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.DispatchLock;
import dev.baton.core.command.Command.DispatchRelease;
import dev.baton.core.command.Command.DispatchSelect;
import dev.baton.core.command.Command.DispatchSetDisabled;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.DispatchReply;
import dev.baton.core.command.Result.DispatchStatus;
import dev.baton.core.command.TargetView;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import dev.baton.core.session.Participant;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.SessionTable;

import java.util.Map;
import java.util.TreeMap;

/**
 * Fair dispatch to many targets (Wikibase ChangeDispatchCoordinator, docs/design.md): per-target
 * cursors, stalest-first selection with jitter, one holder per target, released automatically (cursor
 * untouched) when the holder's session ends.
 *
 * <p>One instance per state machine; while a batch is applied it owns the dispatch groups (see
 * docs/core.md, "Inside the core").
 */
public final class Dispatch implements Participant {
    private final SessionTable sessions;
    private MutHashMap<String, GroupState> groups;

    public Dispatch(SessionTable sessions) {
        this.sessions = sessions;
    }

    /** Starts a batch from the published state's groups. */
    public void load(DispatchData d) {
        groups = d.groups().mutable();
    }

    /** The groups as they are now, for the next published state (O(1)). */
    public DispatchData freeze() {
        return new DispatchData(groups.immutable());
    }

    @Override
    public String name() {
        return "dispatch";
    }

    /** initState: idempotent; adds untracked targets with seen = 0 and never touches tracked ones. */
    public Result init(Tx tx, DispatchInit c) {
        Result.Rejected bad = tx.checkName("group", c.group());
        if (bad != null) {
            return bad;
        }
        if (c.targets() == null) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "targets must not be null");
        }
        // sorted, so that the order targets are added in never depends on the Map implementation
        TreeMap<String, String> sorted = new TreeMap<>();
        for (Map.Entry<String, String> e : c.targets().entrySet()) {
            bad = tx.checkName("target id", e.getKey());
            if (bad == null) {
                bad = tx.checkName("target name", e.getValue());
            }
            if (bad != null) {
                return bad;
            }
            sorted.put(e.getKey(), e.getValue());
        }
        GroupState g = groups.get(c.group());
        long needs = g == null ? Footprint.group(c.group()) : 0;
        if (g == null) {
            if (groups.size() >= tx.limits().maxDispatchGroups()) {
                return Tx.limit("dispatch groups", tx.limits().maxDispatchGroups());
            }
            g = GroupState.empty(c.group(), DispatchSettings.DEFAULTS);
        }
        int added = 0;
        for (Map.Entry<String, String> e : sorted.entrySet()) {
            if (!g.targets().containsKey(e.getKey())) {
                added++;
                needs += Footprint.target(e.getKey(), e.getValue());
            }
        }
        if (g.targets().size() + added > tx.limits().maxTargetsPerGroup()) {
            return Tx.limit("targets per group", tx.limits().maxTargetsPerGroup());
        }
        Result.Rejected full = tx.checkBudget("dispatch group " + c.group(), needs);
        if (full != null) {
            return full;
        }
        for (Map.Entry<String, String> e : sorted.entrySet()) {
            if (!g.targets().containsKey(e.getKey())) {
                g = g.withTarget(new TargetState(e.getKey(), e.getValue(), 0, 0, false, 0, 0));
            }
        }
        if (c.settings() != null) {
            g = g.withSettings(c.settings());
        }
        tx.charge(needs);
        groups = groups.assoc(c.group(), g);
        return new DispatchReply(DispatchStatus.INITIALIZED, null, added);
    }

    public Result advance(Tx tx, DispatchAdvance c) {
        Object g0 = group(tx, c.group());
        if (g0 instanceof Result r) {
            return r;
        }
        GroupState g = (GroupState) g0;
        if (c.head() < 0) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "head must not be negative");
        }
        if (c.head() > g.head()) {
            g = g.withHead(c.head());
            groups = groups.assoc(c.group(), g);
        }
        return new DispatchReply(DispatchStatus.ADVANCED, null, g.head());
    }

    /** selectClient: pick as Wikibase does and lock the pick for the session. */
    public Result select(Tx tx, SessionState session, DispatchSelect c) {
        Object g0 = group(tx, c.group());
        if (g0 instanceof Result r) {
            return r;
        }
        GroupState g = (GroupState) g0;
        TargetState t = DispatchSelector.select(g, tx.now(), tx.random());
        if (t == null) {
            return new DispatchReply(DispatchStatus.NONE, null, g.head());
        }
        return new DispatchReply(DispatchStatus.SELECTED, lock(tx, session, g, t), g.head());
    }

    /** lockClient: lock a given target; BUSY if another session holds it. */
    public Result lock(Tx tx, SessionState session, DispatchLock c) {
        Found f = find(tx, c.group(), c.target());
        if (f.rejection() != null) {
            return f.rejection();
        }
        GroupState g = f.group();
        TargetState t = f.target();
        if (t.holder() == session.id()) {
            return new DispatchReply(DispatchStatus.LOCKED, t.view(c.group()), g.head());
        }
        if (t.locked()) {
            return new DispatchReply(DispatchStatus.BUSY, t.view(c.group()), g.head());
        }
        return new DispatchReply(DispatchStatus.LOCKED, lock(tx, session, g, t), g.head());
    }

    private TargetView lock(Tx tx, SessionState session, GroupState g, TargetState t) {
        TargetState locked = t.lockedBy(session.id(), tx.nextFence());
        groups = groups.assoc(g.name(), g.withTarget(locked));
        sessions.put(tx, session.withDispatch(session.dispatch().put(new TargetKey(g.name(), t.id()))));
        return locked.view(g.name());
    }

    /** releaseClient: store the cursor (never backwards), touch, unlock. Refuses a stale fence. */
    public Result release(Tx tx, SessionState session, DispatchRelease c) {
        Found f = find(tx, c.group(), c.target());
        if (f.rejection() != null) {
            return f.rejection();
        }
        GroupState g = f.group();
        TargetState t = f.target();
        if (t.holder() != session.id() || (c.fence() != 0 && c.fence() != t.fence())) {
            return new Result.Rejected(ErrorCode.STALE_FENCE, "target " + c.target() + " of group " + c.group()
                    + " is not locked by this session with fence " + Long.toUnsignedString(c.fence()));
        }
        if (c.newSeen() < 0) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, "seen must not be negative");
        }
        TargetState released = t.released(c.newSeen(), tx.now());
        groups = groups.assoc(g.name(), g.withTarget(released));
        sessions.put(tx, session.withDispatch(session.dispatch().without(new TargetKey(g.name(), t.id()))));
        return new DispatchReply(DispatchStatus.RELEASED, released.view(g.name()), g.head());
    }

    public Result setDisabled(Tx tx, DispatchSetDisabled c) {
        Found f = find(tx, c.group(), c.target());
        if (f.rejection() != null) {
            return f.rejection();
        }
        GroupState g = f.group();
        TargetState u = f.target().withDisabled(c.disabled());
        groups = groups.assoc(g.name(), g.withTarget(u));
        return new DispatchReply(DispatchStatus.UPDATED, u.view(g.name()), g.head());
    }

    /** The holder died: unlock its targets without moving their cursors or touch times. */
    @Override
    public void onSessionEnd(Tx tx, SessionState session) {
        for (TargetKey k : session.dispatch()) {
            GroupState g = groups.get(k.group());
            TargetState t = g.targets().get(k.target());
            groups = groups.assoc(g.name(), g.withTarget(t.unlocked()));
        }
    }

    /** A group and one of its targets, or why they could not be found. */
    private record Found(GroupState group, TargetState target, Result rejection) {}

    private Found find(Tx tx, String group, String target) {
        Result.Rejected bad = tx.checkName("target id", target);
        if (bad != null) {
            return new Found(null, null, bad);
        }
        Object g0 = group(tx, group);
        if (g0 instanceof Result r) {
            return new Found(null, null, r);
        }
        GroupState g = (GroupState) g0;
        TargetState t = g.targets().get(target);
        return t == null ? new Found(g, null, noTarget(group, target)) : new Found(g, t, null);
    }

    /** The group, or the rejection (bad name, or no such group). */
    private Object group(Tx tx, String group) {
        Result.Rejected bad = tx.checkName("group", group);
        if (bad != null) {
            return bad;
        }
        GroupState g = groups.get(group);
        return g != null ? g : noGroup(group);
    }

    private Result noGroup(String group) {
        return new Result.Rejected(ErrorCode.NOT_FOUND, "no dispatch group " + group);
    }

    private Result noTarget(String group, String target) {
        return new Result.Rejected(ErrorCode.NOT_FOUND, "no target " + target + " in dispatch group " + group);
    }
}
