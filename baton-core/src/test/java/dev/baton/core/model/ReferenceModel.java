package dev.baton.core.model;

import dev.baton.core.command.ClaimedItem;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.DispatchAdvance;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.DispatchLock;
import dev.baton.core.command.Command.DispatchRelease;
import dev.baton.core.command.Command.DispatchSelect;
import dev.baton.core.command.Command.DispatchSetDisabled;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.ExpireWaits;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueDone;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Command.QueueRetry;
import dev.baton.core.command.Command.SessionRequest;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Effect.LockWaitEnded;
import dev.baton.core.command.Effect.PoolWaitEnded;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.DispatchReply;
import dev.baton.core.command.Result.DispatchStatus;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.EventStatus;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.QueueStatus;
import dev.baton.core.command.Result.Rejected;
import dev.baton.core.command.TargetView;
import dev.baton.core.command.View;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * A deliberately naive reference model of Baton's coordination state machine, written from the
 * specification (docs/design.md: its rules, and poolcounterd, Wikibase's dispatch selection and
 * ManifoldCF's events for pools, dispatch, events and gated queues) with plain mutable collections.
 * It shares only the command/result/effect vocabulary with the main code, none of its logic.
 *
 * <p>Usage per log entry: {@link #beginEntry}, then {@link #apply} for every command with the state
 * machine's actual result (the model computes the expected result and fails on a difference), then
 * {@link #endEntry} with the actual effects. Every check failure is an {@link AssertionError}.
 *
 * <p>What the state machine alone decides, the model adopts after checking it is allowed:
 * <ul>
 *   <li>fences: a grant gets a placeholder (a negative number) until the actual result or effect
 *       shows the fence; the fence must be new, greater than every fence of earlier entries,
 *       carry the entry's index ({@code fence >>> 16}), and grants of later commands of an entry
 *       must have greater fences than grants of earlier ones;</li>
 *   <li>the dispatch target picked by select: it must be one of the allowed candidates;</li>
 *   <li>new session ids: they must never have been issued before.</li>
 * </ul>
 * Wait ids and queue sequence numbers are not modelled; FIFO order is.
 */
public final class ReferenceModel {

    // ---- model state -------------------------------------------------------------------------

    /** A fence grant; {@code fence == 0} until observed. */
    static final class Grant {
        final long placeholder;
        final int command; // ordinal of the command (in its entry) that made the grant, -1 at entry start
        long fence;

        Grant(long placeholder, int command) {
            this.placeholder = placeholder;
            this.command = command;
        }
    }

    static final class Sess {
        final long id;
        final String token;
        final long ttl;
        final long openedAt;
        /** Pool slots, oldest first (a stack). */
        final List<PSlot> slots = new ArrayList<>();
        /** Idempotency window: request id → remembered answer. */
        final TreeMap<Long, Supplier<Result>> recent = new TreeMap<>();
        long floor;

        Sess(long id, String token, long ttl, long openedAt) {
            this.id = id;
            this.token = token;
            this.ttl = ttl;
            this.openedAt = openedAt;
        }
    }

    /** A pool slot: a holder once it has a grant, a waiter before. */
    static final class PSlot {
        final long session;
        final String key;
        final long rid;
        final boolean any;
        final long deadline;
        final long order; // creation order of waits, for timeouts at equal deadlines
        long since;
        Grant grant;

        PSlot(long session, String key, long rid, boolean any, long deadline, long order, long since) {
            this.session = session;
            this.key = key;
            this.rid = rid;
            this.any = any;
            this.deadline = deadline;
            this.order = order;
            this.since = since;
        }

        boolean waiting() {
            return grant == null;
        }
    }

    static final class Pool {
        final List<PSlot> holders = new ArrayList<>(); // grant order
        final List<PSlot> waitMe = new ArrayList<>();  // FIFO
        final List<PSlot> waitAny = new ArrayList<>(); // FIFO

        int count() {
            return holders.size() + waitMe.size() + waitAny.size();
        }

        int waiting() {
            return waitMe.size() + waitAny.size();
        }
    }

    static final class LWait {
        final long session;
        final long rid;
        final long since;
        final long deadline;
        final long order;

        LWait(long session, long rid, long since, long deadline, long order) {
            this.session = session;
            this.rid = rid;
            this.since = since;
            this.deadline = deadline;
            this.order = order;
        }
    }

    static final class Lock {
        long holder;
        Grant grant;
        long since;
        final List<LWait> waiters = new ArrayList<>(); // FIFO
    }

    static final class Target {
        String name;
        long seen;
        long touched;
        boolean disabled;
        long holder;
        Grant grant;
    }

    static final class Group {
        long head;
        DispatchSettings settings = DispatchSettings.DEFAULTS;
        final TreeMap<String, Target> targets = new TreeMap<>();
    }

    static final class Ev {
        final long owner;
        final long since;

        Ev(long owner, long since) {
            this.owner = owner;
            this.since = since;
        }
    }

    static final class Item {
        dev.baton.core.command.Bytes payload;
        List<String> prereqs; // sorted, distinct
        long claimedBy;
        Grant grant;
        int attempts;
        long enqueuedAt;
    }

    private static final int ACQUIRED = 0, RELEASED = 1, DONE = 2, TIMEOUTS = 3, QUEUE_FULL = 4, LOCK_HELD = 5,
            WAIT_FOR_RESPONSE = 6, RELEASE_MISMATCH = 7, HOLD_MS = 8, WAIT_ME_MS = 9, WAIT_ANY_MS = 10,
            TIMEOUT_WAIT_MS = 11, DONE_WAIT_MS = 12, GAINED_MS = 13;

    private final Limits limits;
    private long index;
    private long now;
    private int expiredAtStart;
    private int commandOrdinal;

    private final TreeMap<Long, Sess> sessions = new TreeMap<>();
    private final Map<String, Long> tokens = new HashMap<>();
    private final Set<Long> issued = new HashSet<>();
    private final TreeMap<String, Pool> pools = new TreeMap<>();
    private final long[] counters = new long[14];
    private final TreeMap<String, Lock> locks = new TreeMap<>();
    private long waitOrder;
    private final TreeMap<String, Group> groups = new TreeMap<>();
    private final TreeMap<String, Ev> events = new TreeMap<>();
    private final TreeMap<String, LinkedHashMap<String, Item>> queues = new TreeMap<>(); // items in FIFO order

    // fences
    private final Map<Long, Grant> grants = new HashMap<>();
    private final Set<Long> usedFences = new HashSet<>();
    private final List<Grant> entryGrants = new ArrayList<>();
    private final Map<Long, Long> tentative = new HashMap<>();
    private long nextPlaceholder = -1;
    private long fenceFloor;
    private long maxFence;

    // the current entry's expected effects (templates; fences may be placeholders)
    private final List<Effect> expected = new ArrayList<>();
    private final Set<String> announced = new HashSet<>();
    private Sess executedFor;
    private boolean executed;

    public ReferenceModel(Limits limits) {
        this.limits = limits;
    }

    // ---- entry protocol ----------------------------------------------------------------------

    /** Starts an entry: time is the stamp made monotonic; every wait whose deadline has come times out. */
    public void beginEntry(long entryIndex, long timestamp) {
        check(entryIndex > index, "entry index %d not after %d", entryIndex, index);
        index = entryIndex;
        now = Math.max(now, timestamp);
        fenceFloor = maxFence;
        entryGrants.clear();
        expected.clear();
        announced.clear();
        commandOrdinal = -1;
        // all waits that are due, oldest deadline first (ties: the older wait first)
        List<Object> due = new ArrayList<>();
        List<long[]> keys = new ArrayList<>();
        for (Pool p : pools.values()) {
            for (PSlot w : concat(p.waitMe, p.waitAny)) {
                if (w.deadline <= now) {
                    due.add(w);
                    keys.add(new long[] {w.deadline, w.order});
                }
            }
        }
        for (Map.Entry<String, Lock> e : locks.entrySet()) {
            for (LWait w : e.getValue().waiters) {
                if (w.deadline <= now) {
                    due.add(new Object[] {e.getKey(), w});
                    keys.add(new long[] {w.deadline, w.order});
                }
            }
        }
        Integer[] order = new Integer[due.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, Comparator.<Integer>comparingLong(i -> keys.get(i)[0])
                .thenComparingLong(i -> keys.get(i)[1]));
        for (int i : order) {
            Object o = due.get(i);
            if (o instanceof PSlot w) {
                poolTimeout(w);
            } else {
                Object[] pair = (Object[]) o;
                lockTimeout((String) pair[0], (LWait) pair[1]);
            }
        }
        expiredAtStart = due.size();
    }

    /**
     * Applies one command, checking the state machine's actual result against the model's.
     *
     * @return true if the command was executed (not answered from the idempotency window, not rejected)
     */
    public boolean apply(Command c, Result actual) {
        commandOrdinal++;
        Set<String> readyBefore = readyItems();
        executedFor = null;
        executed = false;
        Result want = route(c, actual);
        if (!unify(want, actual)) {
            throw new AssertionError("result of " + c + "\n  expected " + want + "\n  actual   " + actual);
        }
        // every answer of an executed request is remembered, rejections included (docs/design.md, rule 5)
        if (executed && c instanceof SessionRequest r && r.requestId() != 0
                && executedFor != null && sessions.get(executedFor.id) == executedFor) {
            Sess s = executedFor;
            final Result remembered = actual;
            s.recent.put(r.requestId(), () -> remembered);
            while (s.recent.size() > limits.maxRememberedRequests()) {
                s.floor = Math.max(s.floor, s.recent.pollFirstEntry().getKey());
            }
        }
        for (String k : readyItems()) {
            if (!readyBefore.contains(k)) {
                announced.add(k.substring(0, k.indexOf('\u0000')));
            }
        }
        return executed && !(actual instanceof Rejected);
    }

    /** Ends the entry: compares effects, checks and adopts every fence granted in it. */
    public void endEntry(List<Effect> actualEffects) {
        List<Effect> want = new ArrayList<>(expected);
        for (String q : new TreeSet<>(announced)) {
            want.add(new Effect.QueueClaimable(q));
        }
        // pool and lock wait outcomes: per key, in the order the specification fixes
        Map<String, List<Effect>> wantWaits = byWaitKey(want);
        Map<String, List<Effect>> haveWaits = byWaitKey(actualEffects);
        Set<String> keys = new TreeSet<>(wantWaits.keySet());
        keys.addAll(haveWaits.keySet());
        for (String k : keys) {
            List<Effect> w = wantWaits.getOrDefault(k, List.of());
            List<Effect> h = haveWaits.getOrDefault(k, List.of());
            boolean ok = w.size() == h.size();
            for (int i = 0; ok && i < w.size(); i++) {
                ok = unify(w.get(i), h.get(i));
            }
            check(ok, "wait outcomes for %s\n  expected %s\n  actual   %s\n  all effects %s", k, w, h, actualEffects);
        }
        // everything else as a multiset
        List<Effect> rest = new ArrayList<>();
        for (Effect e : want) {
            if (!(e instanceof PoolWaitEnded || e instanceof LockWaitEnded)) {
                rest.add(e);
            }
        }
        List<Effect> left = new ArrayList<>(rest);
        for (Effect e : actualEffects) {
            if (!(e instanceof PoolWaitEnded || e instanceof LockWaitEnded)) {
                check(left.remove(e), "unexpected effect %s\n  expected %s\n  actual %s", e, want, actualEffects);
            }
        }
        check(left.isEmpty(), "missing effects %s\n  actual %s", left, actualEffects);
        // fences: every grant observed; issued in command order; the effect stream in issue order
        for (Grant g : entryGrants) {
            check(g.fence != 0, "a grant of entry %d never showed its fence", index);
        }
        for (Grant a : entryGrants) {
            for (Grant b : entryGrants) {
                if (a.command < b.command) {
                    check(a.fence < b.fence, "fence %d of command %d not below fence %d of later command %d",
                            a.fence, a.command, b.fence, b.command);
                }
            }
        }
        long last = fenceFloor;
        for (Effect e : actualEffects) {
            long f = e instanceof PoolWaitEnded p && p.status() == PoolStatus.LOCKED ? p.fence()
                    : e instanceof LockWaitEnded l && l.status() == LockStatus.LOCKED ? l.fence() : 0;
            if (f != 0) {
                check(f > last, "granted fences in the effect stream not increasing: %s", actualEffects);
                last = f;
            }
        }
    }

    private static Map<String, List<Effect>> byWaitKey(List<Effect> effects) {
        Map<String, List<Effect>> out = new TreeMap<>();
        for (Effect e : effects) {
            if (e instanceof PoolWaitEnded p) {
                out.computeIfAbsent("pool " + p.key(), k -> new ArrayList<>()).add(e);
            } else if (e instanceof LockWaitEnded l) {
                out.computeIfAbsent("lock " + l.name(), k -> new ArrayList<>()).add(e);
            }
        }
        return out;
    }

    // ---- routing, session checks, idempotency -------------------------------------------------

    private Result route(Command c, Result actual) {
        if (c instanceof OpenSession o) {
            executed = true;
            return open(o, actual);
        }
        if (c instanceof ExpireSessions e) {
            executed = true;
            List<Long> ended = new ArrayList<>();
            for (long id : new TreeSet<>(e.sessions())) {
                Sess s = sessions.get(id);
                if (s != null) {
                    endSession(s, true);
                    ended.add(id);
                }
            }
            return new Result.SessionsExpired(ended);
        }
        if (c instanceof ExpireWaits) {
            executed = true;
            return new Result.WaitsExpired(expiredAtStart);
        }
        if (!(c instanceof SessionRequest r)) {
            throw new IllegalArgumentException("not modelled: " + c);
        }
        Sess s = null;
        if (r.session() != 0) {
            s = sessions.get(r.session());
            if (s == null) {
                if (c instanceof CloseSession) {
                    // closing again is fine; closing an id never issued is not
                    return issued.contains(r.session()) ? new Result.SessionClosed(r.session())
                            : rejected(ErrorCode.UNKNOWN_SESSION);
                }
                return rejected(ErrorCode.UNKNOWN_SESSION);
            }
            if (r.requestId() != 0) {
                Supplier<Result> previous = s.recent.get(r.requestId());
                if (previous != null) {
                    return previous.get();
                }
                if (r.requestId() <= s.floor) {
                    return rejected(ErrorCode.REQUEST_TOO_OLD);
                }
            }
        } else if (!(c instanceof DispatchInit || c instanceof DispatchAdvance || c instanceof DispatchSetDisabled
                || c instanceof EventComplete || c instanceof QueueEnqueue)) {
            return rejected(ErrorCode.UNKNOWN_SESSION);
        }
        executed = true;
        executedFor = s;
        if (c instanceof CloseSession) {
            endSession(s, false);
            return new Result.SessionClosed(s.id);
        }
        if (c instanceof PoolAcquire a) {
            return poolAcquire(s, a);
        }
        if (c instanceof PoolRelease a) {
            return poolRelease(s, a);
        }
        if (c instanceof LockAcquire a) {
            return lockAcquire(s, a);
        }
        if (c instanceof LockRelease a) {
            return lockRelease(s, a);
        }
        if (c instanceof DispatchInit a) {
            return dispatchInit(a);
        }
        if (c instanceof DispatchAdvance a) {
            return dispatchAdvance(a);
        }
        if (c instanceof DispatchSelect a) {
            return dispatchSelect(s, a, actual);
        }
        if (c instanceof DispatchLock a) {
            return dispatchLock(s, a);
        }
        if (c instanceof DispatchRelease a) {
            return dispatchRelease(s, a);
        }
        if (c instanceof DispatchSetDisabled a) {
            return dispatchSetDisabled(a);
        }
        if (c instanceof EventBegin a) {
            return eventBegin(s, a);
        }
        if (c instanceof EventComplete a) {
            if (!validName(a.name())) {
                return rejected(ErrorCode.INVALID_ARGUMENT);
            }
            return new EventReply(completeEvent(a.name()) ? EventStatus.COMPLETED : EventStatus.NOT_PENDING, a.name());
        }
        if (c instanceof QueueEnqueue a) {
            return enqueue(a);
        }
        if (c instanceof QueueClaim a) {
            return claim(s, a);
        }
        if (c instanceof QueueDone a) {
            return finishItem(s, a.queue(), a.item(), a.fence(), true);
        }
        if (c instanceof QueueRetry a) {
            return finishItem(s, a.queue(), a.item(), a.fence(), false);
        }
        throw new IllegalArgumentException("not modelled: " + c);
    }

    // ---- sessions ----------------------------------------------------------------------------

    private Result open(OpenSession o, Result actual) {
        if (o.clientToken() != null) {
            if (!validName(o.clientToken())) {
                return rejected(ErrorCode.INVALID_ARGUMENT);
            }
            Long existing = tokens.get(o.clientToken());
            if (existing != null) {
                Sess s = sessions.get(existing);
                // past every id the session used (the floor covers forgotten ones), plus a window
                long highest = Math.max(s.floor, s.recent.isEmpty() ? 0 : s.recent.lastKey());
                return new Result.SessionOpened(s.id, s.ttl, true, highest + limits.maxRememberedRequests() + 1);
            }
        }
        if (o.ttlMs() < limits.minSessionTtlMs() || o.ttlMs() > limits.maxSessionTtlMs()) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        if (sessions.size() >= limits.maxSessions()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        // the id is the state machine's choice; it must never have been issued before
        check(actual instanceof Result.SessionOpened so && !so.existing(), "expected a new session, got %s", actual);
        long id = ((Result.SessionOpened) actual).session();
        check(id > 0 && !issued.contains(id), "session id %d reused or not positive", id);
        issued.add(id);
        sessions.put(id, new Sess(id, o.clientToken(), o.ttlMs(), now));
        if (o.clientToken() != null) {
            tokens.put(o.clientToken(), id);
        }
        return new Result.SessionOpened(id, o.ttlMs(), false, 1);
    }

    /** A session ends (closed or expired): everything it held or waited for is released. */
    private void endSession(Sess s, boolean expiredByLeader) {
        // pools: newest slot first; held slots handed on without DONE; waits dropped silently
        List<PSlot> slots = new ArrayList<>(s.slots);
        for (int i = slots.size() - 1; i >= 0; i--) {
            PSlot sl = slots.get(i);
            if (sl.waiting()) {
                Pool p = pools.get(sl.key);
                (sl.any ? p.waitAny : p.waitMe).remove(sl);
                tidyPool(sl.key);
            } else {
                releaseHeld(sl, false);
            }
        }
        s.slots.clear();
        // locks: its waits dropped, then the locks it held handed on
        for (Lock l : locks.values()) {
            l.waiters.removeIf(w -> w.session == s.id);
        }
        for (String name : new ArrayList<>(locks.keySet())) {
            Lock l = locks.get(name);
            if (l.holder == s.id) {
                handOffLock(name, l);
            }
        }
        // dispatch: targets unlocked, cursors and touch times untouched
        for (Group g : groups.values()) {
            for (Target t : g.targets.values()) {
                if (t.holder == s.id) {
                    t.holder = 0;
                    t.grant = null;
                }
            }
        }
        // queues: claimed items go back to their places
        for (LinkedHashMap<String, Item> q : queues.values()) {
            for (Item it : q.values()) {
                if (it.claimedBy == s.id) {
                    it.claimedBy = 0;
                    it.grant = null;
                }
            }
        }
        // events it owns are completed
        for (String name : new ArrayList<>(events.keySet())) {
            if (events.get(name).owner == s.id) {
                completeEvent(name);
            }
        }
        sessions.remove(s.id);
        if (s.token != null) {
            tokens.remove(s.token);
        }
        expected.add(new Effect.SessionEnded(s.id, expiredByLeader));
    }

    /** A wait that ended (or was withdrawn) replaces the remembered "queued" answer of its request. */
    private void rememberOutcome(long session, long rid, Supplier<Result> outcome) {
        Sess s = sessions.get(session);
        if (rid != 0 && s != null && s.recent.containsKey(rid)) {
            s.recent.put(rid, outcome);
        }
    }

    // ---- pools (PoolCounter) -----------------------------------------------------------------

    private Result poolAcquire(Sess s, PoolAcquire c) {
        if (s.slots.size() >= limits.maxSlotsPerSession()) {
            counters[LOCK_HELD]++;
            return new PoolReply(PoolStatus.LOCK_HELD, c.key(), 0);
        }
        if (!s.slots.isEmpty() && s.slots.get(s.slots.size() - 1).waiting()) {
            counters[WAIT_FOR_RESPONSE]++;
            return rejected(ErrorCode.WAIT_FOR_RESPONSE);
        }
        if (!validName(c.key()) || c.workers() <= 0 || c.maxQueue() <= 0 || !validWait(c.timeoutMs())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Pool p = pools.get(c.key());
        if (p == null) {
            if (pools.size() >= limits.maxPoolKeys()) {
                return rejected(ErrorCode.LIMIT_EXCEEDED);
            }
            p = new Pool();
        }
        if (p.count() >= c.maxQueue()) {
            counters[QUEUE_FULL]++;
            return new PoolReply(PoolStatus.QUEUE_FULL, c.key(), 0);
        }
        if (p.holders.size() < c.workers()) {
            PSlot sl = new PSlot(s.id, c.key(), c.requestId(), c.forAnyone(), 0, 0, now);
            sl.grant = newGrant();
            p.holders.add(sl);
            s.slots.add(sl);
            pools.put(c.key(), p);
            counters[ACQUIRED]++;
            return new PoolReply(PoolStatus.LOCKED, c.key(), f(sl.grant));
        }
        if (c.timeoutMs() == 0) {
            counters[TIMEOUTS]++;
            return new PoolReply(PoolStatus.TIMEOUT, c.key(), 0);
        }
        if (p.waiting() >= limits.maxWaitersPerKey()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        PSlot w = new PSlot(s.id, c.key(), c.requestId(), c.forAnyone(), deadline(c.timeoutMs()), ++waitOrder, now);
        (c.forAnyone() ? p.waitAny : p.waitMe).add(w);
        s.slots.add(w);
        pools.put(c.key(), p);
        return new PoolReply(PoolStatus.QUEUED, c.key(), 0);
    }

    /**
     * The newest slot (LIFO RELEASE), or the newest on the key if one is given; with a fence only the
     * held slot granted with it. No such slot: STALE_FENCE if a fence was quoted, else NOT_LOCKED.
     */
    private Result poolRelease(Sess s, PoolRelease c) {
        if (c.key() != null && !validName(c.key())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        int at = -1;
        for (int i = s.slots.size() - 1; i >= 0 && at < 0; i--) {
            PSlot sl = s.slots.get(i);
            if ((c.key() == null || sl.key.equals(c.key()))
                    && (c.fence() == 0 || (!sl.waiting() && sl.grant.fence == c.fence()))) {
                at = i;
            }
        }
        if (at < 0) {
            if (c.fence() != 0) {
                return rejected(ErrorCode.STALE_FENCE);
            }
            counters[RELEASE_MISMATCH]++;
            return new PoolReply(PoolStatus.NOT_LOCKED, c.key(), 0);
        }
        PSlot sl = s.slots.remove(at);
        counters[RELEASED]++;
        if (sl.waiting()) {
            // cancelling a wait: no DONE to anyone (unlike poolcounterd's quirk 3)
            Pool p = pools.get(sl.key);
            (sl.any ? p.waitAny : p.waitMe).remove(sl);
            tidyPool(sl.key);
            PoolReply cancelled = new PoolReply(PoolStatus.RELEASED, sl.key, 0);
            expected.add(new PoolWaitEnded(s.id, sl.rid, sl.key, PoolStatus.RELEASED, 0));
            rememberOutcome(s.id, sl.rid, () -> cancelled); // the acquire is no longer QUEUED
            return cancelled;
        }
        releaseHeld(sl, true);
        return new PoolReply(PoolStatus.RELEASED, sl.key, f(sl.grant));
    }

    /**
     * A holder lets go. Explicit RELEASE: DONE to every ACQ4ANY waiter, then the slot to the oldest
     * ACQ4ME waiter. Session end: no DONE; the slot to the oldest ACQ4ME waiter, else the oldest ACQ4ANY one.
     */
    private void releaseHeld(PSlot sl, boolean explicit) {
        Pool p = pools.get(sl.key);
        check(p != null && p.holders.remove(sl), "model: holder missing");
        long held = now - sl.since;
        counters[HOLD_MS] += held;
        if (explicit) {
            for (PSlot w : p.waitAny) {
                counters[DONE]++;
                counters[WAIT_ANY_MS] += now - w.since;
                counters[DONE_WAIT_MS] += now - w.since; // only DONE: a hand-off below is not "for good"
                counters[GAINED_MS] += held;             // once per DONE waiter, not once per release
                endPoolWait(w, PoolStatus.DONE);
            }
            p.waitAny.clear();
        }
        PSlot next = !p.waitMe.isEmpty() ? p.waitMe.remove(0) : !p.waitAny.isEmpty() ? p.waitAny.remove(0) : null;
        if (next != null) {
            counters[ACQUIRED]++;
            counters[next.any ? WAIT_ANY_MS : WAIT_ME_MS] += now - next.since;
            Grant g = newGrant();
            next.grant = g;
            next.since = now;
            p.holders.add(next);
            String key = sl.key;
            expected.add(new PoolWaitEnded(next.session, next.rid, key, PoolStatus.LOCKED, f(g)));
            rememberOutcome(next.session, next.rid, () -> new PoolReply(PoolStatus.LOCKED, key, f(g)));
        }
        tidyPool(sl.key);
    }

    private void poolTimeout(PSlot w) {
        Pool p = pools.get(w.key);
        (w.any ? p.waitAny : p.waitMe).remove(w);
        counters[TIMEOUTS]++;
        counters[TIMEOUT_WAIT_MS] += now - w.since;
        endPoolWait(w, PoolStatus.TIMEOUT);
        tidyPool(w.key);
    }

    /** A wait ends without a hold (DONE, TIMEOUT): the waiter's slot is freed and it is told. */
    private void endPoolWait(PSlot w, PoolStatus status) {
        sessions.get(w.session).slots.remove(w);
        expected.add(new PoolWaitEnded(w.session, w.rid, w.key, status, 0));
        rememberOutcome(w.session, w.rid, () -> new PoolReply(status, w.key, 0));
    }

    private void tidyPool(String key) {
        Pool p = pools.get(key);
        if (p != null && p.count() == 0) {
            pools.remove(key);
        }
    }

    // ---- fenced locks ------------------------------------------------------------------------

    private Result lockAcquire(Sess s, LockAcquire c) {
        if (!validName(c.name()) || !validWait(c.timeoutMs())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Lock l = locks.get(c.name());
        if (l == null) {
            if (locks.size() >= limits.maxLocks()) {
                return rejected(ErrorCode.LIMIT_EXCEEDED);
            }
            l = new Lock();
            l.holder = s.id;
            l.grant = newGrant();
            l.since = now;
            locks.put(c.name(), l);
            return new LockReply(LockStatus.LOCKED, c.name(), f(l.grant));
        }
        if (l.holder == s.id) {
            return new LockReply(LockStatus.ALREADY_HELD, c.name(), f(l.grant));
        }
        if (lockWait(l, s.id) != null) {
            return rejected(ErrorCode.WAIT_FOR_RESPONSE);
        }
        if (c.timeoutMs() == 0) {
            return new LockReply(LockStatus.BUSY, c.name(), 0);
        }
        if (l.waiters.size() >= limits.maxWaitersPerKey()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        l.waiters.add(new LWait(s.id, c.requestId(), now, deadline(c.timeoutMs()), ++waitOrder));
        return new LockReply(LockStatus.QUEUED, c.name(), 0);
    }

    private Result lockRelease(Sess s, LockRelease c) {
        if (!validName(c.name())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Lock l = locks.get(c.name());
        if (l != null && l.holder == s.id) {
            if (c.fence() != 0 && c.fence() != l.grant.fence) {
                return rejected(ErrorCode.STALE_FENCE);
            }
            long fence = f(l.grant);
            handOffLock(c.name(), l);
            return new LockReply(LockStatus.UNLOCKED, c.name(), fence);
        }
        LWait w = l == null ? null : lockWait(l, s.id);
        if (w != null) {
            l.waiters.remove(w);
            LockReply cancelled = new LockReply(LockStatus.CANCELLED, c.name(), 0);
            expected.add(new LockWaitEnded(w.session, w.rid, c.name(), LockStatus.CANCELLED, 0));
            rememberOutcome(s.id, w.rid, () -> cancelled); // the acquire is no longer QUEUED
            return cancelled;
        }
        if (c.fence() != 0) {
            return rejected(ErrorCode.STALE_FENCE);
        }
        return new LockReply(LockStatus.NOT_HELD, c.name(), 0);
    }

    /** The holder let go: the oldest waiter gets the lock with a new fence, or the lock disappears. */
    private void handOffLock(String name, Lock l) {
        if (l.waiters.isEmpty()) {
            locks.remove(name);
            return;
        }
        LWait w = l.waiters.remove(0);
        Grant g = newGrant();
        l.holder = w.session;
        l.grant = g;
        l.since = now;
        expected.add(new LockWaitEnded(w.session, w.rid, name, LockStatus.LOCKED, f(g)));
        rememberOutcome(w.session, w.rid, () -> new LockReply(LockStatus.LOCKED, name, f(g)));
    }

    private void lockTimeout(String name, LWait w) {
        locks.get(name).waiters.remove(w);
        expected.add(new LockWaitEnded(w.session, w.rid, name, LockStatus.TIMEOUT, 0));
        rememberOutcome(w.session, w.rid, () -> new LockReply(LockStatus.TIMEOUT, name, 0));
    }

    private static LWait lockWait(Lock l, long session) {
        for (LWait w : l.waiters) {
            if (w.session == session) {
                return w;
            }
        }
        return null;
    }

    // ---- dispatch (Wikibase ChangeDispatchCoordinator) ---------------------------------------

    private Result dispatchInit(DispatchInit c) {
        if (!validName(c.group())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        for (Map.Entry<String, String> e : c.targets().entrySet()) {
            if (!validName(e.getKey()) || !validName(e.getValue())) {
                return rejected(ErrorCode.INVALID_ARGUMENT);
            }
        }
        Group g = groups.get(c.group());
        if (g == null && groups.size() >= limits.maxDispatchGroups()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        int size = g == null ? 0 : g.targets.size();
        int added = 0;
        for (String id : c.targets().keySet()) {
            if (g == null || !g.targets.containsKey(id)) {
                added++;
            }
        }
        if (size + added > limits.maxTargetsPerGroup()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        if (g == null) {
            g = new Group();
            groups.put(c.group(), g);
        }
        for (Map.Entry<String, String> e : c.targets().entrySet()) {
            if (!g.targets.containsKey(e.getKey())) { // INSERT IGNORE: tracked targets are never touched
                Target t = new Target();
                t.name = e.getValue();
                g.targets.put(e.getKey(), t);
            }
        }
        if (c.settings() != null) {
            g.settings = c.settings();
        }
        return new DispatchReply(DispatchStatus.INITIALIZED, null, added);
    }

    private Result dispatchAdvance(DispatchAdvance c) {
        if (!validName(c.group())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Group g = groups.get(c.group());
        if (g == null) {
            return rejected(ErrorCode.NOT_FOUND);
        }
        if (c.head() < 0) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        g.head = Math.max(g.head, c.head());
        return new DispatchReply(DispatchStatus.ADVANCED, null, g.head);
    }

    /**
     * selectClient (docs/design.md): candidates are enabled, unlocked targets with pending changes
     * that have rested at least the interval or lag by more than the batch size; the pick is random
     * among the {@code randomness} most lagged. The model accepts any target that is a candidate
     * with fewer than {@code randomness} candidates strictly more lagged, then adopts the pick.
     */
    private Result dispatchSelect(Sess s, DispatchSelect c, Result actual) {
        if (!validName(c.group())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Group g = groups.get(c.group());
        if (g == null) {
            return rejected(ErrorCode.NOT_FOUND);
        }
        List<String> allowed = selectable(g);
        if (allowed.isEmpty()) {
            return new DispatchReply(DispatchStatus.NONE, null, g.head);
        }
        check(actual instanceof DispatchReply r && r.status() == DispatchStatus.SELECTED && r.target() != null
                        && allowed.contains(r.target().id()),
                "select in %s: expected one of %s, got %s", c.group(), allowed, actual);
        String id = ((DispatchReply) actual).target().id();
        return new DispatchReply(DispatchStatus.SELECTED, lockTarget(s, c.group(), g, id), g.head);
    }

    /** The allowed picks of a select now. */
    public List<String> selectable(String group) {
        Group g = groups.get(group);
        return g == null ? List.of() : selectable(g);
    }

    private List<String> selectable(Group g) {
        long fresh = now - g.settings.intervalMs();
        List<String> eligible = new ArrayList<>();
        for (Map.Entry<String, Target> e : g.targets.entrySet()) {
            Target t = e.getValue();
            if (!t.disabled && t.holder == 0 && t.seen < g.head
                    && (t.touched < fresh || g.head - t.seen > g.settings.batchSize())) {
                eligible.add(e.getKey());
            }
        }
        List<String> allowed = new ArrayList<>();
        for (String id : eligible) {
            long seen = g.targets.get(id).seen;
            long moreLagged = eligible.stream().filter(o -> g.targets.get(o).seen < seen).count();
            if (moreLagged < g.settings.randomness()) {
                allowed.add(id);
            }
        }
        return allowed;
    }

    private Result dispatchLock(Sess s, DispatchLock c) {
        if (!validName(c.group()) || !validName(c.target())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Group g = groups.get(c.group());
        Target t = g == null ? null : g.targets.get(c.target());
        if (t == null) {
            return rejected(ErrorCode.NOT_FOUND);
        }
        if (t.holder == s.id) {
            return new DispatchReply(DispatchStatus.LOCKED, view(c.group(), c.target(), t), g.head);
        }
        if (t.holder != 0) {
            return new DispatchReply(DispatchStatus.BUSY, view(c.group(), c.target(), t), g.head);
        }
        return new DispatchReply(DispatchStatus.LOCKED, lockTarget(s, c.group(), g, c.target()), g.head);
    }

    private TargetView lockTarget(Sess s, String group, Group g, String id) {
        Target t = g.targets.get(id);
        t.holder = s.id;
        t.grant = newGrant();
        return view(group, id, t);
    }

    private Result dispatchRelease(Sess s, DispatchRelease c) {
        if (!validName(c.group()) || !validName(c.target())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Group g = groups.get(c.group());
        Target t = g == null ? null : g.targets.get(c.target());
        if (t == null) {
            return rejected(ErrorCode.NOT_FOUND);
        }
        if (t.holder != s.id || (c.fence() != 0 && c.fence() != t.grant.fence)) {
            return rejected(ErrorCode.STALE_FENCE);
        }
        if (c.newSeen() < 0) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        t.seen = Math.max(t.seen, c.newSeen());
        t.touched = now;
        t.holder = 0;
        t.grant = null;
        return new DispatchReply(DispatchStatus.RELEASED, view(c.group(), c.target(), t), g.head);
    }

    private Result dispatchSetDisabled(DispatchSetDisabled c) {
        if (!validName(c.group()) || !validName(c.target())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        Group g = groups.get(c.group());
        Target t = g == null ? null : g.targets.get(c.target());
        if (t == null) {
            return rejected(ErrorCode.NOT_FOUND);
        }
        t.disabled = c.disabled();
        return new DispatchReply(DispatchStatus.UPDATED, view(c.group(), c.target(), t), g.head);
    }

    private TargetView view(String group, String id, Target t) {
        return new TargetView(group, id, t.name, t.seen, t.touched, t.disabled, t.holder,
                t.holder == 0 ? 0 : f(t.grant));
    }

    // ---- events ------------------------------------------------------------------------------

    private Result eventBegin(Sess s, EventBegin c) {
        if (!validName(c.name())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        if (events.containsKey(c.name())) {
            return new EventReply(EventStatus.ALREADY_PENDING, c.name());
        }
        if (events.size() >= limits.maxEvents()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        events.put(c.name(), new Ev(s.id, now));
        return new EventReply(EventStatus.BEGUN, c.name());
    }

    /** Completes the event if pending (idempotent, no ownership check). */
    private boolean completeEvent(String name) {
        if (events.remove(name) == null) {
            return false;
        }
        expected.add(new Effect.EventCompleted(name));
        return true;
    }

    // ---- gated queues ------------------------------------------------------------------------

    private Result enqueue(QueueEnqueue c) {
        if (!validName(c.queue()) || !validName(c.item())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        if (c.payload() == null || c.payload().size() > limits.maxPayloadBytes()) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        TreeSet<String> prereqs = new TreeSet<>();
        for (String p : c.prerequisites() == null ? List.<String>of() : c.prerequisites()) {
            if (!validName(p)) {
                return rejected(ErrorCode.INVALID_ARGUMENT);
            }
            prereqs.add(p);
        }
        if (prereqs.size() > limits.maxPrerequisites()) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        LinkedHashMap<String, Item> q = queues.get(c.queue());
        if (q == null && queues.size() >= limits.maxQueues()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        Item old = q == null ? null : q.get(c.item());
        if (old == null && q != null && q.size() >= limits.maxItemsPerQueue()) {
            return rejected(ErrorCode.LIMIT_EXCEEDED);
        }
        if (q == null) {
            q = new LinkedHashMap<>();
            queues.put(c.queue(), q);
        }
        Item it = old;
        if (it == null) {
            it = new Item();
            it.enqueuedAt = now;
            q.put(c.item(), it); // at the back
        }
        // re-enqueueing replaces payload and prerequisites; place and claim stay
        it.payload = c.payload();
        it.prereqs = new ArrayList<>(prereqs);
        return new QueueReply(old == null ? QueueStatus.ENQUEUED : QueueStatus.REPLACED, List.of());
    }

    private Result claim(Sess s, QueueClaim c) {
        if (!validName(c.queue())) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        if (c.max() <= 0 || c.max() > limits.maxClaimBatch()) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        List<ClaimedItem> out = new ArrayList<>();
        LinkedHashMap<String, Item> q = queues.get(c.queue());
        if (q != null) {
            for (Map.Entry<String, Item> e : q.entrySet()) { // oldest first
                Item it = e.getValue();
                if (out.size() < c.max() && ready(it)) {
                    it.claimedBy = s.id;
                    it.grant = newGrant();
                    it.attempts++;
                    out.add(new ClaimedItem(c.queue(), e.getKey(), it.payload, f(it.grant), it.attempts));
                }
            }
        }
        return new QueueReply(QueueStatus.CLAIMED, out);
    }

    private Result finishItem(Sess s, String queue, String item, long fence, boolean done) {
        if (!validName(queue) || !validName(item)) {
            return rejected(ErrorCode.INVALID_ARGUMENT);
        }
        LinkedHashMap<String, Item> q = queues.get(queue);
        Item it = q == null ? null : q.get(item);
        if (it == null) {
            return rejected(ErrorCode.NOT_FOUND);
        }
        if (it.claimedBy != s.id || (fence != 0 && fence != it.grant.fence)) {
            return rejected(ErrorCode.STALE_FENCE);
        }
        q.remove(item);
        if (done) {
            if (q.isEmpty()) {
                queues.remove(queue);
            }
            return new QueueReply(QueueStatus.DONE, List.of());
        }
        it.claimedBy = 0;
        it.grant = null;
        q.put(item, it); // retry: back of the queue
        return new QueueReply(QueueStatus.REQUEUED, List.of());
    }

    /** Claimable: not claimed, and none of its prerequisite events pending. */
    private boolean ready(Item it) {
        if (it.claimedBy != 0) {
            return false;
        }
        for (String p : it.prereqs) {
            if (events.containsKey(p)) {
                return false;
            }
        }
        return true;
    }

    private int pendingPrereqs(Item it) {
        int n = 0;
        for (String p : it.prereqs) {
            if (events.containsKey(p)) {
                n++;
            }
        }
        return n;
    }

    private Set<String> readyItems() {
        Set<String> out = new HashSet<>();
        for (Map.Entry<String, LinkedHashMap<String, Item>> q : queues.entrySet()) {
            for (Map.Entry<String, Item> it : q.getValue().entrySet()) {
                if (ready(it.getValue())) {
                    out.add(q.getKey() + '\u0000' + it.getKey());
                }
            }
        }
        return out;
    }

    // ---- fences and matching -----------------------------------------------------------------

    private Grant newGrant() {
        Grant g = new Grant(nextPlaceholder--, commandOrdinal);
        grants.put(g.placeholder, g);
        entryGrants.add(g);
        return g;
    }

    /** The grant's fence if known, else its placeholder. */
    private static long f(Grant g) {
        return g.fence != 0 ? g.fence : g.placeholder;
    }

    private void bind(Grant g, long fence) {
        check(fence > fenceFloor, "fence %d not above the fences of earlier entries (%d)", fence, fenceFloor);
        check((fence >>> 16) == index, "fence %d does not carry the granting entry's index %d", fence, index);
        check(usedFences.add(fence), "fence %d granted twice", fence);
        g.fence = fence;
        maxFence = Math.max(maxFence, fence);
    }

    /** Structural equality where a placeholder fence matches (and binds) any new fence. */
    private boolean unify(Object want, Object have) {
        tentative.clear();
        boolean ok = u(want, have);
        if (ok) {
            for (Map.Entry<Long, Long> b : tentative.entrySet()) {
                bind(grants.get(b.getKey()), b.getValue());
            }
        }
        tentative.clear();
        return ok;
    }

    private boolean u(Object e, Object a) {
        if (e == null || a == null) {
            return e == a;
        }
        if (e instanceof Rejected x && a instanceof Rejected y) {
            return x.code() == y.code(); // the message is free text
        }
        if (e instanceof PoolReply x && a instanceof PoolReply y) {
            return x.status() == y.status() && Objects.equals(x.key(), y.key()) && fence(x.fence(), y.fence());
        }
        if (e instanceof LockReply x && a instanceof LockReply y) {
            return x.status() == y.status() && x.name().equals(y.name()) && fence(x.fence(), y.fence());
        }
        if (e instanceof DispatchReply x && a instanceof DispatchReply y) {
            return x.status() == y.status() && x.value() == y.value() && u(x.target(), y.target());
        }
        if (e instanceof TargetView x && a instanceof TargetView y) {
            return x.group().equals(y.group()) && x.id().equals(y.id()) && x.name().equals(y.name())
                    && x.seen() == y.seen() && x.touched() == y.touched() && x.disabled() == y.disabled()
                    && x.holder() == y.holder() && fence(x.fence(), y.fence());
        }
        if (e instanceof QueueReply x && a instanceof QueueReply y) {
            if (x.status() != y.status() || x.items().size() != y.items().size()) {
                return false;
            }
            for (int i = 0; i < x.items().size(); i++) {
                ClaimedItem ci = x.items().get(i);
                ClaimedItem ai = y.items().get(i);
                if (!(ci.queue().equals(ai.queue()) && ci.item().equals(ai.item()) && ci.payload().equals(ai.payload())
                        && ci.attempts() == ai.attempts() && fence(ci.fence(), ai.fence()))) {
                    return false;
                }
            }
            return true;
        }
        if (e instanceof PoolWaitEnded x && a instanceof PoolWaitEnded y) {
            return x.session() == y.session() && x.requestId() == y.requestId() && x.key().equals(y.key())
                    && x.status() == y.status() && fence(x.fence(), y.fence());
        }
        if (e instanceof LockWaitEnded x && a instanceof LockWaitEnded y) {
            return x.session() == y.session() && x.requestId() == y.requestId() && x.name().equals(y.name())
                    && x.status() == y.status() && fence(x.fence(), y.fence());
        }
        return e.equals(a);
    }

    private boolean fence(long want, long have) {
        if (want >= 0) {
            return want == have;
        }
        Grant g = grants.get(want);
        if (g.fence != 0) {
            return g.fence == have;
        }
        Long t = tentative.get(want);
        if (t != null) {
            return t == have;
        }
        if (have <= 0) {
            return false;
        }
        tentative.put(want, have);
        return true;
    }

    // ---- small helpers -----------------------------------------------------------------------

    private boolean validName(String n) {
        return n != null && !n.isEmpty() && n.getBytes(StandardCharsets.UTF_8).length <= limits.maxNameBytes();
    }

    private boolean validWait(long timeoutMs) {
        return timeoutMs >= 0 && timeoutMs <= limits.maxWaitMs();
    }

    private long deadline(long timeoutMs) {
        long d = now + timeoutMs;
        return d < now ? Long.MAX_VALUE : d;
    }

    private static Rejected rejected(ErrorCode code) {
        return new Rejected(code, "(any message)");
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static void check(boolean ok, String fmt, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(fmt, args));
        }
    }

    private static long known(Grant g) {
        check(g.fence != 0, "model: fence not yet observed");
        return g.fence;
    }

    // ---- what the model says the lookups must answer -----------------------------------------

    public View.Pool poolView(String key) {
        Pool p = pools.get(key);
        if (p == null) {
            return null;
        }
        List<View.PoolHolder> holders = new ArrayList<>();
        for (PSlot h : p.holders) {
            holders.add(new View.PoolHolder(h.session, known(h.grant), h.since));
        }
        List<View.PoolWaiter> waiters = new ArrayList<>();
        for (PSlot w : concat(p.waitMe, p.waitAny)) {
            waiters.add(new View.PoolWaiter(w.session, w.rid, w.since, w.deadline, w.any));
        }
        return new View.Pool(key, p.holders.size(), p.waiting(), holders, waiters);
    }

    /** The session as the lookup shows it, with wait ids (not modelled) as 0 and lists sorted. */
    public View.Session sessionView(long id) {
        Sess s = sessions.get(id);
        if (s == null) {
            return null;
        }
        List<View.PoolSlot> slots = new ArrayList<>();
        for (PSlot sl : s.slots) {
            String state = !sl.waiting() ? "HELD" : sl.any ? "WAIT_ANY" : "WAIT_ME";
            slots.add(new View.PoolSlot(sl.key, state, sl.waiting() ? 0 : known(sl.grant), sl.rid, sl.since));
        }
        Map<String, Long> held = new TreeMap<>();
        List<String> waits = new ArrayList<>();
        for (Map.Entry<String, Lock> e : locks.entrySet()) {
            if (e.getValue().holder == id) {
                held.put(e.getKey(), known(e.getValue().grant));
            }
            if (lockWait(e.getValue(), id) != null) {
                waits.add(e.getKey());
            }
        }
        List<String> targets = new ArrayList<>();
        for (Map.Entry<String, Group> g : groups.entrySet()) {
            for (Map.Entry<String, Target> t : g.getValue().targets.entrySet()) {
                if (t.getValue().holder == id) {
                    targets.add(g.getKey() + "/" + t.getKey());
                }
            }
        }
        List<String> evs = new ArrayList<>();
        events.forEach((name, ev) -> {
            if (ev.owner == id) {
                evs.add(name);
            }
        });
        List<String> claimed = new ArrayList<>();
        queues.forEach((qn, q) -> q.forEach((item, it) -> {
            if (it.claimedBy == id) {
                claimed.add(qn + "/" + item);
            }
        }));
        targets.sort(null);
        claimed.sort(null);
        return new View.Session(id, s.token, s.ttl, s.openedAt, slots, held, waits, targets, evs, claimed);
    }

    public View.Lock lockView(String name) {
        Lock l = locks.get(name);
        if (l == null) {
            return null;
        }
        List<View.LockWaiter> ws = new ArrayList<>();
        for (LWait w : l.waiters) {
            ws.add(new View.LockWaiter(w.session, w.rid, w.since, w.deadline));
        }
        return new View.Lock(name, l.holder, known(l.grant), l.since, ws);
    }

    public View.Group groupView(String group) {
        Group g = groups.get(group);
        if (g == null) {
            return null;
        }
        List<TargetView> ts = new ArrayList<>();
        for (Map.Entry<String, Target> e : g.targets.entrySet()) {
            Target t = e.getValue();
            ts.add(new TargetView(group, e.getKey(), t.name, t.seen, t.touched, t.disabled, t.holder,
                    t.holder == 0 ? 0 : known(t.grant)));
        }
        return new View.Group(group, g.head, g.settings, ts);
    }

    public View.Event eventView(String name) {
        Ev e = events.get(name);
        return e == null ? null : new View.Event(name, e.owner, e.since);
    }

    public List<View.Event> eventList() {
        List<View.Event> out = new ArrayList<>();
        events.forEach((n, e) -> out.add(new View.Event(n, e.owner, e.since)));
        return out;
    }

    /** The queue as the lookup shows it, FIFO, with sequence numbers (not modelled) as 0. */
    public View.Queue queueView(String queue) {
        LinkedHashMap<String, Item> q = queues.get(queue);
        if (q == null) {
            return null;
        }
        List<View.Item> items = new ArrayList<>();
        int ready = 0;
        for (Map.Entry<String, Item> e : q.entrySet()) {
            Item it = e.getValue();
            if (ready(it)) {
                ready++;
            }
            items.add(new View.Item(e.getKey(), 0, it.payload, it.prereqs, pendingPrereqs(it), it.claimedBy,
                    it.claimedBy == 0 ? 0 : known(it.grant), it.attempts, it.enqueuedAt));
        }
        return new View.Queue(queue, ready, items);
    }

    public View.Summary summary() {
        int waits = 0;
        for (Pool p : pools.values()) {
            waits += p.waiting();
        }
        for (Lock l : locks.values()) {
            waits += l.waiters.size();
        }
        return new View.Summary(index, now, maxFence, sessions.size(), pools.size(), locks.size(), groups.size(),
                events.size(), queues.size(), waits);
    }

    public long nextDeadline() {
        long min = Long.MAX_VALUE;
        for (Pool p : pools.values()) {
            for (PSlot w : concat(p.waitMe, p.waitAny)) {
                min = Math.min(min, w.deadline);
            }
        }
        for (Lock l : locks.values()) {
            for (LWait w : l.waiters) {
                min = Math.min(min, w.deadline);
            }
        }
        return min;
    }

    public List<View.SessionLease> leases() {
        List<View.SessionLease> out = new ArrayList<>();
        sessions.values().forEach(s -> out.add(new View.SessionLease(s.id, s.ttl)));
        return out;
    }

    public View.PoolTotals poolTotals() {
        long processing = 0;
        long waiting = 0;
        for (Pool p : pools.values()) {
            processing += p.holders.size();
            waiting += p.waiting();
        }
        long[] c = counters;
        return new View.PoolTotals(pools.size(), processing, waiting, c[ACQUIRED], c[RELEASED], c[DONE], c[TIMEOUTS],
                c[QUEUE_FULL], c[LOCK_HELD], c[WAIT_FOR_RESPONSE], c[RELEASE_MISMATCH], c[HOLD_MS], c[WAIT_ME_MS],
                c[WAIT_ANY_MS], c[TIMEOUT_WAIT_MS], c[DONE_WAIT_MS], c[GAINED_MS]);
    }

    // ---- read access for the command generator -----------------------------------------------

    public boolean isLive(long session) {
        return sessions.containsKey(session);
    }

    public List<Long> liveSessions() {
        return new ArrayList<>(sessions.keySet());
    }

    /** (key, fence) of the session's held pool slots whose fence is known, oldest first. */
    public List<Map.Entry<String, Long>> heldPoolSlots(long session) {
        List<Map.Entry<String, Long>> out = new ArrayList<>();
        Sess s = sessions.get(session);
        if (s != null) {
            for (PSlot sl : s.slots) {
                if (!sl.waiting() && sl.grant.fence != 0) {
                    out.add(Map.entry(sl.key, sl.grant.fence));
                }
            }
        }
        return out;
    }

    /** The fence of the lock if the session holds it, else 0. */
    public long lockFence(long session, String name) {
        Lock l = locks.get(name);
        return l != null && session != 0 && l.holder == session ? l.grant.fence : 0;
    }

    public long head(String group) {
        Group g = groups.get(group);
        return g == null ? 0 : g.head;
    }

    public long seen(String group, String target) {
        Group g = groups.get(group);
        Target t = g == null ? null : g.targets.get(target);
        return t == null ? 0 : t.seen;
    }

    /** (group/target, fence) of the targets the session holds. */
    public List<Map.Entry<String, Long>> heldTargets(long session) {
        List<Map.Entry<String, Long>> out = new ArrayList<>();
        groups.forEach((gn, g) -> g.targets.forEach((tn, t) -> {
            if (session != 0 && t.holder == session) {
                out.add(Map.entry(gn + "/" + tn, t.grant.fence));
            }
        }));
        return out;
    }

    /** (queue/item, fence) of the items the session has claimed. */
    public List<Map.Entry<String, Long>> claimedItems(long session) {
        List<Map.Entry<String, Long>> out = new ArrayList<>();
        queues.forEach((qn, q) -> q.forEach((item, it) -> {
            if (session != 0 && it.claimedBy == session) {
                out.add(Map.entry(qn + "/" + item, it.grant.fence));
            }
        }));
        return out;
    }
}
