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
import java.util.concurrent.ScheduledExecutorService;
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
    /** The scans' timer and their last runs (touched on the timer thread only). */
    private ScheduledExecutorService timer;
    private long lastForwardNanos;
    private long lastReconcileNanos;
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
     * One timer job does all three scans, so an idle node wakes 10 times a second while leading and
     * 5 times on a follower (three separate jobs woke every node 15 times a second): the leader
     * scans for expiry every {@value #EXPIRY_SCAN_MS} ms and forwards or reconciles on the ticks that
     * fall due; a follower, which expires nothing, only forwards, every {@value #FORWARD_EVERY_MS} ms
     * (its expiry scan there just notices that this node now leads, should that signal come early).
     */
    public void start(ScheduledExecutorService timer) {
        this.timer = timer;
        lastForwardNanos = lastReconcileNanos = nanoClock.getAsLong();
        scheduleTick(EXPIRY_SCAN_MS);
    }

    private void scheduleTick(long delayMs) {
        try {
            timer.schedule(this::tick, delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            // the node is closing: the scans end with it
        }
    }

    private void tick() {
        long now = nanoClock.getAsLong();
        boolean leader = node.isLeader();
        try {
            expireSafely(); // on a follower: only the check that this node does not lead
            if (now - lastForwardNanos >= FORWARD_EVERY_NANOS - SCAN_SLACK_NANOS) {
                lastForwardNanos = now;
                forwardSafely();
            }
            if (now - lastReconcileNanos >= RECONCILE_NANOS - SCAN_SLACK_NANOS) {
                lastReconcileNanos = now;
                reconcileSafely();
            }
        } finally {
            scheduleTick(leader ? EXPIRY_SCAN_MS : FORWARD_EVERY_MS);
        }
    }

    // ---- leadership ---------------------------------------------------------------------------

    /** This node leads and its state is complete: every live session gets a fresh lease. */
    public void leaderStarted() {
        long now = nanoClock.getAsLong();
        leases.clear();
        for (View.SessionLease l : node.readLocal(new Query.ListSessionLeases())) {
            leases.putIfAbsent(l.id(), new Lease(l.ttlMs(), now));
        }
        leading = true;
        LOG.info("leading: tracking {} session leases, all renewed", leases.size());
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
        }
    }

    /** A session was opened (or re-opened by token) by a write this leader applied. */
    public void opened(long session, long ttlMs) {
        Lease l = leases.get(session);
        if (l == null) {
            leases.put(session, new Lease(ttlMs, nanoClock.getAsLong()));
        } else {
            l.lastSeen = nanoClock.getAsLong();
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
        long now = nanoClock.getAsLong();
        List<Long> dead = new ArrayList<>();
        leases.forEach((id, l) -> {
            if (now - l.lastSeen > l.ttlNanos) {
                dead.add(id);
            }
        });
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
            leases.putIfAbsent(l.id(), new Lease(l.ttlMs(), now));
        }
        leases.keySet().retainAll(live);
    }
}
