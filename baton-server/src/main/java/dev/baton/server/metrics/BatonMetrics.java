package dev.baton.server.metrics;

import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Observation.PoolOutcome;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.TargetView;
import dev.baton.core.command.View;
import dev.baton.core.sm.Applied;
import dev.baton.server.raft.BatonNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * A node's metrics, in Prometheus text format through Micrometer.
 *
 * <p>Three sources, named so a reader of {@code /metrics} can tell them apart:
 * <ul>
 *   <li><b>Replicated state</b> (the same on every node, surviving restarts): pool totals
 *       ({@code baton_pool_acquires_total{result}}, holders, waiters: the numbers of poolcounterd's
 *       {@code STATS} and {@code baton status}), sessions, locks, events, queue depths, dispatch lag.
 *       Read from the node's applied state at scrape time.</li>
 *   <li><b>Applied entries</b> (counted by this node as it applies the log; equal on nodes that
 *       applied the same entries, restarting from zero with the process): wait and hold time
 *       histograms from the core's {@link Observation}s, entries and commands per entry, sessions
 *       opened, closed and expired, the per-key figures of the busiest pool keys.</li>
 *   <li><b>This node</b>: Raft term, role, commit and applied index, log size, snapshot timings,
 *       the line door's connections, JVM and process.</li>
 * </ul>
 *
 * <p>Cardinality is bounded: per-key series exist only for the {@code topKeys} most active pool
 * keys (activity = acquires, decayed with a 30 s half-life), per-target dispatch series for at most
 * {@code maxTargets} targets (the most lagging first), per-queue series for at most
 * {@code maxQueues} queues; everything else is in the totals.
 */
public final class BatonMetrics {
    /** Micrometer name of the calls refused for their token (Prometheus: {@code baton_auth_refused_total}), by port and reason. */
    public static final String AUTH_REFUSED_METRIC = "baton.auth.refused";

    /** Histogram buckets for waits, holds and claim latency: 1 ms to 5 min. */
    private static final Duration[] TIME_BUCKETS = {ms(1), ms(2), ms(5), ms(10), ms(25), ms(50), ms(100), ms(250),
            ms(500), ms(1_000), ms(2_500), ms(5_000), ms(10_000), ms(30_000), ms(60_000), ms(300_000)};
    /** Commit latency: from 100 µs (an unsynced single node) to 10 s (a cluster in trouble). */
    private static final Duration[] COMMIT_BUCKETS = {Duration.ofNanos(100_000), Duration.ofNanos(250_000),
            Duration.ofNanos(500_000), ms(1), ms(2), ms(5), ms(10), ms(25), ms(50), ms(100), ms(250), ms(500), ms(1_000),
            ms(2_500), ms(10_000)};
    /** Keys seen but not in the top are tracked up to this many, so a key can climb into the top. */
    private static final int MAX_TRACKED_KEYS = 10_000;
    private static final double HALF_LIFE_MS = 30_000;

    /** Bounds on label cardinality. */
    public record Limits(int topKeys, int maxTargets, int maxQueues) {
        public static final Limits DEFAULTS = new Limits(20, 500, 200);

        public Limits {
            if (topKeys < 0 || maxTargets < 0 || maxQueues < 0) {
                throw new IllegalArgumentException("metrics limits must be >= 0");
            }
        }
    }

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final BatonNode node;
    private final Limits limits;
    private final Supplier<? extends LineDoorMetrics> line;

    private final Counter entries;
    private final Counter commands;
    private final DistributionSummary commandsPerEntry;
    private final Counter sessionsOpened;
    /** Commands the core refused, by error code (LIMIT_EXCEEDED: a limit or the state budget was hit). */
    private final Map<ErrorCode, Counter> rejected = new EnumMap<>(ErrorCode.class);
    private final Counter sessionsClosed;
    private final Counter sessionsExpired;
    private final Map<PoolOutcome, Timer> poolWait = new EnumMap<>(PoolOutcome.class);
    private final Map<PoolOutcome, Counter> poolOutcomes = new EnumMap<>(PoolOutcome.class);
    private final Timer poolHold;
    private final Timer lockWait;
    private final Timer lockHold;
    private final Timer claimLatency;
    private final Timer snapshotDuration;
    private final Timer snapshotPause;

    // Busiest pool keys: guarded by `keys`.
    private final Map<String, KeyStats> keys = new HashMap<>();
    private int keysWithMeters;
    private long lastDecay = System.currentTimeMillis();
    private final MultiGauge keyHolders;
    private final MultiGauge keyWaiters;
    private final MultiGauge targetLag;
    private final MultiGauge targetIdle;
    private final MultiGauge groupHead;
    private final MultiGauge groupMaxLag;
    private final MultiGauge groupTotalLag;
    private final MultiGauge groupTargets;
    private final MultiGauge groupLocked;
    private final MultiGauge queueItems;
    private final MultiGauge queueReady;
    private final MultiGauge queueClaimed;
    private final MultiGauge queueGated;

    // Log size on disk is a directory walk: read at most every 10 s.
    private volatile long logBytes = -1;
    private volatile long logBytesAt;
    // Likewise the snapshots on disk.
    private volatile BatonNode.SnapshotFiles snapshotFiles;
    private volatile long snapshotFilesAt;
    /** The leader this node last knew (null: none), to count changes; written on the apply thread. */
    private volatile String lastLeader;
    private final Counter leaderChanges;
    private final Timer commitLatency;

    public BatonMetrics(BatonNode node, String nodeId, Limits limits, Supplier<? extends LineDoorMetrics> line) {
        this.node = node;
        this.limits = limits;
        this.line = line;
        registry.config().commonTags("node", nodeId);

        // ---- Raft (this node) ----
        gauge("baton.raft.term", "Latest Raft term this node has seen", n -> n.term());
        gauge("baton.raft.leader", "1 if this node is the leader", n -> n.isLeader() ? 1 : 0);
        gauge("baton.raft.leader.known", "1 if this node knows a leader", n -> n.leader().isPresent() ? 1 : 0);
        gauge("baton.raft.members", "Members of the Raft configuration as this node knows it", n -> n.peers().size());
        gauge("baton.raft.commit.index", "Last committed log index known to this node", n -> n.commitIndex());
        gauge("baton.raft.applied.index", "Last log index applied on this node", n -> n.lastAppliedIndex());
        gauge("baton.raft.log.last.index", "Last log index appended on this node", n -> n.lastLogIndex());
        gauge("baton.raft.snapshot.index", "Index of the snapshot this node last loaded (-1: none)",
                n -> n.lastLoadedSnapshotIndex());
        gauge("baton.raft.failed", "1 if this replica stopped applying (needs an operator)",
                n -> n.failure().isPresent() ? 1 : 0);
        Gauge.builder("baton.raft.log.size", this, m -> m.logBytes()).baseUnit("bytes")
                .description("Bytes of the Raft log on disk").register(registry);
        entries = Counter.builder("baton.raft.entries.applied").description("Data entries applied").register(registry);
        commands = Counter.builder("baton.raft.commands.applied").description("Commands applied (entries carry batches)")
                .register(registry);
        // The leader's batcher: entries it proposed, those whose first command was held for company
        // (acquires that will wait, ProposalBatcher), those that waited to fill after a big one, and
        // commands waiting for a slot (EBUSY beyond its limit).
        FunctionCounter.builder("baton.raft.batcher.entries", node, n -> n.batcherStats().entriesProposed())
                .description("Entries the batcher proposed while this node led").register(registry);
        FunctionCounter.builder("baton.raft.batcher.entries.held", node, n -> n.batcherStats().entriesHeld())
                .description("Entries whose first command (an acquire that will wait) was held for company")
                .register(registry);
        FunctionCounter.builder("baton.raft.batcher.entries.filled", node, n -> n.batcherStats().entriesFilled())
                .description("Entries that waited for more commands after a big entry (filling entries)")
                .register(registry);
        Gauge.builder("baton.raft.batcher.queued", node, n -> n.batcherStats().queued())
                .description("Commands waiting for a free slot in the log's pipeline").register(registry);
        commandsPerEntry = DistributionSummary.builder("baton.raft.commands.per.entry")
                .description("Commands packed into one Raft entry")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512).register(registry);
        leaderChanges = Counter.builder("baton.raft.leader.changes")
                .description("Times this node saw a leader take over, after no leader or another one").register(registry);
        node.addLeaderChangeListener(leader -> {
            if (leader != null && !leader.equals(lastLeader)) {
                leaderChanges.increment();
            }
            lastLeader = leader;
        });
        commitLatency = Timer.builder("baton.raft.commit")
                .description("On the leader: time from proposing an entry to applying it (replication to a majority,"
                        + " their log fsync, the apply)")
                .serviceLevelObjectives(COMMIT_BUCKETS).register(registry);
        node.onCommitLatency(nanos -> commitLatency.record(nanos, TimeUnit.NANOSECONDS));
        Gauge.builder("baton.raft.snapshot.size", this, m -> m.snapshotFiles().bytes()).baseUnit("bytes")
                .description("Bytes of the snapshots this node keeps on disk").register(registry);
        Gauge.builder("baton.raft.snapshot.age", this, m -> m.snapshotAgeSeconds()).baseUnit("seconds")
                .description("Seconds since this node's newest snapshot was written (-1: none)").register(registry);
        snapshotDuration = timer("baton.snapshot.duration", "Time to capture and write a snapshot", Tags.empty());
        snapshotPause = timer("baton.snapshot.apply.pause", "Time applying stopped while a snapshot was captured",
                Tags.empty());

        // ---- sessions ----
        summaryGauge("baton.sessions.open", "Open sessions", View.Summary::sessions);
        sessionsOpened = Counter.builder("baton.sessions.opened").description("Sessions opened (applied entries)")
                .register(registry);
        sessionsClosed = Counter.builder("baton.sessions.closed").description("Sessions closed by their client or an operator")
                .register(registry);
        sessionsExpired = Counter.builder("baton.sessions.expired").description("Sessions whose lease expired")
                .register(registry);

        for (ErrorCode code : ErrorCode.values()) {
            rejected.put(code, Counter.builder("baton.commands.rejected").tag("code", code.name())
                    .description("Commands refused by the state machine (applied entries), by error code")
                    .register(registry));
        }

        // ---- state budget: replicated, every node reports the same ----
        Gauge.builder("baton.state.bytes", this, m -> m.node.readLocal(new Query.GetStateBytes()).used())
                .description("Bytes the replicated state costs, as the budget counts them").register(registry);
        Gauge.builder("baton.state.bytes.limit", this, m -> m.node.readLocal(new Query.GetStateBytes()).limit())
                .description("The state budget (limit maxStateBytes)").register(registry);

        // ---- pools: replicated totals (the numbers of STATS and `baton status`) ----
        poolGauge("baton.pool.keys", "Pool keys with a holder or a waiter", View.PoolTotals::keys);
        poolGauge("baton.pool.holders", "Slots held over all pool keys", View.PoolTotals::processing);
        poolGauge("baton.pool.waiters", "Waiting acquires over all pool keys", View.PoolTotals::waiting);
        poolCounter("baton.pool.acquires", "locked", "Acquires granted (at once or after waiting)", View.PoolTotals::acquired);
        poolCounter("baton.pool.acquires", "done", "ACQ4ANY waits that ended with DONE", View.PoolTotals::done);
        poolCounter("baton.pool.acquires", "timeout", "Acquires that timed out", View.PoolTotals::timeouts);
        poolCounter("baton.pool.acquires", "queue_full", "Acquires refused with QUEUE_FULL", View.PoolTotals::queueFull);
        poolCounter("baton.pool.acquires", "lock_held", "Acquires refused with LOCK_HELD", View.PoolTotals::lockHeld);
        poolCounter("baton.pool.acquires", "wait_for_response", "Acquires refused while another waited",
                View.PoolTotals::waitForResponse);
        FunctionCounter.builder("baton.pool.releases", this, m -> m.totals().released())
                .description("Releases of a held or waiting slot (replicated)").register(registry);
        FunctionCounter.builder("baton.pool.release.mismatches", this, m -> m.totals().releaseMismatch())
                .description("RELEASE with nothing to release (replicated)").register(registry);

        // ---- pools: histograms from applied entries ----
        for (PoolOutcome o : PoolOutcome.values()) {
            String tag = o.name().toLowerCase();
            poolOutcomes.put(o, Counter.builder("baton.pool.acquire.outcomes").tag("outcome", tag)
                    .description("Acquire outcomes seen by this node as it applied the log").register(registry));
            if (isWait(o)) {
                poolWait.put(o, timer("baton.pool.wait", "Time from acquire to its outcome, by outcome",
                        Tags.of("outcome", tag)));
            }
        }
        poolHold = timer("baton.pool.hold", "Time a pool slot was held", Tags.empty());
        keyHolders = MultiGauge.builder("baton.pool.key.holders").description("Holders of the busiest pool keys")
                .register(registry);
        keyWaiters = MultiGauge.builder("baton.pool.key.waiters").description("Waiters of the busiest pool keys")
                .register(registry);

        // ---- locks ----
        summaryGauge("baton.locks.held", "Fenced locks held", View.Summary::locks);
        lockWait = timer("baton.lock.wait", "Time from lock acquire to grant", Tags.empty());
        lockHold = timer("baton.lock.hold", "Time a lock was held", Tags.empty());

        // ---- events and queues ----
        summaryGauge("baton.events.pending", "Events begun and not completed", View.Summary::events);
        summaryGauge("baton.waits.pending", "Waiting acquires with a deadline (pools and locks)", View.Summary::waits);
        claimLatency = timer("baton.queue.claim.latency", "Time from enqueue to claim", Tags.empty());
        queueItems = MultiGauge.builder("baton.queue.items").description("Items in the queue").register(registry);
        queueReady = MultiGauge.builder("baton.queue.ready").description("Items claimable now").register(registry);
        queueClaimed = MultiGauge.builder("baton.queue.claimed").description("Items claimed by a live session")
                .register(registry);
        queueGated = MultiGauge.builder("baton.queue.gated").description("Unclaimed items waiting for a pending event")
                .register(registry);

        // ---- dispatch ----
        summaryGauge("baton.dispatch.groups", "Dispatch groups", View.Summary::groups);
        targetLag = MultiGauge.builder("baton.dispatch.lag").description("Changes a target has not seen (head - seen)")
                .register(registry);
        targetIdle = MultiGauge.builder("baton.dispatch.since.touched").baseUnit("seconds")
                .description("Seconds since a target was last dispatched to").register(registry);
        groupHead = MultiGauge.builder("baton.dispatch.head").description("A group's newest change").register(registry);
        groupMaxLag = MultiGauge.builder("baton.dispatch.group.max.lag").description("Highest lag of a group's targets")
                .register(registry);
        groupTotalLag = MultiGauge.builder("baton.dispatch.group.total.lag").description("Sum of a group's target lags")
                .register(registry);
        groupTargets = MultiGauge.builder("baton.dispatch.targets").description("Targets of a group").register(registry);
        groupLocked = MultiGauge.builder("baton.dispatch.targets.locked").description("Targets being dispatched now")
                .register(registry);

        // ---- line door (this node) ----
        Gauge.builder("baton.line.connections", this, m -> lineValue(LineDoorMetrics::connections))
                .description("Open PoolCounter-protocol connections").register(registry);
        FunctionCounter.builder("baton.line.connections.accepted", this, m -> lineValue(LineDoorMetrics::connectionsTotal))
                .description("PoolCounter-protocol connections accepted").register(registry);
        FunctionCounter.builder("baton.line.connect.errors", this, m -> lineValue(LineDoorMetrics::connectErrors))
                .description("PoolCounter-protocol connections refused").register(registry);
        FunctionCounter.builder("baton.line.failed.sends", this, m -> lineValue(LineDoorMetrics::failedSends))
                .description("PoolCounter-protocol replies that could not be written").register(registry);
        Gauge.builder("baton.line.sessions.shelved", this, m -> lineValue(LineDoorMetrics::shelvedSessions))
                .description("Idle sessions of closed PoolCounter connections kept for the next connections")
                .register(registry);
        FunctionCounter.builder("baton.line.sessions.reused", this, m -> lineValue(LineDoorMetrics::sessionsReused))
                .description("PoolCounter connections whose first acquire took a kept session instead of opening one")
                .register(registry);
        lineDoorBounds();

        // ---- JVM and process ----
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    private static Duration ms(long v) {
        return Duration.ofMillis(v);
    }

    private static boolean isWait(PoolOutcome o) {
        return switch (o) {
            case LOCKED, LOCKED_AFTER_WAIT, DONE, TIMEOUT, CANCELLED -> true;
            case QUEUE_FULL, LOCK_HELD, WAIT_FOR_RESPONSE -> false;
        };
    }

    private Timer timer(String name, String description, Tags tags) {
        return Timer.builder(name).description(description).tags(tags).serviceLevelObjectives(TIME_BUCKETS)
                .register(registry);
    }

    private void gauge(String name, String description, ToDoubleFunction<BatonNode> f) {
        Gauge.builder(name, node, f).description(description).register(registry);
    }

    private void summaryGauge(String name, String description, ToDoubleFunction<View.Summary> f) {
        Gauge.builder(name, this, m -> f.applyAsDouble(m.node.readLocal(new Query.GetSummary())))
                .description(description).register(registry);
    }

    private void poolGauge(String name, String description, ToDoubleFunction<View.PoolTotals> f) {
        Gauge.builder(name, this, m -> f.applyAsDouble(m.totals())).description(description).register(registry);
    }

    private void poolCounter(String name, String result, String description, ToDoubleFunction<View.PoolTotals> f) {
        FunctionCounter.builder(name, this, m -> f.applyAsDouble(m.totals())).tag("result", result)
                .description(description + " (replicated: every node reports the same)").register(registry);
    }

    private View.PoolTotals totals() {
        return node.readLocal(new Query.GetPoolTotals());
    }

    /** The line door's bounds: refusals and closes by reason, back-pressure. */
    private void lineDoorBounds() {
        FunctionCounter.builder("baton.line.connections.refused", this, m -> lineValue(LineDoorMetrics::refusedMaxConnections))
                .tag("reason", "max_connections").description("PoolCounter-protocol connections refused by a limit")
                .register(registry);
        FunctionCounter.builder("baton.line.connections.refused", this, m -> lineValue(LineDoorMetrics::refusedPerAddress))
                .tag("reason", "max_per_address").description("PoolCounter-protocol connections refused by a limit")
                .register(registry);
        FunctionCounter.builder("baton.line.connections.refused", this, m -> lineValue(LineDoorMetrics::refusedNotAllowed))
                .tag("reason", "not_allowed").description("PoolCounter-protocol connections refused by a limit")
                .register(registry);
        FunctionCounter.builder("baton.line.connections.closed", this, m -> lineValue(LineDoorMetrics::closedIdle))
                .tag("reason", "idle").description("PoolCounter-protocol connections closed by a timeout")
                .register(registry);
        FunctionCounter.builder("baton.line.connections.closed", this, m -> lineValue(LineDoorMetrics::closedPartialLine))
                .tag("reason", "partial_line").description("PoolCounter-protocol connections closed by a timeout")
                .register(registry);
        FunctionCounter.builder("baton.line.backpressure.pauses", this, m -> lineValue(LineDoorMetrics::backPressurePauses))
                .description("Times a PoolCounter connection stopped being read because its unsent replies"
                        + " exceeded --line-max-buffered-bytes").register(registry);
        Gauge.builder("baton.line.connections.paused", this, m -> lineValue(LineDoorMetrics::pausedConnections))
                .description("PoolCounter-protocol connections not read now: their client does not read its replies")
                .register(registry);
        Gauge.builder("baton.line.unsent.bytes", this, m -> lineValue(LineDoorMetrics::unsentBytes))
                .baseUnit("bytes").description("PoolCounter-protocol reply bytes not yet sent, all connections")
                .register(registry);
    }

    private double lineValue(ToDoubleFunction<LineDoorMetrics> f) {
        LineDoorMetrics d = line.get();
        return d == null ? 0 : f.applyAsDouble(d);
    }

    private BatonNode.SnapshotFiles snapshotFiles() {
        long now = System.currentTimeMillis();
        BatonNode.SnapshotFiles f = snapshotFiles;
        if (f == null || now - snapshotFilesAt > 10_000) {
            f = node.snapshotFiles();
            snapshotFiles = f;
            snapshotFilesAt = now;
        }
        return f;
    }

    private double snapshotAgeSeconds() {
        long at = snapshotFiles().newestModifiedMillis();
        return at < 0 ? -1 : Math.max(0, System.currentTimeMillis() - at) / 1000.0;
    }

    private double logBytes() {
        long now = System.currentTimeMillis();
        if (now - logBytesAt > 10_000) {
            logBytes = node.logBytes();
            logBytesAt = now;
        }
        return logBytes;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    // ---- feeding (apply thread) -----------------------------------------------------------------

    /**
     * One applied entry: counts and observations. Called on the apply thread, once per entry on every
     * replica, so it is kept cheap: the counters are added to once per entry with what the entry's
     * commands and observations sum to (not once per command), and the per-key bookkeeping and its
     * lock are skipped for entries without pool observations.
     */
    public void onApplied(Applied a) {
        entries.increment();
        List<Result> results = a.results();
        int n = results.size();
        commands.increment(n);
        commandsPerEntry.record(n);
        int opened = 0;
        int[] rejectedBy = null;
        for (int i = 0; i < n; i++) {
            Result r = results.get(i);
            if (r instanceof Result.SessionOpened o) {
                if (!o.existing()) {
                    opened++;
                }
            } else if (r instanceof Result.SessionOpenedThen ot) {
                if (!ot.opened().existing()) {
                    opened++;
                }
            } else if (r instanceof Result.Rejected rej) {
                if (rejectedBy == null) {
                    rejectedBy = new int[ERROR_CODES.length];
                }
                rejectedBy[rej.code().ordinal()]++;
            }
        }
        if (opened > 0) {
            sessionsOpened.increment(opened);
        }
        if (rejectedBy != null) {
            addCounts(rejectedBy, ERROR_CODES, rejected);
        }
        List<Effect> effects = a.effects();
        if (!effects.isEmpty()) {
            int closed = 0;
            int expired = 0;
            for (Effect e : effects) {
                if (e instanceof Effect.SessionEnded s) {
                    if (s.expired()) {
                        expired++;
                    } else {
                        closed++;
                    }
                }
            }
            if (closed > 0) {
                sessionsClosed.increment(closed);
            }
            if (expired > 0) {
                sessionsExpired.increment(expired);
            }
        }
        List<Observation> observations = a.observations();
        if (observations.isEmpty()) {
            return;
        }
        int[] outcomes = new int[POOL_OUTCOMES.length];
        boolean pool = false;
        for (Observation o : observations) {
            if (o instanceof Observation.PoolAcquireEnded p) {
                outcomes[p.outcome().ordinal()]++;
                Timer t = poolWait.get(p.outcome());
                if (t != null) {
                    t.record(p.waitedMs(), TimeUnit.MILLISECONDS);
                }
                pool = true;
            } else if (o instanceof Observation.PoolHoldEnded h) {
                poolHold.record(h.heldMs(), TimeUnit.MILLISECONDS);
                pool = true;
            } else if (o instanceof Observation.LockAcquired l) {
                lockWait.record(l.waitedMs(), TimeUnit.MILLISECONDS);
            } else if (o instanceof Observation.LockHoldEnded l) {
                lockHold.record(l.heldMs(), TimeUnit.MILLISECONDS);
            } else if (o instanceof Observation.QueueItemClaimed q) {
                claimLatency.record(q.waitedMs(), TimeUnit.MILLISECONDS);
            }
        }
        addCounts(outcomes, POOL_OUTCOMES, poolOutcomes);
        if (pool) {
            synchronized (keys) {
                for (Observation o : observations) {
                    observeKey(o);
                }
            }
        }
    }

    private static final ErrorCode[] ERROR_CODES = ErrorCode.values();
    private static final PoolOutcome[] POOL_OUTCOMES = PoolOutcome.values();

    private static <E extends Enum<E>> void addCounts(int[] counts, E[] keys, Map<E, Counter> counters) {
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] > 0) {
                counters.get(keys[i]).increment(counts[i]);
            }
        }
    }

    /** The per-key part of a pool observation (the busiest keys' counts and series); under {@code keys}. */
    private void observeKey(Observation o) {
        if (o instanceof Observation.PoolAcquireEnded p) {
            KeyStats k = track(p.key());
            if (k != null) {
                k.outcomes[p.outcome().ordinal()]++;
                k.recent++;
                if (k.wait != null && isWait(p.outcome())) {
                    k.wait.record(p.waitedMs(), TimeUnit.MILLISECONDS);
                }
            }
        } else if (o instanceof Observation.PoolHoldEnded h) {
            KeyStats k = keys.get(h.key());
            if (k != null && k.hold != null) {
                k.hold.record(h.heldMs(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private KeyStats track(String key) {
        KeyStats k = keys.get(key);
        if (k == null && keys.size() < MAX_TRACKED_KEYS) {
            k = new KeyStats(key);
            keys.put(key, k);
            // While the top has room a new key gets its series at once (so a small deployment sees
            // every key from its first acquire); otherwise the next refresh decides.
            if (keysWithMeters < limits.topKeys()) {
                register(k);
            }
        }
        return k;
    }

    /**
     * Fail-over of forwarded writes: calls failed at once because the leader changed away
     * from their target, and writes sent again after an UNAVAILABLE attempt.
     */
    public void bindRouter(dev.baton.server.route.Router router) {
        FunctionCounter.builder("baton.forward.abandoned", router, dev.baton.server.route.Router::forwardsAbandoned)
                .description("Forwarded writes given up at once because the leader changed away from their target")
                .register(registry);
        FunctionCounter.builder("baton.forward.resent", router, dev.baton.server.route.Router::writesResent)
                .description("Writes sent again (same request id) while the leader was unknown, unreachable or changing")
                .register(registry);
        // Commands per frame on the batched forwarding link = commands / frames.
        FunctionCounter.builder("baton.forward.frames", router, dev.baton.server.route.Router::framesForwarded)
                .description("Frames this node sent on its batched forwarding link to the leader")
                .register(registry);
        FunctionCounter.builder("baton.forward.frame.commands", router, dev.baton.server.route.Router::commandsForwarded)
                .description("Commands this node forwarded to the leader in those frames")
                .register(registry);
        dev.baton.server.route.LeaseKeeper leases = router.leases();
        Gauge.builder("baton.grants.held", leases, dev.baton.server.route.LeaseKeeper::grantsHeld)
                .description("Grants this node's doors hold back now, until the leader acknowledges their session again")
                .register(registry);
        FunctionCounter.builder("baton.grants.deferred", leases, dev.baton.server.route.LeaseKeeper::grantsHeldTotal)
                .description("Grants held back because the leader's last acknowledgement of their session was too old to tell them")
                .register(registry);
        FunctionCounter.builder("baton.grants.untold", leases, dev.baton.server.route.LeaseKeeper::grantsNotTold)
                .description("Grants never told because their session ended (was expired by the leader) while they were held")
                .register(registry);
    }

    /** A snapshot was saved (see {@link dev.baton.server.raft.EffectListener#onSnapshotSaved}). */
    public void onSnapshotSaved(long pauseNanos, long durationNanos) {
        snapshotPause.record(pauseNanos, TimeUnit.NANOSECONDS);
        snapshotDuration.record(durationNanos, TimeUnit.NANOSECONDS);
    }

    // ---- scraping ------------------------------------------------------------------------------

    /** The Prometheus text exposition, with the per-key, per-target and per-queue rows refreshed. */
    public String scrape() {
        refresh();
        return registry.scrape();
    }

    /** Recomputes the busiest keys and the dispatch and queue rows from the applied state. */
    public synchronized void refresh() {
        refreshKeys();
        refreshDispatch();
        refreshQueues();
    }

    private void refreshKeys() {
        List<KeyStats> top;
        synchronized (keys) {
            long now = System.currentTimeMillis();
            double decay = Math.pow(0.5, (now - lastDecay) / HALF_LIFE_MS);
            lastDecay = now;
            List<KeyStats> all = new ArrayList<>(keys.values());
            for (KeyStats k : all) {
                k.score = k.score * decay + k.recent;
                k.recent = 0;
            }
            all.sort((x, y) -> x.score != y.score ? Double.compare(y.score, x.score) : x.key.compareTo(y.key));
            top = new ArrayList<>(all.subList(0, Math.min(limits.topKeys(), all.size())));
            top.removeIf(k -> k.score < 1e-3);
            Set<KeyStats> keep = new HashSet<>(top);
            for (KeyStats k : all) {
                if (!keep.contains(k) && k.meters != null) {
                    k.meters.forEach(registry::remove);
                    k.meters = null;
                    k.wait = null;
                    k.hold = null;
                    keysWithMeters--;
                }
                // Forget keys that went quiet so new ones can be tracked.
                if (!keep.contains(k) && k.score < 1e-3) {
                    keys.remove(k.key);
                }
            }
            for (KeyStats k : top) {
                if (k.meters == null) {
                    register(k);
                }
            }
        }
        List<MultiGauge.Row<?>> holders = new ArrayList<>(top.size());
        List<MultiGauge.Row<?>> waiters = new ArrayList<>(top.size());
        for (KeyStats k : top) {
            View.Pool p = node.readLocal(new Query.GetPool(k.key));
            holders.add(MultiGauge.Row.of(Tags.of("key", k.key), p == null ? 0 : p.processing()));
            waiters.add(MultiGauge.Row.of(Tags.of("key", k.key), p == null ? 0 : p.waiting()));
        }
        keyHolders.register(holders, true);
        keyWaiters.register(waiters, true);
    }

    private void register(KeyStats k) {
        List<Meter> ms = new ArrayList<>();
        for (PoolOutcome o : PoolOutcome.values()) {
            int i = o.ordinal();
            ms.add(FunctionCounter.builder("baton.pool.key.acquires", k, s -> s.count(i))
                    .tags("key", k.key, "outcome", o.name().toLowerCase())
                    .description("Acquire outcomes of the busiest pool keys, counted since the key became busy")
                    .register(registry));
        }
        k.wait = timer("baton.pool.key.wait", "Acquire wait time of the busiest pool keys", Tags.of("key", k.key));
        k.hold = timer("baton.pool.key.hold", "Hold time of the busiest pool keys", Tags.of("key", k.key));
        ms.add(k.wait);
        ms.add(k.hold);
        k.meters = ms;
        keysWithMeters++;
    }

    private void refreshDispatch() {
        long now = node.clusterTime(); // touched is a stamp: idle time in the cluster time
        List<MultiGauge.Row<?>> lag = new ArrayList<>();
        List<MultiGauge.Row<?>> idle = new ArrayList<>();
        List<MultiGauge.Row<?>> head = new ArrayList<>();
        List<MultiGauge.Row<?>> maxLag = new ArrayList<>();
        List<MultiGauge.Row<?>> totalLag = new ArrayList<>();
        List<MultiGauge.Row<?>> count = new ArrayList<>();
        List<MultiGauge.Row<?>> locked = new ArrayList<>();
        List<TargetRow> rows = new ArrayList<>();
        for (View.Group g : node.readLocal(new Query.ListGroups())) {
            Tags tags = Tags.of("group", g.name());
            for (TargetView t : g.targets()) {
                rows.add(new TargetRow(g.name(), t.id(), GroupLag.lag(g, t), t.touched()));
            }
            GroupLag gl = GroupLag.of(g);
            head.add(MultiGauge.Row.of(tags, g.head()));
            maxLag.add(MultiGauge.Row.of(tags, gl.max()));
            totalLag.add(MultiGauge.Row.of(tags, gl.total()));
            count.add(MultiGauge.Row.of(tags, g.targets().size()));
            locked.add(MultiGauge.Row.of(tags, gl.locked()));
        }
        rows.sort((x, y) -> x.lag != y.lag ? Long.compare(y.lag, x.lag)
                : x.group.equals(y.group) ? x.target.compareTo(y.target) : x.group.compareTo(y.group));
        for (TargetRow r : rows.subList(0, Math.min(rows.size(), limits.maxTargets()))) {
            Tags tags = Tags.of("group", r.group, "target", r.target);
            lag.add(MultiGauge.Row.of(tags, r.lag));
            idle.add(MultiGauge.Row.of(tags, r.touched == 0 ? 0 : Math.max(0, now - r.touched) / 1000.0));
        }
        targetLag.register(lag, true);
        targetIdle.register(idle, true);
        groupHead.register(head, true);
        groupMaxLag.register(maxLag, true);
        groupTotalLag.register(totalLag, true);
        groupTargets.register(count, true);
        groupLocked.register(locked, true);
    }

    private record TargetRow(String group, String target, long lag, long touched) {}

    private void refreshQueues() {
        List<View.QueueBrief> qs = node.readLocal(new Query.ListQueues());
        List<MultiGauge.Row<?>> items = new ArrayList<>();
        List<MultiGauge.Row<?>> ready = new ArrayList<>();
        List<MultiGauge.Row<?>> claimed = new ArrayList<>();
        List<MultiGauge.Row<?>> gated = new ArrayList<>();
        List<View.QueueBrief> deepest = new ArrayList<>(qs);
        deepest.sort((x, y) -> x.items() != y.items() ? Integer.compare(y.items(), x.items()) : x.name().compareTo(y.name()));
        for (View.QueueBrief q : deepest.subList(0, Math.min(deepest.size(), limits.maxQueues()))) {
            Tags tags = Tags.of("queue", q.name());
            items.add(MultiGauge.Row.of(tags, q.items()));
            ready.add(MultiGauge.Row.of(tags, q.ready()));
            claimed.add(MultiGauge.Row.of(tags, q.claimed()));
            gated.add(MultiGauge.Row.of(tags, q.gated()));
        }
        queueItems.register(items, true);
        queueReady.register(ready, true);
        queueClaimed.register(claimed, true);
        queueGated.register(gated, true);
    }

    /** Activity of one pool key; the meters exist while it is among the busiest. Guarded by {@code keys}. */
    private static final class KeyStats {
        final String key;
        final long[] outcomes = new long[PoolOutcome.values().length];
        long recent;
        double score;
        List<Meter> meters;
        Timer wait;
        Timer hold;

        KeyStats(String key) {
            this.key = key;
        }

        /** Read at scrape time without the lock: a count one increment behind is fine for a counter. */
        double count(int outcome) {
            return outcomes[outcome];
        }
    }
}
