package dev.baton.core.machine;

import dev.baton.core.command.Limits;
import dev.baton.core.dispatch.GroupState;
import dev.baton.core.event.EventState;
import dev.baton.core.lock.LockState;
import dev.baton.core.node.NodeState;
import dev.baton.core.pool.PoolState;
import dev.baton.core.session.ItemKey;
import dev.baton.core.queue.QueueState;
import dev.baton.core.session.Deadline;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.WaitRef;
import org.organicdesign.fp.collections.PersistentHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;
import org.organicdesign.fp.collections.PersistentTreeSet;

/**
 * The whole coordination state at one log index. Immutable: {@code update} builds the next State
 * (sharing everything it did not change) and publishes it, so a reader or a snapshot holding a State
 * sees exactly one point in time however long it takes.
 *
 * @param lastIndex     index of the last applied entry
 * @param lastTime      timestamp of the last applied entry (never decreases)
 * @param lastFence     the largest fence ever issued
 * @param nextSessionId id the next opened session gets
 * @param lastSeq       the last issued wait id / queue position
 * @param deadlines     every pending wait, by deadline
 * @param eventRefs     event name → queue items that name it as a prerequisite
 * @param poolHolders   held pool slots over all keys (kept as it changes, so STATS need not scan)
 * @param poolWaiters   waiting pool slots over all keys
 * @param nodes         the cluster's address book: Raft endpoint → node
 * @param stateBytes    what the state costs against {@code Limits.maxStateBytes} ({@link Footprint}),
 *                      kept as it changes; always equal to {@code Footprint.of(this)}
 */
public record State(long lastIndex, long lastTime, long lastFence, long nextSessionId, long lastSeq, Limits limits,
                    PersistentHashMap<Long, SessionState> sessions, PersistentHashMap<String, Long> tokens,
                    PersistentHashMap<String, PoolState> pools, PersistentHashMap<String, LockState> locks,
                    PersistentTreeMap<Deadline, WaitRef> deadlines, PersistentHashMap<String, GroupState> groups,
                    PersistentHashMap<String, EventState> events, PersistentHashMap<String, QueueState> queues,
                    PersistentHashMap<String, PersistentTreeSet<ItemKey>> eventRefs, PoolCounters poolCounters,
                    long poolHolders, long poolWaiters, PersistentHashMap<String, NodeState> nodes,
                    long stateBytes) {

    public static State initial(Limits limits) {
        return new State(0, 0, 0, 1, 0, limits, PersistentHashMap.empty(), PersistentHashMap.empty(),
                PersistentHashMap.empty(), PersistentHashMap.empty(), PersistentTreeMap.empty(),
                PersistentHashMap.empty(), PersistentHashMap.empty(), PersistentHashMap.empty(),
                PersistentHashMap.empty(), PoolCounters.ZERO, 0, 0, PersistentHashMap.empty(), 0);
    }

    State withStateBytes(long bytes) {
        return new State(lastIndex, lastTime, lastFence, nextSessionId, lastSeq, limits, sessions, tokens, pools, locks,
                deadlines, groups, events, queues, eventRefs, poolCounters, poolHolders, poolWaiters, nodes, bytes);
    }
}
