package dev.baton.core.command;

import java.util.List;
import java.util.Map;

/** Read-only pictures of parts of the state, answered by {@link Query lookups}. */
public interface View {

    /** A pool slot of a session: {@code state} is HELD, WAIT_ME or WAIT_ANY; {@code id} the fence or wait id. */
    record PoolSlot(String key, String state, long id, long requestId, long since) implements View {}

    record Session(long id, String token, long ttlMs, long openedAt, List<PoolSlot> slots, Map<String, Long> locksHeld,
                   List<String> lockWaits, List<String> dispatchTargets, List<String> events, List<String> claimedItems)
            implements View {}

    /** What the leader needs to track leases after it is elected. */
    record SessionLease(long id, long ttlMs) implements View {}

    record PoolHolder(long session, long fence, long since) implements View {}

    record PoolWaiter(long session, long requestId, long since, long deadline, boolean forAnyone) implements View {}

    record Pool(String key, int processing, int waiting, List<PoolHolder> holders, List<PoolWaiter> waiters)
            implements View {}

    /** A pool key's holder and waiter counts. */
    record PoolBrief(String key, int holders, int waiters) implements View {}

    /** Part of the pool keys ({@code pools}) and the number of keys in all ({@code count}). */
    record PoolList(int count, List<PoolBrief> pools) implements View {}

    /** Part of the sessions and the number of sessions in all. */
    record SessionList(int count, List<Session> sessions) implements View {}

    /**
     * A queue's item counts: {@code ready} claimable now, {@code claimed} by a live session, {@code gated}
     * unclaimed but waiting for a pending prerequisite event.
     */
    record QueueBrief(String name, int items, int ready, int claimed, int gated) implements View {}

    /** Cluster-wide pool counters and gauges (poolcounterd's STATS). */
    record PoolTotals(long keys, long processing, long waiting, long acquired, long released, long done, long timeouts,
                      long queueFull, long lockHeld, long waitForResponse, long releaseMismatch, long holdMs,
                      long waitMeMs, long waitAnyMs, long timeoutWaitMs, long doneWaitMs, long gainedMs)
            implements View {}

    record LockWaiter(long session, long requestId, long since, long deadline) implements View {}

    record Lock(String name, long holder, long fence, long since, List<LockWaiter> waiters) implements View {}

    /** Part of the fenced locks ({@code locks}) and the number of locks in all ({@code count}). */
    record LockList(int count, List<Lock> locks) implements View {}

    record Group(String name, long head, DispatchSettings settings, List<TargetView> targets) implements View {}

    record Event(String name, long owner, long since) implements View {}

    record Item(String id, long seq, Bytes payload, List<String> prerequisites, int pendingPrerequisites,
                long claimedBy, long fence, int attempts, long enqueuedAt) implements View {}

    /** Items in FIFO order; {@code ready} counts the claimable ones. */
    record Queue(String name, int ready, List<Item> items) implements View {}

    /** One entry of the cluster's address book; {@code since} is when it was last changed (entry time). */
    record Node(String raftEndpoint, String nodeId, String apiEndpoint, long since) implements View {}

    record Summary(long lastIndex, long lastTime, long lastFence, int sessions, int poolKeys, int locks, int groups,
                   int events, int queues, int waits) implements View {}

    /** The state budget: what the replicated state costs now and the limit ({@code maxStateBytes}). */
    record StateBytes(long used, long limit) {}
}
