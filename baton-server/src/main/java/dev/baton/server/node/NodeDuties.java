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
 *       cluster). Looked at every {@value #WAIT_TICK_MS} ms while leading; a follower, which has
 *       nothing to expire, looks only every {@value #FOLLOWER_WAIT_TICK_MS} ms (a safety net: taking
 *       the lead starts the quick ticks at once), so an idle follower's timer thread sleeps;</li>
 *   <li>every node: make sure the replicated address book has this node's API address (the leader
 *       writes it directly, a follower asks the leader to with {@code Forward.Announce}), so
 *       followers can forward writes to it;</li>
 *   <li>leader: apply the operator's configured limits ({@code --session-ttl-min} ...) if the
 *       replicated ones differ.</li>
 * </ul>
 */
final class NodeDuties {
    private static final Logger LOG = LoggerFactory.getLogger(NodeDuties.class);
    static final long WAIT_TICK_MS = 20;
    static final long ANNOUNCE_TICK_MS = 500;
    static final long FOLLOWER_WAIT_TICK_MS = 500;

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
            scheduleWaitTick(WAIT_TICK_MS);
        }
        timer.scheduleWithFixedDelay(this::announceTick, 0, ANNOUNCE_TICK_MS, TimeUnit.MILLISECONDS);
    }

    /** Run right after this node took the lead (on the timer thread); the ticks also catch up later. */
    void leaderStarted() {
        announceTick();
        synchronized (this) {
            // a follower's next wait tick may be up to FOLLOWER_WAIT_TICK_MS away: look now
            if (nextWaitTick != null && nextWaitTick.cancel(false)) {
                scheduleWaitTick(0);
            }
        }
    }

    /** Ms to the next wait tick: quick while leading, a slow safety net otherwise. */
    static long waitTickDelayMs(boolean leading) {
        return leading ? WAIT_TICK_MS : FOLLOWER_WAIT_TICK_MS;
    }

    private synchronized void scheduleWaitTick(long delayMs) {
        if (stopped) {
            return;
        }
        try {
            nextWaitTick = timer.schedule(this::waitTickAndReschedule, delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            stopped = true; // the node is closing: the ticks end with it
        }
    }

    private void waitTickAndReschedule() {
        try {
            waitTick();
        } finally {
            scheduleWaitTick(waitTickDelayMs(node.isLeader()));
        }
    }

    private void waitTick() {
        try {
            // The cluster time (a follower's estimate notes the applied stamps as they are applied, not here).
            if (!node.isLeader() || waitTickInFlight.get()) {
                return;
            }
            long now = clock.getAsLong();
            long next = node.readLocal(new Query.NextDeadline());
            if (next == Long.MAX_VALUE || next > now) {
                return;
            }
            if (waitTickInFlight.compareAndSet(false, true)) {
                node.submit(new Command.ExpireWaits()).whenComplete((r, t) -> waitTickInFlight.set(false));
            }
        } catch (Throwable t) {
            LOG.warn("wait expiry tick failed", t);
        }
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
