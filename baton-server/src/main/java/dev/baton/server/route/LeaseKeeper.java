package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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

    public LeaseKeeper(BatonNode node, LongSupplier nanoClock) {
        this.node = node;
        this.nanoClock = nanoClock;
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
            expireSafely(); // on a follower: only the check that this node does not lead
            if (!toForward.isEmpty() && now - lastForwardNanos >= FORWARD_EVERY_NANOS - SCAN_SLACK_NANOS) {
                lastForwardNanos = now;
                forwardSafely();
            }
            if (now - lastReconcileNanos >= RECONCILE_NANOS - SCAN_SLACK_NANOS) {
                lastReconcileNanos = now;
                reconcileSafely();
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
            if (!toForward.isEmpty()) {
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
            touch(session);
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

    public void ended(long session) {
        leases.remove(session);
    }

    public int tracked() {
        return leases.size();
    }

    public long expiredTotal() {
        return expiredTotal;
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
        if (toForward.isEmpty()) {
            return;
        }
        if (leading && node.isLeader()) {
            for (Long s : drain()) {
                touch(s);
            }
            return;
        }
        Router r = router;
        Optional<String> api = r == null ? Optional.empty() : r.leaderApi();
        if (api.isEmpty()) {
            return; // keep them for the next round
        }
        List<Long> batch = drain();
        r.forwardKeepAlives(api.get(), batch).whenComplete((unknown, t) -> {
            if (t != null) {
                toForward.addAll(batch); // retry next round (the lease has slack: ttl vs 200 ms)
                return;
            }
            for (long s : unknown) {
                unknownSession.accept(s);
            }
        });
    }

    private List<Long> drain() {
        List<Long> out = new ArrayList<>(toForward);
        toForward.removeAll(out);
        return out;
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
