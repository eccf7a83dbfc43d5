package dev.baton.core.command;

import java.util.List;
import java.util.Map;

/**
 * Everything that can change the coordination state. A command is proposed by a front door or a
 * leader timer, committed by Raft inside an {@link dev.baton.core.sm.Entry}, and applied on every
 * replica in log order. Commands carry no clock: the entry's leader timestamp is "now".
 *
 * <p>Commands issued on behalf of a client implement {@link SessionRequest}: they name the session
 * and a request id. A non-zero request id makes the command idempotent: a retry with the same
 * (session, request id) returns the remembered result and changes nothing.
 *
 * <p>Every command is either a {@link ClientCommand}, which a client may cause through any front
 * door, or a {@link LeaderCommand}, which only the leader creates, from its own clock and
 * configuration. No door (and no node-to-node call) ever turns outside bytes into a leader command:
 * the server's doors and its router accept {@code ClientCommand} only, so a new command has to pick
 * a side here and the compiler keeps the doors honest.
 */
public sealed interface Command permits Command.ClientCommand, Command.LeaderCommand {

    /**
     * Which command this is, one constant per record. The code that handles commands (the applier,
     * the codec, the budget rules) switches on it in switch expressions without a default, so a new
     * command that some switch forgets does not compile.
     */
    enum Kind {
        OPEN_SESSION,
        OPEN_SESSION_THEN,
        CLOSE_SESSION,
        EXPIRE_SESSIONS,
        EXPIRE_WAITS,
        SET_LIMITS,
        ANNOUNCE_NODE,
        POOL_ACQUIRE,
        POOL_RELEASE,
        LOCK_ACQUIRE,
        LOCK_RELEASE,
        DISPATCH_INIT,
        DISPATCH_ADVANCE,
        DISPATCH_SELECT,
        DISPATCH_LOCK,
        DISPATCH_RELEASE,
        DISPATCH_SET_DISABLED,
        EVENT_BEGIN,
        EVENT_COMPLETE,
        QUEUE_ENQUEUE,
        QUEUE_CLAIM,
        QUEUE_DONE,
        QUEUE_RETRY
    }

    /** Which command this is; see {@link Kind}. */
    Kind kind();

    /**
     * A command a client may cause: opening a session and every {@link SessionRequest}. The only
     * kind a front door proposes, and the only kind a node forwards to the leader.
     */
    sealed interface ClientCommand extends Command permits OpenSession, OpenSessionThen, SessionRequest {}

    /**
     * A command only the leader issues (expiry, limits, the address book: anything time-driven or
     * operator-configured). Never decoded from what a client or another node sent.
     */
    sealed interface LeaderCommand extends Command permits ExpireSessions, ExpireWaits, SetLimits, AnnounceNode {}

    /** A command made on behalf of a session; {@code requestId == 0} means "not idempotent". */
    sealed interface SessionRequest extends ClientCommand {
        long session();

        long requestId();

        /**
         * The names this request acts on: a pool key, a lock, a dispatch group, an event, a queue
         * and the events gating its item. A front door checks them against what its caller may
         * touch (a token limited to key prefixes); every request must say, so none can slip past.
         */
        List<String> resourceNames();

        /** This request made on behalf of {@code session} instead (everything else the same). */
        SessionRequest withSession(long session);
    }

    /** A one-name list, empty for null (a malformed request is rejected by the core, not here). */
    private static List<String> named(String name) {
        return name == null ? List.of() : List.of(name);
    }

    // ---- sessions and time -------------------------------------------------------------------

    /**
     * Opens a session with a lease of {@code ttlMs}. A non-null {@code clientToken} makes opening
     * idempotent: while a session opened with that token lives, opening again returns it.
     */
    record OpenSession(String clientToken, long ttlMs) implements ClientCommand {
        @Override
        public Kind kind() {
            return Kind.OPEN_SESSION;
        }
    }

    /**
     * Opens a session and, in the same step of the same entry, makes {@code first} on it: the first
     * command of a connection (the line door's first {@code ACQ4ME}) then costs one proposal rather
     * than two in a row, and enters the log in the order the door read it, ahead of anything read
     * after it. {@code first} names no session ({@code session == 0}); it runs on the session the open
     * returned, with its own request id (a retry of the whole command finds the session by its token
     * and the first command's answer by that id). A rejected open runs nothing.
     */
    record OpenSessionThen(OpenSession open, SessionRequest first) implements ClientCommand {
        @Override
        public Kind kind() {
            return Kind.OPEN_SESSION_THEN;
        }
    }

    /** Ends a session as if its client disconnected: everything it held or waited for is released. */
    record CloseSession(long session, long requestId) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.CLOSE_SESSION;
        }

        @Override
        public CloseSession withSession(long s) {
            return new CloseSession(s, requestId);
        }

        @Override
        public List<String> resourceNames() {
            return List.of();
        }
    }

    /**
     * Ends the listed sessions whose leases the leader saw run out. The leader decides (it alone
     * tracks keep-alives); applying the decision is deterministic. Unknown ids are ignored.
     */
    record ExpireSessions(List<Long> sessions) implements LeaderCommand {
        @Override
        public Kind kind() {
            return Kind.EXPIRE_SESSIONS;
        }
    }

    /**
     * Times out every pool and lock wait whose deadline is at or before the entry's timestamp. Every
     * entry does this before its commands anyway; this command exists so the leader can make it
     * happen when nothing else is being written.
     */
    record ExpireWaits() implements LeaderCommand {
        @Override
        public Kind kind() {
            return Kind.EXPIRE_WAITS;
        }
    }

    /** Replaces the limits (an operator action, replicated so that all nodes enforce the same ones). */
    record SetLimits(Limits limits) implements LeaderCommand {
        @Override
        public Kind kind() {
            return Kind.SET_LIMITS;
        }
    }

    // ---- cluster address book ----------------------------------------------------------------

    /**
     * Records (or replaces) what the node whose Raft port is {@code raftEndpoint} ({@code host:port})
     * calls itself and where its gRPC API listens ({@code apiEndpoint}, {@code host:port}), so that
     * every node can forward writes to the leader. Re-announcing the same id and address changes
     * nothing (the entry keeps its {@code since}). An empty {@code apiEndpoint} removes the entry
     * (the node left the cluster). Not a session request: the leader proposes it, for itself or for a
     * member that told it its address over the members-only link.
     */
    record AnnounceNode(String raftEndpoint, String nodeId, String apiEndpoint) implements LeaderCommand {
        @Override
        public Kind kind() {
            return Kind.ANNOUNCE_NODE;
        }
    }

    // ---- pools (PoolCounter) ------------------------------------------------------------------

    /**
     * ACQ4ME ({@code forAnyone == false}) or ACQ4ANY. {@code workers} and {@code maxQueue} are this
     * request's own limits, as in poolcounterd; {@code timeoutMs == 0} means "do not wait".
     */
    record PoolAcquire(long session, long requestId, String key, int workers, int maxQueue, long timeoutMs,
                       boolean forAnyone) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.POOL_ACQUIRE;
        }

        @Override
        public PoolAcquire withSession(long s) {
            return new PoolAcquire(s, requestId, key, workers, maxQueue, timeoutMs, forAnyone);
        }

        @Override
        public List<String> resourceNames() {
            return named(key);
        }
    }

    /**
     * Releases one slot of the session: the newest one (poolcounterd's LIFO {@code RELEASE}), or the
     * newest on {@code key} if a key is given; with {@code fence != 0} only the held slot granted with
     * that fence (none → {@code STALE_FENCE}). Without a fence and with no slot → {@code NOT_LOCKED}.
     * Releasing a slot that is still waiting cancels the wait.
     */
    record PoolRelease(long session, long requestId, String key, long fence) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.POOL_RELEASE;
        }

        @Override
        public PoolRelease withSession(long s) {
            return new PoolRelease(s, requestId, key, fence);
        }

        @Override
        public List<String> resourceNames() {
            return key == null || key.isEmpty() ? List.of() : List.of(key);
        }
    }

    // ---- fenced locks -------------------------------------------------------------------------

    /** tryLock ({@code timeoutMs == 0}) or lock-with-timeout on the named mutex. */
    record LockAcquire(long session, long requestId, String name, long timeoutMs) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.LOCK_ACQUIRE;
        }

        @Override
        public LockAcquire withSession(long s) {
            return new LockAcquire(s, requestId, name, timeoutMs);
        }

        @Override
        public List<String> resourceNames() {
            return named(name);
        }
    }

    /**
     * Unlocks the named lock held by the session. {@code fence != 0} must be the current grant's
     * fence. If the session is waiting for the lock instead, the wait is cancelled.
     */
    record LockRelease(long session, long requestId, String name, long fence) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.LOCK_RELEASE;
        }

        @Override
        public LockRelease withSession(long s) {
            return new LockRelease(s, requestId, name, fence);
        }

        @Override
        public List<String> resourceNames() {
            return named(name);
        }
    }

    // ---- dispatch (Wikibase ChangeDispatchCoordinator) ----------------------------------------

    /**
     * Creates the group if needed and adds the targets (id → name) that are not tracked yet, with
     * {@code seen = 0}, never touching existing ones. Non-null settings replace the group's.
     * May be sent without a session ({@code session == 0}).
     */
    record DispatchInit(long session, long requestId, String group, Map<String, String> targets,
                        DispatchSettings settings) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_INIT;
        }

        @Override
        public DispatchInit withSession(long s) {
            return new DispatchInit(s, requestId, group, targets, settings);
        }

        @Override
        public List<String> resourceNames() {
            return named(group);
        }
    }

    /** Raises the group's head (the newest change id); a lower value is ignored. */
    record DispatchAdvance(long session, long requestId, String group, long head) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_ADVANCE;
        }

        @Override
        public DispatchAdvance withSession(long s) {
            return new DispatchAdvance(s, requestId, group, head);
        }

        @Override
        public List<String> resourceNames() {
            return named(group);
        }
    }

    /** Selects a target as Wikibase's selectClient does and locks it for the session. */
    record DispatchSelect(long session, long requestId, String group) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_SELECT;
        }

        @Override
        public DispatchSelect withSession(long s) {
            return new DispatchSelect(s, requestId, group);
        }

        @Override
        public List<String> resourceNames() {
            return named(group);
        }
    }

    /** Locks a given target for the session (Wikibase's lockClient). */
    record DispatchLock(long session, long requestId, String group, String target) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_LOCK;
        }

        @Override
        public DispatchLock withSession(long s) {
            return new DispatchLock(s, requestId, group, target);
        }

        @Override
        public List<String> resourceNames() {
            return named(group);
        }
    }

    /**
     * Stores the new cursor and unlocks (releaseClient): sets {@code touched = now},
     * {@code seen = max(seen, newSeen)}. The session must hold the target, and a non-zero fence
     * must be the one the lock was granted with ({@code STALE_FENCE} otherwise).
     */
    record DispatchRelease(long session, long requestId, String group, String target, long fence, long newSeen)
            implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_RELEASE;
        }

        @Override
        public DispatchRelease withSession(long s) {
            return new DispatchRelease(s, requestId, group, target, fence, newSeen);
        }

        @Override
        public List<String> resourceNames() {
            return named(group);
        }
    }

    /** Enables or disables a target; a disabled target is never selected. */
    record DispatchSetDisabled(long session, long requestId, String group, String target, boolean disabled)
            implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.DISPATCH_SET_DISABLED;
        }

        @Override
        public DispatchSetDisabled withSession(long s) {
            return new DispatchSetDisabled(s, requestId, group, target, disabled);
        }

        @Override
        public List<String> resourceNames() {
            return named(group);
        }
    }

    // ---- events (ManifoldCF IEventActivity) ---------------------------------------------------

    /** Makes the event pending, owned by the session; fails if it is already pending. */
    record EventBegin(long session, long requestId, String name) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.EVENT_BEGIN;
        }

        @Override
        public EventBegin withSession(long s) {
            return new EventBegin(s, requestId, name);
        }

        @Override
        public List<String> resourceNames() {
            return named(name);
        }
    }

    /** Completes the event (idempotent; no ownership check, as ManifoldCF). */
    record EventComplete(long session, long requestId, String name) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.EVENT_COMPLETE;
        }

        @Override
        public EventComplete withSession(long s) {
            return new EventComplete(s, requestId, name);
        }

        @Override
        public List<String> resourceNames() {
            return named(name);
        }
    }

    // ---- gated work queues --------------------------------------------------------------------

    /**
     * Adds an item at the back of the queue, gated by its prerequisite events. Enqueuing an item
     * that is already there replaces its payload and prerequisites and keeps its place and claim.
     */
    record QueueEnqueue(long session, long requestId, String queue, String item, Bytes payload,
                        List<String> prerequisites) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.QUEUE_ENQUEUE;
        }

        @Override
        public QueueEnqueue withSession(long s) {
            return new QueueEnqueue(s, requestId, queue, item, payload, prerequisites);
        }

        @Override
        public List<String> resourceNames() {
            List<String> names = new java.util.ArrayList<>(named(queue));
            if (prerequisites != null) {
                prerequisites.stream().filter(java.util.Objects::nonNull).forEach(names::add);
            }
            return names;
        }
    }

    /** Claims up to {@code max} items, oldest first, skipping claimed items and items with a pending prerequisite. */
    record QueueClaim(long session, long requestId, String queue, int max) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.QUEUE_CLAIM;
        }

        @Override
        public QueueClaim withSession(long s) {
            return new QueueClaim(s, requestId, queue, max);
        }

        @Override
        public List<String> resourceNames() {
            return named(queue);
        }
    }

    /** Removes a claimed item (work finished). {@code fence != 0} must match the claim. */
    record QueueDone(long session, long requestId, String queue, String item, long fence) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.QUEUE_DONE;
        }

        @Override
        public QueueDone withSession(long s) {
            return new QueueDone(s, requestId, queue, item, fence);
        }

        @Override
        public List<String> resourceNames() {
            return named(queue);
        }
    }

    /** Gives a claimed item back, at the back of the queue (ManifoldCF's retryDocumentProcessing). */
    record QueueRetry(long session, long requestId, String queue, String item, long fence) implements SessionRequest {
        @Override
        public Kind kind() {
            return Kind.QUEUE_RETRY;
        }

        @Override
        public QueueRetry withSession(long s) {
            return new QueueRetry(s, requestId, queue, item, fence);
        }

        @Override
        public List<String> resourceNames() {
            return named(queue);
        }
    }
}
