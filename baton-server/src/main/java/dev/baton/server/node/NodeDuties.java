package dev.baton.server.node;

import dev.baton.server.route.Router;

import dev.baton.core.command.Command;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;

/**
 * The small periodic jobs of a node besides leases:
 * <ul>
 *   <li>leader: propose {@link Command.ExpireWaits} when the earliest wait deadline has passed in
 *       the cluster time (waits also time out at the start of every entry; this covers an idle
 *       cluster). The leader's tick sleeps until the earliest deadline, at most
 *       {@value #IDLE_WAIT_TICK_MS} ms (so a leader with no waits wakes twice a second, not fifty
 *       times); an applied entry that brings the earliest deadline before the planned tick moves the
 *       tick forward ({@link #afterApply}), and while an expiry is in flight it looks again after
 *       {@value #WAIT_TICK_MS} ms. A follower, which has nothing to expire, looks every
 *       {@value #IDLE_WAIT_TICK_MS} ms (a safety net: taking the lead looks at once);</li>
 *   <li>every node: make sure the replicated address book has this node's API address (the leader
 *       writes it directly, a follower asks the leader to with {@code Forward.Announce}), so
 *       followers can forward writes to it;</li>
 *   <li>leader: apply the operator's configured limits ({@code --session-ttl-min} ...) if the
 *       replicated ones differ.</li>
 * </ul>
 */
final class NodeDuties {
    private static final Logger LOG = LoggerFactory.getLogger(NodeDuties.class);
    /** While an {@code ExpireWaits} is in flight: look again this soon. */
    static final long WAIT_TICK_MS = 20;
    static final long ANNOUNCE_TICK_MS = 500;
    /** The longest a wait tick sleeps: a follower's, or a leader's with no wait pending. */
    static final long IDLE_WAIT_TICK_MS = 500;

    private final BatonNode node;
    private final Router router;
    private final LongSupplier clock;
    private final String nodeId;
    private final String apiEndpoint;
    private final UnaryOperator<Limits> configuredLimits;
    private final AtomicBoolean waitTickInFlight = new AtomicBoolean();
    private final AtomicBoolean announceInFlight = new AtomicBoolean();
    private final AtomicBoolean limitsInFlight = new AtomicBoolean();
    private volatile boolean secretRefusedWarned;
    /** The timer the wait ticks run on, and the next one scheduled; guarded by {@code this}. */
    private ScheduledExecutorService timer;
    private java.util.concurrent.ScheduledFuture<?> nextWaitTick;
    /**
     * The cluster time (ms) the scheduled wait tick is planned for; read on the apply thread by
     * {@link #afterApply}, written under {@code this}.
     */
    private volatile long nextWaitTickAt = Long.MIN_VALUE;
    private boolean stopped;

    /**
     * @param clock            the cluster time ({@link BatonNode#clusterTime()}): wait deadlines are
     *                         in the entries' stamped time, never in this node's wall clock
     * @param configuredLimits applies the operator's configured limits on top of the replicated ones
     *                         (identity when nothing is configured)
     */
    NodeDuties(BatonNode node, Router router, LongSupplier clock, String nodeId, String apiEndpoint,
               UnaryOperator<Limits> configuredLimits) {
        this.node = node;
        this.router = router;
        this.clock = clock;
        this.nodeId = nodeId;
        this.apiEndpoint = apiEndpoint;
        this.configuredLimits = configuredLimits;
    }

    void start(ScheduledExecutorService timer) {
        synchronized (this) {
            this.timer = timer;
            scheduleWaitTick(0);
        }
        timer.scheduleWithFixedDelay(this::announceTick, 0, ANNOUNCE_TICK_MS, TimeUnit.MILLISECONDS);
    }

    /** Run right after this node took the lead (on the timer thread); the ticks also catch up later. */
    void leaderStarted() {
        announceTick();
        lookNow();
    }

    /**
     * Called on the apply thread after every applied entry: if this node leads and the entry brought
     * the earliest wait deadline before the planned tick (a new wait with a short timeout, say), the
     * tick comes forward to that deadline. Two cheap reads per entry; the timer is touched only then.
     */
    void afterApply() {
        long plannedAt = nextWaitTickAt;
        if (plannedAt == Long.MIN_VALUE || !node.isLeader()) {
            return;
        }
        long next = node.readLocal(new Query.NextDeadline());
        if (next >= plannedAt) {
            return;
        }
        synchronized (this) {
            long now = clock.getAsLong();
            long delay = waitTickDelayMs(true, waitTickInFlight.get(), next, now);
            // only ever earlier: a deadline already past (an expiry on its way) keeps its quick tick
            if (now + delay < nextWaitTickAt && nextWaitTick != null && nextWaitTick.cancel(false)) {
                scheduleWaitTick(delay);
            }
        }
    }

    private synchronized void lookNow() {
        // the next wait tick may be up to IDLE_WAIT_TICK_MS away: look now
        if (nextWaitTick != null && nextWaitTick.cancel(false)) {
            scheduleWaitTick(0);
        }
    }

    /**
     * Ms until the next wait tick, given what this one saw: quick while an expiry is in flight or due,
     * until the earliest deadline (at most {@value #IDLE_WAIT_TICK_MS}) while leading, the slow safety
     * net otherwise.
     *
     * @param nextDeadline the earliest wait deadline ({@code Long.MAX_VALUE}: none), cluster ms
     */
    static long waitTickDelayMs(boolean leading, boolean expiryInFlight, long nextDeadline, long now) {
        if (!leading) {
            return IDLE_WAIT_TICK_MS;
        }
        if (expiryInFlight || nextDeadline <= now) {
            return WAIT_TICK_MS;
        }
        return Math.min(nextDeadline - now, IDLE_WAIT_TICK_MS);
    }

    private synchronized void scheduleWaitTick(long delayMs) {
        if (stopped) {
            return;
        }
        try {
            nextWaitTickAt = clock.getAsLong() + delayMs;
            nextWaitTick = timer.schedule(this::waitTickAndReschedule, delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            stopped = true; // the node is closing: the ticks end with it
            nextWaitTickAt = Long.MIN_VALUE;
        }
    }

    private void waitTickAndReschedule() {
        long delay = IDLE_WAIT_TICK_MS;
        try {
            delay = waitTick();
        } catch (Throwable t) {
            LOG.warn("wait expiry tick failed", t);
        } finally {
            scheduleWaitTick(delay);
        }
        // An entry applied while this tick ran found no tick to move: look once more, now that the
        // next one is planned (this write of the plan and the apply thread's publish of its entry
        // are both volatile, so one of the two sees the other).
        afterApply();
    }

    /** @return ms until the next tick */
    private long waitTick() {
        // The cluster time (a follower's estimate notes the applied stamps as they are applied, not here).
        boolean leading = node.isLeader();
        if (!leading) {
            return waitTickDelayMs(false, false, Long.MAX_VALUE, 0);
        }
        long now = clock.getAsLong();
        long next = node.readLocal(new Query.NextDeadline());
        if (next <= now && waitTickInFlight.compareAndSet(false, true)) {
            node.submit(new Command.ExpireWaits()).whenComplete((r, t) -> waitTickInFlight.set(false));
        }
        return waitTickDelayMs(true, waitTickInFlight.get(), next, now);
    }

    private void announceTick() {
        limitsTick();
        try {
            String self = node.options().endpoint();
            for (View.Node n : node.readLocal(new Query.ListNodes())) {
                if (n.raftEndpoint().equals(self) && n.apiEndpoint().equals(apiEndpoint) && n.nodeId().equals(nodeId)) {
                    return; // already known to everyone
                }
            }
            if (node.leader().isEmpty() || !announceInFlight.compareAndSet(false, true)) {
                return;
            }
            // The address book is the leader's to write: a follower asks the leader to record it.
            java.util.concurrent.CompletableFuture<?> done;
            if (node.isLeader()) {
                done = node.submit(new Command.AnnounceNode(self, nodeId, apiEndpoint));
            } else {
                java.util.Optional<String> leaderApi = router.leaderApi();
                if (leaderApi.isEmpty()) {
                    announceInFlight.set(false);
                    return; // the leader has not announced itself yet
                }
                done = router.announce(leaderApi.get(), self, nodeId, apiEndpoint);
            }
            done.whenComplete((r, t) -> {
                announceInFlight.set(false);
                if (t == null) {
                    secretRefusedWarned = false;
                } else if (String.valueOf(t.getMessage()).contains("cluster secret")) {
                    if (!secretRefusedWarned) { // once, not every tick: the operator has to fix the nodes' secrets
                        secretRefusedWarned = true;
                        LOG.warn("{}; followers cannot reach this node, nor this node the leader", t.getMessage());
                    }
                } else {
                    LOG.debug("announcing {} failed, will retry: {}", apiEndpoint, t.toString());
                }
            });
        } catch (Throwable t) {
            announceInFlight.set(false);
            LOG.warn("address announcement failed", t);
        }
    }

    private void limitsTick() {
        try {
            if (!node.isLeader()) {
                return;
            }
            Limits current = node.readLocal(new Query.GetLimits());
            Limits wanted = configuredLimits.apply(current);
            if (wanted.equals(current) || !limitsInFlight.compareAndSet(false, true)) {
                return;
            }
            LOG.info("applying configured limits: {}", wanted);
            node.submit(new Command.SetLimits(wanted)).whenComplete((r, t) -> limitsInFlight.set(false));
        } catch (Throwable t) {
            limitsInFlight.set(false);
            LOG.warn("configured limits could not be applied", t);
        }
    }
}
