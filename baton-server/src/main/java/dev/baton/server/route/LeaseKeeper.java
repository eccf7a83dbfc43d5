package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

/**
 * Session leases (docs/design.md, "Time-driven changes are commands"): the leader alone tracks when
 * it last heard from each session, in memory, and proposes {@link Command.ExpireSessions} for those
 * silent longer than their TTL; the core applies the decision. A keep-alive therefore costs no Raft
 * write. Followers collect the keep-alives of the streams they hold and forward them to the leader
 * in one call every {@link #FORWARD_EVERY_MS} ms.
 *
 * <p>After a leader change the new leader knows nobody's last keep-alive, so every live session
 * (from {@link Query.ListSessionLeases}) starts with a fresh lease: a fail-over never expires a
 * healthy session; it can only delay the expiry of a dead one by one TTL.
 *
 * <h2>What a door may tell a client: the door's own lease</h2>
 * Every node also remembers, per session, when the leader last acknowledged it: the time a
 * keep-alive batch that the leader answered left this node, or a session request that the leader
 * answered (the leader renews a session on each of its requests), or, on the leader, the start of a
 * round of its own renewals. The leader answers a forwarded batch, and counts a round of its own, only
 * once a ReadIndex round ({@link #confirmedLeading}) confirms that it still leads: a deposed leader
 * that has not noticed yet (one paused for longer than a TTL, say) acknowledges nothing.
 * A door passes a grant on to a client only while that acknowledgement is younger than the TTL less
 * a margin ({@link #fresh}); otherwise it holds the grant until the leader next acknowledges the
 * session ({@link #whenFresh}, which asks for that at once), or hears that the session is gone.
 *
 * <p>Why: a node cut off from the leader for longer than a TTL applies, once healed, grants that the
 * leader made long ago to sessions it has since expired (and whose slots it has given to others):
 * without this check its door would tell a client {@code LOCKED} for a slot somebody else holds. The
 * leader cannot expire a session sooner than a TTL after it renewed it, which is no sooner than the
 * acknowledged request left this node, and a leader elected later starts the session's lease afresh,
 * so a grant told while the acknowledgement is younger than the TTL is told to a live session. The
 * margin ({@value #MARGIN_ELECTION_TIMEOUTS} election timeouts, capped at half the TTL so that short
 * TTLs still work) covers clocks that run at slightly different rates, with room to spare. A stale
 * acknowledgement alone never ends a session: after a long election the new leader keeps it alive,
 * and the next acknowledgement lets the grant through.
 */
public final class LeaseKeeper {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);
    static final long FORWARD_EVERY_MS = 200;
    static final long EXPIRY_SCAN_MS = 100;
    static final long RECONCILE_MS = 5_000;
    /** The longest the scans sleep with nothing due (also how soon a follower notices it leads, should that signal be late). */
    static final long IDLE_TICK_MS = 1_000;

    private static final class Lease {
        final long ttlNanos;
        volatile long lastSeen;

        Lease(long ttlMs, long now) {
            this.ttlNanos = TimeUnit.MILLISECONDS.toNanos(ttlMs);
            this.lastSeen = now;
        }
    }

    private final BatonNode node;
    private final LongSupplier nanoClock;
    private final Map<Long, Lease> leases = new ConcurrentHashMap<>();
    private final Set<Long> toForward = ConcurrentHashMap.newKeySet();
    /** On the leader: sessions renewed here whose acknowledgement waits for this node's leadership to be confirmed. */
    private final Set<Long> toConfirm = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean expiring = new AtomicBoolean();
    private volatile boolean leading;
    private volatile Router router;
    private volatile LongConsumer unknownSession = s -> {};
    /** The scans' timer and its next run (written under {@code this}). */
    private ScheduledExecutorService timer;
    private ScheduledFuture<?> nextTick;
    private volatile long nextTickAtNanos = Long.MIN_VALUE;
    private boolean stopped;
    /** The scans' last runs, and the first lease to run out as the last scan saw it (on the timer thread). */
    private volatile long lastForwardNanos;
    private long lastReconcileNanos;
    private long earliestExpiryNanos = Long.MAX_VALUE;
    /** The first expiry of a lease added since the last expiry scan began, outside it (under {@code this}). */
    private long addedExpiryNanos = Long.MAX_VALUE;
    private static final long FORWARD_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(FORWARD_EVERY_MS);
    private static final long RECONCILE_NANOS = TimeUnit.MILLISECONDS.toNanos(RECONCILE_MS);
    /** A tick a little early (timer jitter) still counts as due. */
    private static final long SCAN_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private volatile long expiredTotal;

    /** How many election timeouts a grant's acknowledgement must be younger than its TTL by (at most half the TTL). */
    static final int MARGIN_ELECTION_TIMEOUTS = 2;
    /** Sessions remembered as ended, so that a grant held for one that ended a moment ago is not held for ever. */
    static final int ENDED_REMEMBERED = 4_096;
    private final long marginNanos;
    /** Per session: when (on {@link #nanoClock}) the newest request that the leader acknowledged left this node. */
    private final Map<Long, Long> acknowledged = new ConcurrentHashMap<>();
    /**
     * Something held back until the leader acknowledges its session: a grant, told once the
     * acknowledgement is fresh for its TTL; or a keep-alive's acknowledgement ({@code since} set),
     * passed on once the leader has acknowledged a renewal sent no earlier than {@code since}.
     */
    private record Held(CompletableFuture<Boolean> told, long ttlMs, long since, boolean grant) {}

    private static final long NO_SINCE = Long.MIN_VALUE;

    /** Grants held until their session is acknowledged again or gone (under {@link #held}). */
    private final Map<Long, List<Held>> held = new HashMap<>();
    private final Set<Long> endedRecently = Collections.newSetFromMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
            return size() > ENDED_REMEMBERED;
        }
    });
    /** Everything held (grants and late acknowledgements), for the cheap check in {@link #acknowledged}. */
    private final AtomicLong heldCount = new AtomicLong();
    private final AtomicLong grantsHeld = new AtomicLong();
    private final AtomicLong grantsHeldTotal = new AtomicLong();
    private final AtomicLong grantsNotTold = new AtomicLong();

    public LeaseKeeper(BatonNode node, LongSupplier nanoClock) {
        this(node, nanoClock, node.options().electionTimeoutMs());
    }

    /** @param electionTimeoutMs the cluster's election timeout: the margin is {@value #MARGIN_ELECTION_TIMEOUTS} of them */
    public LeaseKeeper(BatonNode node, LongSupplier nanoClock, long electionTimeoutMs) {
        this.node = node;
        this.nanoClock = nanoClock;
        this.marginNanos = TimeUnit.MILLISECONDS.toNanos(MARGIN_ELECTION_TIMEOUTS * electionTimeoutMs);
    }

    public void setRouter(Router router) {
        this.router = router;
    }

    /** Told about sessions the leader does not know although a stream here keeps them alive. */
    public void onUnknownSession(LongConsumer c) {
        this.unknownSession = c;
    }

    /**
     * One timer job does all three scans, and it sleeps until one is due (at most
     * {@value #IDLE_TICK_MS} ms): the leader's expiry scan when the first tracked lease runs out (at
     * the soonest {@value #EXPIRY_SCAN_MS} ms after the last, while an expiry is on its way), its
     * reconciliation every {@value #RECONCILE_MS} ms, and a follower's forwarding once keep-alives
     * wait (at most every {@value #FORWARD_EVERY_MS} ms). An idle node so wakes about once a second;
     * it woke 10 times a second while leading and 5 on a follower, and each wake-up of a sleeping thread
     * costs 60-200 µs of CPU on a small VM. What makes a scan due sooner than planned brings the tick
     * forward: a session opened with a short TTL ({@link #opened}), a keep-alive to forward
     * ({@link #keepAlive}), this node taking the lead ({@link #leaderStarted}).
     */
    public void start(ScheduledExecutorService timer) {
        synchronized (this) {
            this.timer = timer;
            lastForwardNanos = lastReconcileNanos = nanoClock.getAsLong();
            scheduleTick(EXPIRY_SCAN_MS);
        }
    }

    private synchronized void scheduleTick(long delayMs) {
        if (stopped) {
            return;
        }
        try {
            nextTickAtNanos = nanoClock.getAsLong() + TimeUnit.MILLISECONDS.toNanos(delayMs);
            nextTick = timer.schedule(this::tick, delayMs, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            stopped = true; // the node is closing: the scans end with it
            nextTickAtNanos = Long.MIN_VALUE;
        }
    }

    /**
     * Brings the next tick forward to {@code delayMs} from now if it is planned later; cheap when it
     * is not (one volatile read). While a tick runs, its plan is in the past and nothing moves: the
     * running tick plans its successor from what it sees afterwards ({@link #tick}).
     */
    private void tickWithin(long delayMs) {
        long due = nanoClock.getAsLong() + TimeUnit.MILLISECONDS.toNanos(delayMs);
        if (nextTickAtNanos <= due) {
            return;
        }
        synchronized (this) {
            if (nextTickAtNanos > due && nextTick != null && nextTick.cancel(false)) {
                scheduleTick(delayMs);
            }
        }
    }

    private void tick() {
        long now = nanoClock.getAsLong();
        try {
            if (heldCount.get() > 0) {
                askAgainForHeld();
            }
            expireSafely(); // on a follower: only the check that this node does not lead
            if ((!toForward.isEmpty() || !toConfirm.isEmpty())
                    && now - lastForwardNanos >= FORWARD_EVERY_NANOS - SCAN_SLACK_NANOS) {
                lastForwardNanos = now;
                forwardSafely();
            }
            if (now - lastReconcileNanos >= RECONCILE_NANOS - SCAN_SLACK_NANOS) {
                lastReconcileNanos = now;
                reconcileSafely();
                forgetEndedSafely();
            }
        } finally {
            long after = nanoClock.getAsLong();
            boolean leads = leading && node.isLeader();
            synchronized (this) { // a lease added meanwhile is either counted here or moves this plan
                scheduleTick(tickDelayMs(leads, expiring.get(), Math.min(earliestExpiryNanos, addedExpiryNanos),
                        lastReconcileNanos, after));
            }
            // What arrived while this tick ran found no plan to move (the plan was this tick's, in the
            // past): look once more, now that the next one is planned. The plan's write and a keep-alive's
            // queueing are both volatile, so one of the two sees the other.
            if (!toForward.isEmpty() || !toConfirm.isEmpty()) {
                tickWithin(forwardDelayMs(after));
            }
        }
    }

    /**
     * Ms until the next tick, given what this one saw.
     *
     * @param leads               this node leads and tracks the leases
     * @param expiryInFlight      an expiry proposed by this node is not applied yet
     * @param earliestExpiryNanos when the first tracked lease runs out ({@code Long.MAX_VALUE}: none)
     * @param lastReconcileNanos  when the leases were last reconciled with the replicated sessions
     */
    static long tickDelayMs(boolean leads, boolean expiryInFlight, long earliestExpiryNanos, long lastReconcileNanos,
                            long now) {
        long delay = IDLE_TICK_MS;
        if (leads) {
            delay = Math.min(delay, Math.max(0, TimeUnit.NANOSECONDS.toMillis(lastReconcileNanos + RECONCILE_NANOS - now)));
            if (expiryInFlight) {
                delay = Math.min(delay, EXPIRY_SCAN_MS);
            } else if (earliestExpiryNanos != Long.MAX_VALUE) {
                // a lease runs out once its TTL has passed (strictly): look 1 ms after
                long untilExpiry = earliestExpiryNanos - now <= 0 ? 0
                        : TimeUnit.NANOSECONDS.toMillis(earliestExpiryNanos - now) + 1;
                delay = Math.min(delay, Math.max(untilExpiry, SCAN_FLOOR_MS));
            }
        }
        return delay;
    }

    /** The smallest delay between two scans, so that a lease already due cannot make the timer spin. */
    static final long SCAN_FLOOR_MS = 10;

    /** Ms until keep-alives waiting now may be forwarded: at most every {@value #FORWARD_EVERY_MS} ms. */
    private long forwardDelayMs(long now) {
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(lastForwardNanos + FORWARD_EVERY_NANOS - now));
    }

    // ---- leadership ---------------------------------------------------------------------------

    /** This node leads and its state is complete: every live session gets a fresh lease. */
    public void leaderStarted() {
        long now = nanoClock.getAsLong();
        leases.clear();
        long shortestTtlMs = Long.MAX_VALUE;
        for (View.SessionLease l : node.readLocal(new Query.ListSessionLeases())) {
            leases.putIfAbsent(l.id(), new Lease(l.ttlMs(), now));
            shortestTtlMs = Math.min(shortestTtlMs, l.ttlMs());
        }
        leading = true;
        LOG.info("leading: tracking {} session leases, all renewed", leases.size());
        if (shortestTtlMs != Long.MAX_VALUE) {
            leaseAdded(now, shortestTtlMs);
        }
    }

    /** A lease that runs out {@code ttlMs} after {@code now} was added outside a scan: plan a scan for it. */
    private void leaseAdded(long now, long ttlMs) {
        synchronized (this) {
            addedExpiryNanos = Math.min(addedExpiryNanos, now + TimeUnit.MILLISECONDS.toNanos(ttlMs));
        }
        tickWithin(ttlMs + 1); // a TTL shorter than the planned sleep: scan when it can run out
    }

    public void leaderStopped() {
        leading = false;
        leases.clear();
    }

    // ---- signs of life ------------------------------------------------------------------------

    /**
     * Renews a lease on the leader; false if the leader does not know the session. While a new
     * leader is still loading its leases every session counts as known (it will get a fresh lease).
     */
    public boolean touch(long session) {
        Lease l = leases.get(session);
        if (l == null) {
            return !leading;
        }
        l.lastSeen = nanoClock.getAsLong();
        return true;
    }

    /** A keep-alive from a stream held here: renew at once on the leader, else forward it. */
    public void keepAlive(long session) {
        if (leading && node.isLeader()) {
            if (touch(session)) {
                // Renewed; acknowledged once a quorum confirms that this node still leads (forward)
                toConfirm.add(session);
                tickWithin(forwardDelayMs(nanoClock.getAsLong()));
            }
        } else {
            toForward.add(session);
            tickWithin(forwardDelayMs(nanoClock.getAsLong()));
        }
    }

    /** A session was opened (or re-opened by token) by a write this leader applied. */
    public void opened(long session, long ttlMs) {
        long now = nanoClock.getAsLong();
        Lease l = leases.get(session);
        if (l == null) {
            leases.put(session, new Lease(ttlMs, now));
            leaseAdded(now, ttlMs);
        } else {
            l.lastSeen = now;
        }
    }

    /** The session ended (an applied effect): forget it, and release the grants held for it as not to be told. */
    public void ended(long session) {
        leases.remove(session);
        gone(session);
    }

    /**
     * The session does not exist any more (its end applied here, or the leader says so after a
     * linearizable check): grants held for it are not to be told.
     */
    public void gone(long session) {
        acknowledged.remove(session);
        dropHeld(session);
    }

    public int tracked() {
        return leases.size();
    }

    public long expiredTotal() {
        return expiredTotal;
    }

    /** True once this node leads and tracks the leases (a keep-alive it answers then renews one). */
    public boolean tracking() {
        return leading && node.isLeader();
    }

    // ---- what a door may tell ------------------------------------------------------------------

    /** This node's clock, the one {@link #acknowledged} times are read on. */
    public long nowNanos() {
        return nanoClock.getAsLong();
    }

    /**
     * The leader acknowledged {@code session} for a request that left this node at {@code sentAtNanos}
     * (a keep-alive, or a session request it answered): grants held for it may now be told.
     */
    public void acknowledged(long session, long sentAtNanos) {
        acknowledged.merge(session, sentAtNanos, Math::max);
        if (heldCount.get() > 0) { // what is held from here on looks again after counting itself
            tellFresh(session);
        }
    }

    /** Completes with true the grants held for {@code session} that its acknowledgement now lets through. */
    private void tellFresh(long session) {
        List<Held> ready = new ArrayList<>(1);
        boolean stillHeld;
        synchronized (held) {
            List<Held> list = held.get(session);
            if (list == null) {
                return;
            }
            Long at = acknowledged.get(session);
            for (var it = list.iterator(); it.hasNext(); ) {
                Held h = it.next();
                if (h.since() != NO_SINCE ? at != null && at - h.since() >= 0 : fresh(session, h.ttlMs())) {
                    ready.add(h);
                    it.remove();
                }
            }
            stillHeld = !list.isEmpty();
            if (!stillHeld) {
                held.remove(session);
            }
            forget(ready);
        }
        ready.forEach(h -> h.told().complete(true));
        if (stillHeld) {
            keepAlive(session); // acknowledged, but the round trip took too long for this TTL: once more
        }
    }

    /**
     * Sends a keep-alive again for every session something is held for (once a tick, at most a
     * second apart): the one sent when it was held may have found no leader, or a leader that did
     * not track the session yet, and a gRPC caller's session may have no stream here to send more.
     */
    private void askAgainForHeld() {
        List<Long> sessions;
        synchronized (held) {
            sessions = new ArrayList<>(held.keySet());
        }
        sessions.forEach(this::keepAlive);
    }

    /** No longer held (under {@link #held}). */
    private void forget(List<Held> done) {
        heldCount.addAndGet(-done.size());
        grantsHeld.addAndGet(-done.stream().filter(Held::grant).count());
    }

    /** Completes with false every grant held for {@code session}, which is gone. */
    private void dropHeld(long session) {
        List<Held> dropped;
        synchronized (held) {
            endedRecently.add(session);
            dropped = held.remove(session);
            if (dropped != null) {
                forget(dropped);
            }
        }
        if (dropped != null) {
            grantsNotTold.addAndGet(dropped.stream().filter(Held::grant).count());
            dropped.forEach(h -> h.told().complete(false));
        }
    }

    /**
     * True if a grant to {@code session} (whose TTL is {@code ttlMs}) may be told to its client now:
     * the leader acknowledged the session less than the TTL less the margin ago (see the class comment).
     */
    public boolean fresh(long session, long ttlMs) {
        Long at = acknowledged.get(session);
        return at != null && nanoClock.getAsLong() - at < freshForNanos(ttlMs);
    }

    /** How long an acknowledgement lets grants through: the TTL less the margin, which is at most half the TTL. */
    long freshForNanos(long ttlMs) {
        long ttl = TimeUnit.MILLISECONDS.toNanos(ttlMs);
        return ttl - Math.min(marginNanos, ttl / 2);
    }

    /**
     * Completes with true when a grant to {@code session} may be told: at once if it is
     * {@link #fresh} now, else once the leader acknowledges the session again (a keep-alive is sent
     * for it now); with false if the session is gone first, and the grant is then not to be told (its
     * client hears that its session ended). The future may complete on any thread.
     */
    public CompletableFuture<Boolean> whenFresh(long session, long ttlMs) {
        return whenFresh(session, ttlMs, true);
    }

    /**
     * Completes with true once the leader has acknowledged a renewal of {@code session} that left
     * this node no earlier than {@code sinceNanos} (on {@link #nowNanos}'s clock), with false if the
     * session is gone first. What a keep-alive stream waits for before it acknowledges its client's
     * keep-alive: so an acknowledgement means the leader renewed the session after the client asked,
     * and a client of a node cut off from the leader hears nothing and moves to another node while
     * its session still lives. The caller has sent the keep-alive ({@link #keepAlive}) already.
     */
    public CompletableFuture<Boolean> whenAcknowledgedSince(long session, long sinceNanos) {
        return hold(session, new Held(new CompletableFuture<>(), 0, sinceNanos, false));
    }

    private CompletableFuture<Boolean> whenFresh(long session, long ttlMs, boolean grant) {
        if (fresh(session, ttlMs)) {
            return CompletableFuture.completedFuture(true);
        }
        return hold(session, new Held(new CompletableFuture<>(), ttlMs, NO_SINCE, grant));
    }

    private CompletableFuture<Boolean> hold(long session, Held h) {
        CompletableFuture<Boolean> f = h.told();
        boolean grant = h.grant();
        long ttlMs = h.ttlMs();
        synchronized (held) {
            if (endedRecently.contains(session)) {
                if (grant) {
                    grantsNotTold.incrementAndGet();
                }
                return CompletableFuture.completedFuture(false);
            }
            held.computeIfAbsent(session, k -> new ArrayList<>(1)).add(h);
            heldCount.incrementAndGet();
            if (grant) {
                grantsHeld.incrementAndGet();
            }
        }
        if (grant) {
            grantsHeldTotal.incrementAndGet();
        }
        Long at = acknowledged.get(session);
        if (h.since() != NO_SINCE ? at != null && at - h.since() >= 0 : fresh(session, ttlMs)) {
            tellFresh(session); // acknowledged meanwhile, before this was counted
        } else {
            keepAlive(session); // asks the leader now (on the leader: confirms its leadership in the next round)
        }
        return f;
    }

    /** Like {@link #whenFresh(long, long)}, with the session's TTL as this node's state has it. */
    public CompletableFuture<Boolean> whenFresh(long session) {
        return whenFresh(session, ttlOf(session));
    }

    /**
     * The session's TTL as this node's state has it; the smallest TTL the limits allow if this node
     * has not applied its opening yet (the strictest choice: a grant waits for a younger acknowledgement).
     */
    long ttlOf(long session) {
        View.Session s = node.readLocal(new Query.GetSession(session));
        return s != null ? s.ttlMs() : node.readLocal(new Query.GetLimits()).minSessionTtlMs();
    }

    /** Grants held now until their session is acknowledged (for metrics). */
    public long grantsHeld() {
        return grantsHeld.get();
    }

    /** Grants held back since start, told later or not at all (for metrics). */
    public long grantsHeldTotal() {
        return grantsHeldTotal.get();
    }

    /** Grants never told because their session was gone first (for metrics). */
    public long grantsNotTold() {
        return grantsNotTold.get();
    }

    // ---- timers -------------------------------------------------------------------------------

    private void expireSafely() {
        try {
            expire();
        } catch (Throwable t) {
            LOG.warn("session expiry scan failed", t);
        }
    }

    private void forwardSafely() {
        try {
            forward();
        } catch (Throwable t) {
            LOG.warn("keep-alive forwarding failed", t);
        }
    }

    private void reconcileSafely() {
        try {
            reconcile();
        } catch (Throwable t) {
            LOG.warn("lease reconciliation failed", t);
        }
    }

    /** Leader: propose the expiry of every session silent for longer than its TTL. */
    void expire() {
        if (!node.isLeader()) {
            return;
        }
        if (!leading) {
            // Leader start is normally signalled by the state machine; this also covers a signal that
            // arrived before the node finished starting (a single node elects itself at once).
            leaderStarted();
        }
        if (expiring.get()) {
            return;
        }
        synchronized (this) {
            addedExpiryNanos = Long.MAX_VALUE; // what is added from here on may be missed by the scan below
        }
        long now = nanoClock.getAsLong();
        List<Long> dead = new ArrayList<>();
        long[] earliest = {Long.MAX_VALUE};
        leases.forEach((id, l) -> {
            if (now - l.lastSeen > l.ttlNanos) {
                dead.add(id);
            } else {
                earliest[0] = Math.min(earliest[0], l.lastSeen + l.ttlNanos);
            }
        });
        earliestExpiryNanos = earliest[0];
        if (dead.isEmpty() || !expiring.compareAndSet(false, true)) {
            return;
        }
        dead.sort(null);
        node.submit(new Command.ExpireSessions(List.copyOf(dead))).whenComplete((r, t) -> {
            expiring.set(false);
            if (r instanceof Result.SessionsExpired e) {
                for (long s : e.sessions()) {
                    leases.remove(s);
                }
                expiredTotal += e.sessions().size();
                // Ids the core no longer knows were already gone; stop tracking them too.
                dead.forEach(leases::remove);
            }
        });
    }

    /** Follower: send the keep-alives gathered since the last call to the leader. */
    void forward() {
        if (leading && node.isLeader()) {
            confirmRenewals();
            return;
        }
        if (!toConfirm.isEmpty()) { // renewed here while leading, which this node no longer does: forward them
            toForward.addAll(drain(toConfirm));
        }
        if (toForward.isEmpty()) {
            return;
        }
        Router r = router;
        Optional<String> api = r == null ? Optional.empty() : r.leaderApi();
        if (api.isEmpty()) {
            return; // keep them for the next round
        }
        List<Long> batch = drain(toForward);
        long sentAt = nanoClock.getAsLong();
        r.forwardKeepAlives(api.get(), batch).whenComplete((unknown, t) -> {
            if (t != null) {
                toForward.addAll(batch); // retry next round (the lease has slack: ttl vs 200 ms)
                return;
            }
            Set<Long> notKnown = unknown.isEmpty() ? Set.of() : new HashSet<>(unknown);
            for (long s : batch) {
                if (!notKnown.contains(s)) {
                    acknowledged(s, sentAt);
                }
            }
            for (long s : unknown) {
                unknownSession.accept(s);
            }
        });
    }

    /**
     * Leader: renews the sessions whose keep-alives came since the last round, now, and acknowledges
     * them as of now once a ReadIndex round (a quorum's heartbeat answers) confirms that this node
     * still leads. Without that, a deposed leader that has not noticed yet (paused for longer than a
     * TTL, say) would acknowledge sessions the new leader may have expired, and its doors would tell
     * their stale grants.
     */
    private void confirmRenewals() {
        if (toForward.isEmpty() && toConfirm.isEmpty()) {
            return;
        }
        long at = nanoClock.getAsLong();
        List<Long> renewed = new ArrayList<>();
        for (Long s : drain(toForward)) {
            if (touch(s)) {
                renewed.add(s);
            }
        }
        for (Long s : drain(toConfirm)) {
            if (touch(s)) { // again, no earlier than the acknowledgement's time
                renewed.add(s);
            }
        }
        if (renewed.isEmpty()) {
            return;
        }
        confirmedLeading().whenComplete((v, t) -> {
            if (t != null) {
                return; // not (or no longer) the leader: the sessions' next keep-alives go to the new one
            }
            for (long s : renewed) {
                acknowledged(s, at);
            }
        });
    }

    /** Completes once a quorum has confirmed this node's leadership, after the call (ReadIndex). */
    public java.util.concurrent.CompletionStage<?> confirmedLeading() {
        return node.read(new Query.GetLimits());
    }

    private static List<Long> drain(Set<Long> from) {
        List<Long> out = new ArrayList<>(from);
        from.removeAll(out);
        return out;
    }

    private void forgetEndedSafely() {
        try {
            forgetEnded();
        } catch (Throwable t) {
            LOG.warn("pruning lease acknowledgements failed", t);
        }
    }

    /**
     * Any node: forget the acknowledgements of sessions that no longer exist here (an acknowledgement
     * that crossed the session's end re-adds one). A live session this node has not applied yet loses
     * nothing but one acknowledgement.
     */
    void forgetEnded() {
        if (acknowledged.isEmpty()) {
            return;
        }
        Set<Long> live = new HashSet<>();
        for (View.SessionLease l : node.readLocal(new Query.ListSessionLeases())) {
            live.add(l.id());
        }
        acknowledged.keySet().retainAll(live);
    }

    /** Leader: align the tracked set with the replicated sessions (both ways). */
    void reconcile() {
        if (!leading || !node.isLeader()) {
            return;
        }
        long now = nanoClock.getAsLong();
        Set<Long> live = new HashSet<>();
        for (View.SessionLease l : node.readLocal(new Query.ListSessionLeases())) {
            live.add(l.id());
            if (leases.putIfAbsent(l.id(), new Lease(l.ttlMs(), now)) == null) {
                earliestExpiryNanos = Math.min(earliestExpiryNanos, now + TimeUnit.MILLISECONDS.toNanos(l.ttlMs()));
            }
        }
        leases.keySet().retainAll(live);
    }
}
