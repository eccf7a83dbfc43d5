package dev.baton.core.command;

import java.util.List;

/**
 * A read-only question to the state machine, typed by its answer. Answers are taken from one
 * published state, so they are consistent. "Get" queries answer null when the thing does not exist.
 */
public sealed interface Query<R> {

    /**
     * Which query this is, one constant per record, for switch expressions that the compiler
     * checks for completeness (the state machine's answers, a door's access checks).
     */
    enum Kind {
        GET_SESSION,
        GET_SESSION_TOKEN,
        LIST_SESSION_LEASES,
        GET_POOL,
        LIST_POOLS,
        LIST_SESSIONS,
        LIST_GROUPS,
        LIST_QUEUES,
        GET_POOL_TOTALS,
        GET_LOCK,
        LIST_LOCKS,
        GET_GROUP,
        GET_EVENT,
        LIST_EVENTS,
        GET_QUEUE,
        NEXT_DEADLINE,
        GET_SUMMARY,
        GET_LIMITS,
        GET_STATE_BYTES,
        LIST_NODES,
        DUMP_JSON
    }

    /** Which one this is; see {@link Kind}. */
    Kind kind();

    /**
     * A question about one named thing (a pool key, a lock, a dispatch group, an event, a queue): a
     * front door checks the name against what its caller may touch.
     */
    sealed interface Named<R> extends Query<R> permits GetPool, GetLock, GetGroup, GetEvent, GetQueue {
        String resourceName();
    }

    record GetSession(long session) implements Query<View.Session> {
        @Override
        public Kind kind() {
            return Kind.GET_SESSION;
        }
    }

    /**
     * The client token a session was opened with: null if there is no such session, "" if it was
     * opened without one. O(1), for the per-request ownership check of a front door.
     */
    record GetSessionToken(long session) implements Query<String> {
        @Override
        public Kind kind() {
            return Kind.GET_SESSION_TOKEN;
        }
    }

    record ListSessionLeases() implements Query<List<View.SessionLease>> {
        @Override
        public Kind kind() {
            return Kind.LIST_SESSION_LEASES;
        }
    }

    record GetPool(String key) implements Named<View.Pool> {
        @Override
        public Kind kind() {
            return Kind.GET_POOL;
        }

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
        @Override
        public Kind kind() {
            return Kind.LIST_POOLS;
        }

        public ListPools {
            if (order == null || limit < 0) {
                throw new IllegalArgumentException("ListPools needs an order and limit >= 0");
            }
        }
    }

    /** The first {@code limit} sessions by id, with the number of sessions in all. */
    record ListSessions(int limit) implements Query<View.SessionList> {
        @Override
        public Kind kind() {
            return Kind.LIST_SESSIONS;
        }

        public ListSessions {
            if (limit < 0) {
                throw new IllegalArgumentException("ListSessions needs limit >= 0");
            }
        }
    }

    /** Every dispatch group with its targets, sorted by name. */
    record ListGroups() implements Query<List<View.Group>> {
        @Override
        public Kind kind() {
            return Kind.LIST_GROUPS;
        }
    }

    /** Every queue with its item counts, sorted by name. */
    record ListQueues() implements Query<List<View.QueueBrief>> {
        @Override
        public Kind kind() {
            return Kind.LIST_QUEUES;
        }
    }

    record GetPoolTotals() implements Query<View.PoolTotals> {
        @Override
        public Kind kind() {
            return Kind.GET_POOL_TOTALS;
        }
    }

    record GetLock(String name) implements Named<View.Lock> {
        @Override
        public Kind kind() {
            return Kind.GET_LOCK;
        }

        @Override
        public String resourceName() {
            return name;
        }
    }

    /**
     * The first {@code limit} fenced locks, most waiters first (ties by name), with the number of
     * locks in all. Scans every lock: an operator's question, not a hot-path one.
     */
    record ListLocks(int limit) implements Query<View.LockList> {
        @Override
        public Kind kind() {
            return Kind.LIST_LOCKS;
        }

        public ListLocks {
            if (limit < 0) {
                throw new IllegalArgumentException("ListLocks needs limit >= 0");
            }
        }
    }

    record GetGroup(String group) implements Named<View.Group> {
        @Override
        public Kind kind() {
            return Kind.GET_GROUP;
        }

        @Override
        public String resourceName() {
            return group;
        }
    }

    record GetEvent(String name) implements Named<View.Event> {
        @Override
        public Kind kind() {
            return Kind.GET_EVENT;
        }

        @Override
        public String resourceName() {
            return name;
        }
    }

    record ListEvents() implements Query<List<View.Event>> {
        @Override
        public Kind kind() {
            return Kind.LIST_EVENTS;
        }
    }

    record GetQueue(String queue) implements Named<View.Queue> {
        @Override
        public Kind kind() {
            return Kind.GET_QUEUE;
        }

        @Override
        public String resourceName() {
            return queue;
        }
    }

    /** The earliest wait deadline, or {@code Long.MAX_VALUE}: when the leader should propose ExpireWaits. */
    record NextDeadline() implements Query<Long> {
        @Override
        public Kind kind() {
            return Kind.NEXT_DEADLINE;
        }
    }

    record GetSummary() implements Query<View.Summary> {
        @Override
        public Kind kind() {
            return Kind.GET_SUMMARY;
        }
    }

    record GetLimits() implements Query<Limits> {
        @Override
        public Kind kind() {
            return Kind.GET_LIMITS;
        }
    }

    /** The state budget: bytes in use ({@code dev.baton.core.machine.Footprint}) against {@code Limits.maxStateBytes}. O(1). */
    record GetStateBytes() implements Query<View.StateBytes> {
        @Override
        public Kind kind() {
            return Kind.GET_STATE_BYTES;
        }
    }

    /** The cluster's address book ({@link Command.AnnounceNode}), sorted by Raft endpoint. */
    record ListNodes() implements Query<List<View.Node>> {
        @Override
        public Kind kind() {
            return Kind.LIST_NODES;
        }
    }

    /**
     * The whole coordination state as pretty-printed JSON (2-space indentation), for the admin API.
     * Deterministic: equal states give identical text (everything is listed in sorted order), so
     * dumps of replicas, or of one node before and after a restart, can be compared as strings.
     */
    record DumpJson() implements Query<String> {
        @Override
        public Kind kind() {
            return Kind.DUMP_JSON;
        }
    }
}
