package dev.baton.core.testing;

import dev.baton.core.dispatch.GroupState;
import dev.baton.core.dispatch.LagKey;
import dev.baton.core.session.TargetKey;
import dev.baton.core.dispatch.TargetState;
import dev.baton.core.event.EventState;
import dev.baton.core.lock.LockState;
import dev.baton.core.machine.State;
import dev.baton.core.node.NodeState;
import dev.baton.core.node.Nodes;
import dev.baton.core.pool.Holder;
import dev.baton.core.pool.PoolState;
import dev.baton.core.session.ItemKey;
import dev.baton.core.queue.ItemState;
import dev.baton.core.queue.QueueState;
import dev.baton.core.session.Deadline;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.Slot;
import dev.baton.core.session.Waiter;
import org.organicdesign.fp.collections.UnmodMap;

import java.util.ArrayList;
import java.util.List;

/**
 * Checks that one State is internally consistent: every holding is recorded on both sides (the
 * session and the thing held), every wait has a deadline, derived indexes agree with the data,
 * and no fence is above the last issued one. A state observed half-way through an update would
 * break these cross-references, which is how the concurrency test detects torn reads.
 */
public final class StateInvariants {
    private StateInvariants() {}

    /** Returns the violations (empty when consistent). {@code maxWorkers} bounds holders per pool key. */
    public static List<String> check(State s, int maxWorkers) {
        List<String> bad = new ArrayList<>();
        long counted = dev.baton.core.machine.Footprint.of(s);
        if (counted != s.stateBytes()) {
            bad.add("state bytes kept as " + s.stateBytes() + " but the state costs " + counted);
        }
        int waits = 0;
        long holders = 0;
        long poolWaits = 0;
        for (PoolState p : s.pools().values()) {
            holders += p.processing();
            poolWaits += p.waiting();
            if (p.isEmpty()) {
                bad.add("empty pool key kept: " + p.key());
            }
            if (p.processing() > maxWorkers) {
                bad.add("pool " + p.key() + " has " + p.processing() + " holders > " + maxWorkers);
            }
            for (Holder h : p.holders().values()) {
                checkLe(bad, h.fence(), s.lastFence(), "pool holder fence");
                SessionState x = s.sessions().get(h.session());
                if (x == null || !hasSlot(x, p.key(), Slot.State.HELD, h.fence())) {
                    bad.add("pool " + p.key() + " holder " + h + " not recorded in its session");
                }
            }
            for (Waiter w : p.waitMe().values()) {
                waits++;
                checkWaiter(bad, s, p.key(), w, Slot.State.WAIT_ME);
            }
            for (Waiter w : p.waitAny().values()) {
                waits++;
                checkWaiter(bad, s, p.key(), w, Slot.State.WAIT_ANY);
            }
        }
        for (SessionState x : s.sessions().values()) {
            Slot[] slots = x.slots();
            if (slots.length > s.limits().maxSlotsPerSession()) {
                bad.add("session " + x.id() + " has " + slots.length + " slots");
            }
            for (int i = 0; i < slots.length; i++) {
                Slot sl = slots[i];
                if (sl.waiting() && i != slots.length - 1) {
                    bad.add("session " + x.id() + " waits in a slot that is not its newest");
                }
                PoolState p = s.pools().get(sl.key());
                boolean found = p != null && (sl.waiting()
                        ? (sl.state() == Slot.State.WAIT_ME ? p.waitMe() : p.waitAny()).containsKey(sl.id())
                        : p.holders().containsKey(sl.id()) && p.holders().get(sl.id()).session() == x.id());
                if (!found) {
                    bad.add("session " + x.id() + " slot " + sl + " missing from its pool");
                }
            }
            for (UnmodMap.UnEntry<String, Long> e : x.locksHeld()) {
                LockState l = s.locks().get(e.getKey());
                if (l == null || l.holder() != x.id() || l.fence() != e.getValue()) {
                    bad.add("session " + x.id() + " thinks it holds lock " + e);
                }
            }
            for (UnmodMap.UnEntry<String, Long> e : x.lockWaits()) {
                LockState l = s.locks().get(e.getKey());
                if (l == null || !l.waiters().containsKey(e.getValue())) {
                    bad.add("session " + x.id() + " thinks it waits for lock " + e);
                }
            }
            for (TargetKey k : x.dispatch()) {
                GroupState g = s.groups().get(k.group());
                TargetState t = g == null ? null : g.targets().get(k.target());
                if (t == null || t.holder() != x.id()) {
                    bad.add("session " + x.id() + " thinks it holds target " + k);
                }
            }
            for (String ev : x.events()) {
                EventState e = s.events().get(ev);
                if (e == null || e.owner() != x.id()) {
                    bad.add("session " + x.id() + " thinks it owns event " + ev);
                }
            }
            for (ItemKey k : x.claimed()) {
                QueueState q = s.queues().get(k.queue());
                ItemState it = q == null ? null : q.items().get(k.item());
                if (it == null || it.claimedBy() != x.id()) {
                    bad.add("session " + x.id() + " thinks it claimed " + k);
                }
            }
        }
        for (LockState l : s.locks().values()) {
            checkLe(bad, l.fence(), s.lastFence(), "lock fence");
            SessionState x = s.sessions().get(l.holder());
            if (x == null || !Long.valueOf(l.fence()).equals(x.locksHeld().get(l.name()))) {
                bad.add("lock " + l.name() + " holder " + l.holder() + " not recorded in its session");
            }
            for (Waiter w : l.waiters().values()) {
                waits++;
                SessionState ws = s.sessions().get(w.session());
                if (ws == null || !Long.valueOf(w.waitId()).equals(ws.lockWaits().get(l.name()))) {
                    bad.add("lock " + l.name() + " waiter " + w + " not recorded in its session");
                }
                if (!s.deadlines().containsKey(new Deadline(w.deadline(), w.waitId()))) {
                    bad.add("lock wait without deadline: " + w);
                }
            }
        }
        if (holders != s.poolHolders() || poolWaits != s.poolWaiters()) {
            bad.add("pool gauges " + s.poolHolders() + "/" + s.poolWaiters() + " but " + holders + "/" + poolWaits);
        }
        if (s.deadlines().size() != waits) {
            bad.add(s.deadlines().size() + " deadlines for " + waits + " waits");
        }
        for (GroupState g : s.groups().values()) {
            if (g.byLag().size() != g.targets().size()) {
                bad.add("group " + g.name() + " lag index size differs");
            }
            for (TargetState t : g.targets().values()) {
                if (!g.byLag().contains(new LagKey(t.seen(), t.id()))) {
                    bad.add("group " + g.name() + " lag index misses " + t.id());
                }
                if (t.locked()) {
                    checkLe(bad, t.fence(), s.lastFence(), "target fence");
                    SessionState x = s.sessions().get(t.holder());
                    if (x == null || !x.dispatch().contains(new TargetKey(g.name(), t.id()))) {
                        bad.add("target " + g.name() + "/" + t.id() + " holder not recorded in its session");
                    }
                }
            }
        }
        for (EventState e : s.events().values()) {
            SessionState x = s.sessions().get(e.owner());
            if (x == null || !x.events().contains(e.name())) {
                bad.add("event " + e.name() + " owner not recorded in its session");
            }
        }
        for (QueueState q : s.queues().values()) {
            if (q.items().size() == 0) {
                bad.add("empty queue kept: " + q.name());
            }
            int ready = 0;
            for (ItemState it : q.items().values()) {
                int pending = 0;
                for (String p : it.prerequisites()) {
                    if (s.events().containsKey(p)) {
                        pending++;
                    }
                    var refs = s.eventRefs().get(p);
                    if (refs == null || !refs.contains(new ItemKey(q.name(), it.id()))) {
                        bad.add("item " + q.name() + "/" + it.id() + " missing from refs of " + p);
                    }
                }
                if (pending != it.pending()) {
                    bad.add("item " + q.name() + "/" + it.id() + " pending " + it.pending() + " but " + pending);
                }
                if (it.ready()) {
                    ready++;
                    if (!it.id().equals(q.ready().get(it.seq()))) {
                        bad.add("ready item " + it.id() + " not in ready index");
                    }
                }
                if (it.claimed()) {
                    SessionState x = s.sessions().get(it.claimedBy());
                    if (x == null || !x.claimed().contains(new ItemKey(q.name(), it.id()))) {
                        bad.add("item " + q.name() + "/" + it.id() + " claimer not recorded in its session");
                    }
                }
            }
            if (ready != q.ready().size()) {
                bad.add("queue " + q.name() + " ready index has " + q.ready().size() + " for " + ready);
            }
        }
        for (SessionState x : s.sessions().values()) {
            if (x.token() != null && !Long.valueOf(x.id()).equals(s.tokens().get(x.token()))) {
                bad.add("token of session " + x.id() + " not indexed");
            }
        }
        if (s.tokens().size() > s.sessions().size()) {
            bad.add("stale client tokens");
        }
        if (s.nodes().size() > Nodes.MAX_NODES) {
            bad.add(s.nodes().size() + " nodes in the address book");
        }
        for (UnmodMap.UnEntry<String, NodeState> e : s.nodes()) {
            NodeState n = e.getValue();
            if (!e.getKey().equals(n.raftEndpoint()) || n.apiEndpoint().isEmpty() || n.since() > s.lastTime()) {
                bad.add("bad address book entry " + e.getKey() + " → " + n);
            }
        }
        return bad;
    }

    private static void checkWaiter(List<String> bad, State s, String key, Waiter w, Slot.State st) {
        SessionState x = s.sessions().get(w.session());
        if (x == null || !hasSlot(x, key, st, w.waitId())) {
            bad.add("pool " + key + " waiter " + w + " not recorded in its session");
        }
        if (!s.deadlines().containsKey(new Deadline(w.deadline(), w.waitId()))) {
            bad.add("pool wait without deadline: " + w);
        }
    }

    private static boolean hasSlot(SessionState x, String key, Slot.State st, long id) {
        for (Slot sl : x.slots()) {
            if (sl.key().equals(key) && sl.state() == st && sl.id() == id) {
                return true;
            }
        }
        return false;
    }

    private static void checkLe(List<String> bad, long fence, long last, String what) {
        if (fence > last) {
            bad.add(what + " " + fence + " above last issued " + last);
        }
    }
}
