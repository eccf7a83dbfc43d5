package dev.baton.core.machine;

import dev.baton.core.command.Effect;
import dev.baton.core.command.Observation;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
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
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;
import org.organicdesign.fp.collections.PersistentTreeSet;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;

/**
 * The working copy of the state while one {@code update} batch is applied. The hash maps are
 * transients (edited in place, not copied per change); {@link #commit()} freezes them into the
 * next immutable {@link State} in O(1). Only the apply thread ever sees a Tx.
 *
 * <p>Also the entry context that the primitives need: the entry's index and time ("now"), the
 * effects being produced, and the deterministic sources of fences, ids and randomness.
 */
public final class Tx {
    public Limits limits;
    public MutHashMap<Long, SessionState> sessions;
    public MutHashMap<String, Long> tokens;
    public MutHashMap<String, PoolState> pools;
    public MutHashMap<String, LockState> locks;
    public PersistentTreeMap<Deadline, WaitRef> deadlines;
    public MutHashMap<String, GroupState> groups;
    public MutHashMap<String, EventState> events;
    public MutHashMap<String, QueueState> queues;
    public MutHashMap<String, PersistentTreeSet<ItemKey>> eventRefs;
    public MutHashMap<String, NodeState> nodes;
    public final long[] poolCounters;
    /** Gauges over all pool keys, adjusted by every write of a pool. */
    public long poolHolders;
    public long poolWaiters;
    /**
     * What the state costs ({@link Footprint}), kept in step by every write of a session, pool,
     * lock, event, group or queue item; {@link #checkBudget} compares additions with the budget.
     */
    long stateBytes;

    private long lastIndex;
    private long lastTime;
    private long lastFence;
    private long nextSessionId;
    private long lastSeq;

    private long index;
    private long now;
    private long draws;
    private List<Effect> effects = new ArrayList<>();
    private List<Observation> observations = new ArrayList<>();
    private final Set<String> claimable = new HashSet<>();

    public Tx(State s) {
        limits = s.limits();
        sessions = s.sessions().mutable();
        tokens = s.tokens().mutable();
        pools = s.pools().mutable();
        locks = s.locks().mutable();
        deadlines = s.deadlines();
        groups = s.groups().mutable();
        events = s.events().mutable();
        queues = s.queues().mutable();
        eventRefs = s.eventRefs().mutable();
        nodes = s.nodes().mutable();
        poolCounters = s.poolCounters().toArray();
        poolHolders = s.poolHolders();
        poolWaiters = s.poolWaiters();
        stateBytes = s.stateBytes();
        lastIndex = s.lastIndex();
        lastTime = s.lastTime();
        lastFence = s.lastFence();
        nextSessionId = s.nextSessionId();
        lastSeq = s.lastSeq();
    }

    public State commit() {
        return new State(lastIndex, lastTime, lastFence, nextSessionId, lastSeq, limits, sessions.immutable(),
                tokens.immutable(), pools.immutable(), locks.immutable(), deadlines, groups.immutable(),
                events.immutable(), queues.immutable(), eventRefs.immutable(), PoolCounters.fromArray(poolCounters),
                poolHolders, poolWaiters, nodes.immutable(), stateBytes);
    }

    /**
     * Starts an entry. Time never goes backwards: a stamp older than the last applied one (a new
     * leader with a slower clock) is read as the last one.
     */
    void beginEntry(long entryIndex, long timestamp) {
        if (entryIndex <= lastIndex) {
            throw new IllegalArgumentException("entry index " + entryIndex + " is not after " + lastIndex);
        }
        index = entryIndex;
        lastIndex = entryIndex;
        now = Math.max(lastTime, timestamp);
        lastTime = now;
        draws = 0;
        effects = new ArrayList<>();
        observations = new ArrayList<>();
        claimable.clear();
    }

    List<Effect> takeEffects() {
        List<Effect> e = effects;
        effects = List.of();
        return e;
    }

    List<Observation> takeObservations() {
        List<Observation> o = observations;
        observations = List.of();
        return o;
    }

    public long index() {
        return index;
    }

    /** The entry's leader timestamp (ms), made monotonic. */
    public long now() {
        return now;
    }

    /**
     * A new fence, strictly greater than every fence issued before: {@code max(last + 1, index·2^16)}.
     * So a fence carries the log index that granted it in its upper bits ({@code fence >>> 16}), and
     * stays strictly increasing even if one entry grants more than 65 536 times.
     */
    public long nextFence() {
        lastFence = Math.max(lastFence + 1, index << 16);
        return lastFence;
    }

    /** A new wait id or queue position: unique and increasing. */
    public long nextSeq() {
        return ++lastSeq;
    }

    public long allocateSessionId() {
        return nextSessionId++;
    }

    /** Has a session with this id ever been opened? (Ids are never reused.) */
    public boolean sessionIdIssued(long id) {
        return id > 0 && id < nextSessionId;
    }

    /**
     * A pseudo-random number that every replica draws identically: SplitMix64 of the entry index and
     * the number of draws made in this entry so far.
     */
    public long random() {
        long z = index * 0x9E3779B97F4A7C15L + (++draws) * 0xD1B54A32D192ED03L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public void emit(Effect e) {
        effects.add(e);
    }

    /** Emits {@link Effect.QueueClaimable} for the queue, once per entry however many items became claimable. */
    public void announceClaimable(String queue) {
        if (claimable.add(queue)) {
            effects.add(new Effect.QueueClaimable(queue));
        }
    }

    /** Records a fact for the metrics (see {@link Observation}); never read back by the state machine. */
    public void observe(Observation o) {
        observations.add(o);
    }

    public void count(int counter, long delta) {
        poolCounters[counter] += delta;
    }

    public SessionState session(long id) {
        return sessions.get(id);
    }

    public void putSession(SessionState s) {
        SessionState old = sessions.get(s.id());
        stateBytes += Footprint.session(s) - (old == null ? 0 : Footprint.session(old));
        sessions = sessions.assoc(s.id(), s);
    }

    public void removeSession(long id) {
        SessionState old = sessions.get(id);
        if (old != null) {
            stateBytes -= Footprint.session(old);
            sessions = sessions.without(id);
        }
    }

    /** Writes a lock, or drops it ({@code now == null}), keeping the state's byte count. */
    public void putLock(String name, LockState now) {
        stateBytes += Footprint.lock(now) - Footprint.lock(locks.get(name));
        locks = now == null ? locks.without(name) : locks.assoc(name, now);
    }

    /** Writes a pool key, or drops it ({@code now == null}), keeping the state's byte count. */
    public void putPool(String key, PoolState now) {
        stateBytes += Footprint.pool(now) - Footprint.pool(pools.get(key));
        pools = now == null ? pools.without(key) : pools.assoc(key, now);
    }

    public void putEvent(EventState e) {
        if (!events.containsKey(e.name())) {
            stateBytes += Footprint.event(e.name());
        }
        events = events.assoc(e.name(), e);
    }

    public void removeEvent(String name) {
        if (events.containsKey(name)) {
            stateBytes -= Footprint.event(name);
            events = events.without(name);
        }
    }

    /**
     * Adds (or with a negative number, releases) bytes stored outside the writes above: dispatch
     * groups and targets, queues and their items.
     */
    public void charge(long bytes) {
        stateBytes += bytes;
    }

    public long stateBytes() {
        return stateBytes;
    }

    /**
     * Null if {@code bytes} more fit in the state budget ({@code Limits.maxStateBytes}), else the
     * {@code LIMIT_EXCEEDED} rejection saying what did not fit. Called before anything is changed.
     */
    public Result.Rejected checkBudget(String what, long bytes) {
        long max = limits.maxStateBytes();
        if (bytes > 0 && stateBytes + bytes > max) {
            return new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, "state budget full: " + what + " needs " + bytes
                    + " bytes, " + stateBytes + " of " + max + " in use (limit maxStateBytes)");
        }
        return null;
    }

    /**
     * Records the final outcome of a request that first answered "queued", so that a client retrying
     * it after a lost stream learns what happened instead of a stale "queued".
     */
    public void rememberOutcome(long sessionId, long requestId, Result outcome) {
        if (requestId == 0) {
            return;
        }
        SessionState s = sessions.get(sessionId);
        if (s != null) {
            putSession(s.withRecent(s.recent().replace(requestId, outcome)));
        }
    }

    /** now + timeout, saturating instead of overflowing. */
    public long deadlineAfter(long timeoutMs) {
        long r = now + timeoutMs;
        return r < now ? Long.MAX_VALUE : r;
    }

    public void addDeadline(long at, long waitId, WaitRef ref) {
        deadlines = deadlines.assoc(new Deadline(at, waitId), ref);
    }

    public void removeDeadline(long at, long waitId) {
        deadlines = deadlines.without(new Deadline(at, waitId));
    }

    // ---- validation shared by the primitives ------------------------------------------------

    /** Null if the name is acceptable, else the rejection. */
    public Result.Rejected checkName(String what, String name) {
        if (name == null || name.isEmpty()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, what + " must not be empty");
        }
        return checkNameBytes(what, name);
    }

    /** Like {@link #checkName} but an empty string is acceptable (null is not). */
    public Result.Rejected checkNameBytes(String what, String name) {
        if (name == null) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT, what + " must not be null");
        }
        int max = limits.maxNameBytes();
        // a char is at most 3 UTF-8 bytes, so only long names need encoding to be measured
        if (name.length() > max || (name.length() * 3 > max && name.getBytes(StandardCharsets.UTF_8).length > max)) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT,
                    what + " longer than " + max + " bytes");
        }
        return null;
    }

    public Result.Rejected checkWait(long timeoutMs) {
        if (timeoutMs < 0 || timeoutMs > limits.maxWaitMs()) {
            return new Result.Rejected(ErrorCode.INVALID_ARGUMENT,
                    "timeout must be between 0 and " + limits.maxWaitMs() + " ms, got " + timeoutMs);
        }
        return null;
    }

    public static Result.Rejected limit(String what, long limit) {
        return new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, what + " limit reached (" + limit + ")");
    }
}
