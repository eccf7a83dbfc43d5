package dev.baton.core.machine;

import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Result;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;

/**
 * The context of the entry being applied, shared by every primitive: the entry's index and time
 * ("now"), the replicated limits, the deterministic sources of fences, ids and randomness, the
 * sinks for effects, observations and pool counters, the state budget, and the argument checks
 * they all make. It holds none of the primitives' data: each primitive keeps its own (a
 * {@code SessionTable}, a pool's keys, ...), and the state machine gathers them into the next
 * {@link State}. Only the apply thread ever sees a Tx.
 */
public final class Tx {
    private Limits limits;
    private final long[] poolCounters;
    /**
     * What the state costs ({@link Footprint}), kept in step by every write of a session, pool,
     * lock, event, group or queue item ({@link #charge}); {@link #checkBudget} compares additions
     * with the budget.
     */
    private long stateBytes;

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

    Tx(State s) {
        limits = s.limits();
        poolCounters = s.poolCounters().toArray();
        stateBytes = s.stateBytes();
        lastIndex = s.lastIndex();
        lastTime = s.lastTime();
        lastFence = s.lastFence();
        nextSessionId = s.nextSessionId();
        lastSeq = s.lastSeq();
    }

    long lastIndex() {
        return lastIndex;
    }

    long lastTime() {
        return lastTime;
    }

    long lastFence() {
        return lastFence;
    }

    long nextSessionId() {
        return nextSessionId;
    }

    long lastSeq() {
        return lastSeq;
    }

    PoolCounters poolCounters() {
        return PoolCounters.fromArray(poolCounters);
    }

    /** The replicated limits in force (a {@code SetLimits} earlier in the batch included). */
    public Limits limits() {
        return limits;
    }

    void setLimits(Limits l) {
        limits = l;
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

    /**
     * Adds (or with a negative number, releases) bytes of state: every write of stored data says
     * what it adds or frees, as {@link Footprint} counts it.
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

    /** now + timeout, saturating instead of overflowing. */
    public long deadlineAfter(long timeoutMs) {
        long r = now + timeoutMs;
        return r < now ? Long.MAX_VALUE : r;
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
