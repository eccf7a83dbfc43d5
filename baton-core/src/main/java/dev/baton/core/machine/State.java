package dev.baton.core.machine;

import dev.baton.core.command.Limits;
import dev.baton.core.dispatch.DispatchData;
import dev.baton.core.dispatch.GroupState;
import dev.baton.core.event.EventData;
import dev.baton.core.event.EventState;
import dev.baton.core.lock.LockData;
import dev.baton.core.lock.LockState;
import dev.baton.core.node.NodeData;
import dev.baton.core.node.NodeState;
import dev.baton.core.pool.PoolData;
import dev.baton.core.pool.PoolState;
import dev.baton.core.queue.QueueData;
import dev.baton.core.queue.QueueState;
import dev.baton.core.session.Deadline;
import dev.baton.core.session.ItemKey;
import dev.baton.core.session.SessionData;
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
 * <p>Besides the entry counters, the limits and the pool counters, it is made of one part per
 * primitive, each defined in the primitive's package and produced by it at the end of a batch
 * ({@code Pools.freeze()}, ...). The accessors below the parts are shorthands for their maps.
 *
 * @param lastIndex     index of the last applied entry
 * @param lastTime      timestamp of the last applied entry (never decreases)
 * @param lastFence     the largest fence ever issued
 * @param nextSessionId id the next opened session gets
 * @param lastSeq       the last issued wait id / queue position
 * @param stateBytes    what the state costs against {@code Limits.maxStateBytes} ({@link Footprint}),
 *                      kept as it changes; always equal to {@code Footprint.of(this)}
 */
public record State(long lastIndex, long lastTime, long lastFence, long nextSessionId, long lastSeq, Limits limits,
                    SessionData sessionData, PoolData poolData, LockData lockData, DispatchData dispatchData,
                    EventData eventData, QueueData queueData, NodeData nodeData, PoolCounters poolCounters,
                    long stateBytes) {

    public static State initial(Limits limits) {
        return new State(0, 0, 0, 1, 0, limits, SessionData.EMPTY, PoolData.EMPTY, LockData.EMPTY, DispatchData.EMPTY,
                EventData.EMPTY, QueueData.EMPTY, NodeData.EMPTY, PoolCounters.ZERO, 0);
    }

    State withStateBytes(long bytes) {
        return new State(lastIndex, lastTime, lastFence, nextSessionId, lastSeq, limits, sessionData, poolData,
                lockData, dispatchData, eventData, queueData, nodeData, poolCounters, bytes);
    }

    public PersistentHashMap<Long, SessionState> sessions() {
        return sessionData.sessions();
    }

    public PersistentHashMap<String, Long> tokens() {
        return sessionData.tokens();
    }

    /** Every pending wait, by deadline. */
    public PersistentTreeMap<Deadline, WaitRef> deadlines() {
        return sessionData.deadlines();
    }

    public PersistentHashMap<String, PoolState> pools() {
        return poolData.keys();
    }

    /** Held pool slots over all keys. */
    public long poolHolders() {
        return poolData.holders();
    }

    /** Waiting pool slots over all keys. */
    public long poolWaiters() {
        return poolData.waiters();
    }

    public PersistentHashMap<String, LockState> locks() {
        return lockData.locks();
    }

    public PersistentHashMap<String, GroupState> groups() {
        return dispatchData.groups();
    }

    public PersistentHashMap<String, EventState> events() {
        return eventData.events();
    }

    public PersistentHashMap<String, QueueState> queues() {
        return queueData.queues();
    }

    /** Event name → queue items that name it as a prerequisite. */
    public PersistentHashMap<String, PersistentTreeSet<ItemKey>> eventRefs() {
        return queueData.eventRefs();
    }

    /** The cluster's address book: Raft endpoint → node. */
    public PersistentHashMap<String, NodeState> nodes() {
        return nodeData.nodes();
    }
}
