package dev.baton.core.command;

/**
 * Every bounded resource of the state machine. Limits are part of the replicated state (changed
 * only by a {@link Command.SetLimits} entry, carried in snapshots), so every replica enforces the
 * same numbers and makes the same decisions. Each limit, when hit, gives a
 * {@link ErrorCode#LIMIT_EXCEEDED} (or poolcounterd's own reply where it has one) and changes nothing.
 *
 * @param maxSessions            open sessions
 * @param minSessionTtlMs        smallest session TTL a client may ask for
 * @param maxSessionTtlMs        largest session TTL a client may ask for
 * @param maxNameBytes           UTF-8 length of any key, lock, group, target, event, queue, item name or client token
 * @param maxPoolKeys            pool keys present at once (a key exists while it has holders or waiters)
 * @param maxWaitersPerKey       waiters on one pool key or one lock (on top of each request's own maxqueue)
 * @param maxSlotsPerSession     pool slots (held or waiting) per session; poolcounterd's 4 per connection
 * @param maxLocks               fenced locks present at once (held or waited for)
 * @param maxWaitMs              longest wait a pool acquire or lock may ask for
 * @param maxDispatchGroups      dispatch groups
 * @param maxTargetsPerGroup     targets in one dispatch group
 * @param maxEvents              pending events
 * @param maxQueues              gated queues
 * @param maxItemsPerQueue       items (queued or claimed) in one queue
 * @param maxPayloadBytes        one queue item's payload
 * @param maxPrerequisites       prerequisite events of one queue item
 * @param maxClaimBatch          items one claim may return
 * @param maxRememberedRequests  request results remembered per session for idempotent retries
 * @param maxStateBytes          the state budget: what clients can make every replica store (sessions,
 *                               tokens, names, payloads, prerequisites, remembered answers), counted
 *                               as in {@code dev.baton.core.machine.Footprint}; see docs/core.md
 */
public record Limits(
        int maxSessions,
        long minSessionTtlMs,
        long maxSessionTtlMs,
        int maxNameBytes,
        int maxPoolKeys,
        int maxWaitersPerKey,
        int maxSlotsPerSession,
        int maxLocks,
        long maxWaitMs,
        int maxDispatchGroups,
        int maxTargetsPerGroup,
        int maxEvents,
        int maxQueues,
        int maxItemsPerQueue,
        int maxPayloadBytes,
        int maxPrerequisites,
        int maxClaimBatch,
        int maxRememberedRequests,
        long maxStateBytes) {

    /** The default state budget: 256 MiB (docs/core.md says how to size it against the heap). */
    public static final long DEFAULT_MAX_STATE_BYTES = 256L << 20;

    /** Hard ceilings the codec enforces whatever the configured limits say. */
    public static final int CODEC_MAX_NAME_BYTES = 4096;
    public static final int CODEC_MAX_PAYLOAD_BYTES = 1 << 20;
    public static final int CODEC_MAX_LIST = 1 << 16;
    /** Largest encoded entry (a batch of commands) the codec accepts. */
    public static final int CODEC_MAX_ENTRY_BYTES = 16 << 20;

    public Limits {
        positive("maxSessions", maxSessions);
        positive("minSessionTtlMs", minSessionTtlMs);
        if (maxSessionTtlMs < minSessionTtlMs) {
            throw new IllegalArgumentException("maxSessionTtlMs < minSessionTtlMs");
        }
        positive("maxNameBytes", maxNameBytes);
        if (maxNameBytes > CODEC_MAX_NAME_BYTES) {
            throw new IllegalArgumentException("maxNameBytes above " + CODEC_MAX_NAME_BYTES);
        }
        positive("maxPoolKeys", maxPoolKeys);
        positive("maxWaitersPerKey", maxWaitersPerKey);
        positive("maxSlotsPerSession", maxSlotsPerSession);
        positive("maxLocks", maxLocks);
        positive("maxWaitMs", maxWaitMs);
        positive("maxDispatchGroups", maxDispatchGroups);
        positive("maxTargetsPerGroup", maxTargetsPerGroup);
        positive("maxEvents", maxEvents);
        positive("maxQueues", maxQueues);
        positive("maxItemsPerQueue", maxItemsPerQueue);
        positive("maxPayloadBytes", maxPayloadBytes);
        if (maxPayloadBytes > CODEC_MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("maxPayloadBytes above " + CODEC_MAX_PAYLOAD_BYTES);
        }
        positive("maxPrerequisites", maxPrerequisites);
        positive("maxClaimBatch", maxClaimBatch);
        positive("maxRememberedRequests", maxRememberedRequests);
        positive("maxStateBytes", maxStateBytes);
    }

    /** The limits as they were before the state budget existed; the budget gets its default. */
    public Limits(int maxSessions, long minSessionTtlMs, long maxSessionTtlMs, int maxNameBytes, int maxPoolKeys,
                  int maxWaitersPerKey, int maxSlotsPerSession, int maxLocks, long maxWaitMs, int maxDispatchGroups,
                  int maxTargetsPerGroup, int maxEvents, int maxQueues, int maxItemsPerQueue, int maxPayloadBytes,
                  int maxPrerequisites, int maxClaimBatch, int maxRememberedRequests) {
        this(maxSessions, minSessionTtlMs, maxSessionTtlMs, maxNameBytes, maxPoolKeys, maxWaitersPerKey,
                maxSlotsPerSession, maxLocks, maxWaitMs, maxDispatchGroups, maxTargetsPerGroup, maxEvents, maxQueues,
                maxItemsPerQueue, maxPayloadBytes, maxPrerequisites, maxClaimBatch, maxRememberedRequests,
                DEFAULT_MAX_STATE_BYTES);
    }

    private static void positive(String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /** The defaults every replica starts from. */
    public static Limits defaults() {
        return new Limits(
                100_000,          // sessions
                1_000,            // min TTL 1 s
                3_600_000,        // max TTL 1 h
                512,              // name bytes (poolcounterd's whole line is 1024)
                1_000_000,        // pool keys
                10_000,           // waiters per key
                4,                // slots per session, as poolcounterd
                1_000_000,        // locks
                86_400_000,       // longest wait 1 day
                1_000,            // dispatch groups
                10_000,           // targets per group
                1_000_000,        // pending events
                10_000,           // queues
                1_000_000,        // items per queue
                65_536,           // payload bytes
                16,               // prerequisites per item
                1_000,            // items per claim
                128,              // remembered request results per session
                DEFAULT_MAX_STATE_BYTES);
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Changes some limits, keeping the rest. */
    public static final class Builder {
        private int maxSessions;
        private long minSessionTtlMs;
        private long maxSessionTtlMs;
        private int maxNameBytes;
        private int maxPoolKeys;
        private int maxWaitersPerKey;
        private int maxSlotsPerSession;
        private int maxLocks;
        private long maxWaitMs;
        private int maxDispatchGroups;
        private int maxTargetsPerGroup;
        private int maxEvents;
        private int maxQueues;
        private int maxItemsPerQueue;
        private int maxPayloadBytes;
        private int maxPrerequisites;
        private int maxClaimBatch;
        private int maxRememberedRequests;
        private long maxStateBytes;

        private Builder(Limits l) {
            maxSessions = l.maxSessions;
            minSessionTtlMs = l.minSessionTtlMs;
            maxSessionTtlMs = l.maxSessionTtlMs;
            maxNameBytes = l.maxNameBytes;
            maxPoolKeys = l.maxPoolKeys;
            maxWaitersPerKey = l.maxWaitersPerKey;
            maxSlotsPerSession = l.maxSlotsPerSession;
            maxLocks = l.maxLocks;
            maxWaitMs = l.maxWaitMs;
            maxDispatchGroups = l.maxDispatchGroups;
            maxTargetsPerGroup = l.maxTargetsPerGroup;
            maxEvents = l.maxEvents;
            maxQueues = l.maxQueues;
            maxItemsPerQueue = l.maxItemsPerQueue;
            maxPayloadBytes = l.maxPayloadBytes;
            maxPrerequisites = l.maxPrerequisites;
            maxClaimBatch = l.maxClaimBatch;
            maxRememberedRequests = l.maxRememberedRequests;
            maxStateBytes = l.maxStateBytes;
        }

        public Builder maxSessions(int v) {
            maxSessions = v;
            return this;
        }

        public Builder minSessionTtlMs(long v) {
            minSessionTtlMs = v;
            return this;
        }

        public Builder maxSessionTtlMs(long v) {
            maxSessionTtlMs = v;
            return this;
        }

        public Builder maxNameBytes(int v) {
            maxNameBytes = v;
            return this;
        }

        public Builder maxPoolKeys(int v) {
            maxPoolKeys = v;
            return this;
        }

        public Builder maxWaitersPerKey(int v) {
            maxWaitersPerKey = v;
            return this;
        }

        public Builder maxSlotsPerSession(int v) {
            maxSlotsPerSession = v;
            return this;
        }

        public Builder maxLocks(int v) {
            maxLocks = v;
            return this;
        }

        public Builder maxWaitMs(long v) {
            maxWaitMs = v;
            return this;
        }

        public Builder maxDispatchGroups(int v) {
            maxDispatchGroups = v;
            return this;
        }

        public Builder maxTargetsPerGroup(int v) {
            maxTargetsPerGroup = v;
            return this;
        }

        public Builder maxEvents(int v) {
            maxEvents = v;
            return this;
        }

        public Builder maxQueues(int v) {
            maxQueues = v;
            return this;
        }

        public Builder maxItemsPerQueue(int v) {
            maxItemsPerQueue = v;
            return this;
        }

        public Builder maxPayloadBytes(int v) {
            maxPayloadBytes = v;
            return this;
        }

        public Builder maxPrerequisites(int v) {
            maxPrerequisites = v;
            return this;
        }

        public Builder maxClaimBatch(int v) {
            maxClaimBatch = v;
            return this;
        }

        public Builder maxRememberedRequests(int v) {
            maxRememberedRequests = v;
            return this;
        }

        public Builder maxStateBytes(long v) {
            maxStateBytes = v;
            return this;
        }

        public Limits build() {
            return new Limits(maxSessions, minSessionTtlMs, maxSessionTtlMs, maxNameBytes, maxPoolKeys, maxWaitersPerKey, maxSlotsPerSession, maxLocks, maxWaitMs, maxDispatchGroups, maxTargetsPerGroup, maxEvents, maxQueues, maxItemsPerQueue, maxPayloadBytes, maxPrerequisites, maxClaimBatch, maxRememberedRequests, maxStateBytes);
        }
    }
}
