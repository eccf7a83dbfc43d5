package dev.baton.core.command;

import java.util.List;

/**
 * A read-only question to the state machine, typed by its answer. Answers are taken from one
 * published state, so they are consistent. "Get" queries answer null when the thing does not exist.
 */
public sealed interface Query<R> {
    /**
     * A question about one named thing (a pool key, a lock, a dispatch group, an event, a queue): a
     * front door checks the name against what its caller may touch.
     */
    sealed interface Named<R> extends Query<R> permits GetPool, GetLock, GetGroup, GetEvent, GetQueue {
        String resourceName();
    }

    record GetSession(long session) implements Query<View.Session> {}

    /**
     * The client token a session was opened with: null if there is no such session, "" if it was
     * opened without one. O(1), for the per-request ownership check of a front door.
     */
    record GetSessionToken(long session) implements Query<String> {}

    record ListSessionLeases() implements Query<List<View.SessionLease>> {}

    record GetPool(String key) implements Named<View.Pool> {
        @Override
        public String resourceName() {
            return key;
        }
    }

    /** How {@link ListPools} orders keys: most waiters (then holders) first, most holders first, or by key. */
    enum PoolOrder { WAITERS, HOLDERS, KEY }

    /**
     * The first {@code limit} pool keys in {@code order} (ties broken by key), with the number of
     * keys in all. Scans every key: an operator's question, not a hot-path one.
     */
    record ListPools(PoolOrder order, int limit) implements Query<View.PoolList> {
        public ListPools {
            if (order == null || limit < 0) {
                throw new IllegalArgumentException("ListPools needs an order and limit >= 0");
            }
        }
    }

    /** The first {@code limit} sessions by id, with the number of sessions in all. */
    record ListSessions(int limit) implements Query<View.SessionList> {
        public ListSessions {
            if (limit < 0) {
                throw new IllegalArgumentException("ListSessions needs limit >= 0");
            }
        }
    }

    /** Every dispatch group with its targets, sorted by name. */
    record ListGroups() implements Query<List<View.Group>> {}

    /** Every queue with its item counts, sorted by name. */
    record ListQueues() implements Query<List<View.QueueBrief>> {}

    record GetPoolTotals() implements Query<View.PoolTotals> {}

    record GetLock(String name) implements Named<View.Lock> {
        @Override
        public String resourceName() {
            return name;
        }
    }

    record GetGroup(String group) implements Named<View.Group> {
        @Override
        public String resourceName() {
            return group;
        }
    }

    record GetEvent(String name) implements Named<View.Event> {
        @Override
        public String resourceName() {
            return name;
        }
    }

    record ListEvents() implements Query<List<View.Event>> {}

    record GetQueue(String queue) implements Named<View.Queue> {
        @Override
        public String resourceName() {
            return queue;
        }
    }

    /** The earliest wait deadline, or {@code Long.MAX_VALUE}: when the leader should propose ExpireWaits. */
    record NextDeadline() implements Query<Long> {}

    record GetSummary() implements Query<View.Summary> {}

    record GetLimits() implements Query<Limits> {}

    /** The state budget: bytes in use ({@code dev.baton.core.machine.Footprint}) against {@code Limits.maxStateBytes}. O(1). */
    record GetStateBytes() implements Query<View.StateBytes> {}

    /** The cluster's address book ({@link Command.AnnounceNode}), sorted by Raft endpoint. */
    record ListNodes() implements Query<List<View.Node>> {}

    /**
     * The whole coordination state as pretty-printed JSON (2-space indentation), for the admin API.
     * Deterministic: equal states give identical text (everything is listed in sorted order), so
     * dumps of replicas, or of one node before and after a restart, can be compared as strings.
     */
    record DumpJson() implements Query<String> {}
}
