package dev.baton.server.metrics;

import dev.baton.server.TestPorts;

import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Observation.PoolOutcome;
import dev.baton.core.command.Result;
import dev.baton.core.sm.Applied;
import dev.baton.server.raft.BatonNode;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the apply thread feeds the metrics with: counts summed per entry must equal the counts of
 * the entry's commands, effects and observations one by one; waits and holds land in their
 * histograms, globally and for the busiest keys. The node is never started: only the applied-entry
 * meters are read.
 */
class BatonMetricsTest {
    @TempDir
    Path dir;

    private BatonMetrics metrics() {
        return new BatonMetrics(new BatonNode(BatonNode.Options.defaults(dir)), "n1", BatonMetrics.Limits.DEFAULTS,
                () -> null);
    }

    private static double counter(MeterRegistry r, String name, String tag, String value) {
        var search = r.find(name);
        if (tag != null) {
            search = search.tag(tag, value);
        }
        return search.counter().count();
    }

    @Test
    void theBatchersMetersReadTheNodesBatcher() throws Exception {
        BatonNode n = new BatonNode(BatonNode.Options.defaults(dir.resolve("started")).withPort(TestPorts.free()));
        try {
            BatonMetrics m = new BatonMetrics(n, "n1", BatonMetrics.Limits.DEFAULTS, () -> null);
            MeterRegistry r = m.registry();
            assertThat(r.find("baton.raft.batcher.entries").functionCounter().count()).isZero();
            n.start();
            assertThat(n.waitForLeader(java.time.Duration.ofSeconds(30))).isPresent();
            // Three commands handed over at once leave in one entry (one submitter, a free slot).
            for (var f : n.submitAll(List.of(new dev.baton.core.command.Command.OpenSession("a", 10_000),
                    new dev.baton.core.command.Command.OpenSession("b", 10_000),
                    new dev.baton.core.command.Command.OpenSession("c", 10_000)))) {
                assertThat(f.get(30, java.util.concurrent.TimeUnit.SECONDS)).isInstanceOf(Result.SessionOpened.class);
            }
            assertThat(r.find("baton.raft.batcher.entries").functionCounter().count()).isEqualTo(1);
            assertThat(r.find("baton.raft.batcher.entries.held").functionCounter().count()).isZero();
            assertThat(r.find("baton.raft.batcher.entries.filled").functionCounter().count()).isZero();
            assertThat(r.find("baton.raft.batcher.queued").gauge().value()).isZero();
        } finally {
            n.close();
        }
    }

    @Test
    void countsPerEntryAddUpToTheCommandsEffectsAndObservations() {
        BatonMetrics m = metrics();
        MeterRegistry r = m.registry();
        m.onApplied(new Applied(1, List.of(
                new Result.SessionOpened(1, 10_000, false, 1),
                new Result.SessionOpened(2, 10_000, false, 1),
                new Result.SessionOpened(1, 10_000, true, 2), // re-opened by token: not a new session
                new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, "full"),
                new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, "full"),
                new Result.Rejected(ErrorCode.MALFORMED, "bad")),
                List.of(new Effect.SessionEnded(7, true), new Effect.SessionEnded(8, false),
                        new Effect.SessionEnded(9, true)),
                List.of(new Observation.PoolAcquireEnded("a", PoolOutcome.LOCKED, 0),
                        new Observation.PoolAcquireEnded("a", PoolOutcome.LOCKED, 0),
                        new Observation.PoolAcquireEnded("b", PoolOutcome.LOCKED_AFTER_WAIT, 40),
                        new Observation.PoolAcquireEnded("b", PoolOutcome.QUEUE_FULL, 0),
                        new Observation.PoolHoldEnded("a", 250),
                        new Observation.LockAcquired("l", 3),
                        new Observation.LockHoldEnded("l", 9),
                        new Observation.QueueItemClaimed("q", 12))));
        m.onApplied(new Applied(2, List.of(new Result.Rejected(ErrorCode.MALFORMED, "bad")), List.of()));

        assertThat(counter(r, "baton.raft.entries.applied", null, null)).isEqualTo(2);
        assertThat(counter(r, "baton.raft.commands.applied", null, null)).isEqualTo(7);
        assertThat(r.find("baton.raft.commands.per.entry").summary().count()).isEqualTo(2);
        assertThat(counter(r, "baton.sessions.opened", null, null)).isEqualTo(2);
        assertThat(counter(r, "baton.commands.rejected", "code", "LIMIT_EXCEEDED")).isEqualTo(2);
        assertThat(counter(r, "baton.commands.rejected", "code", "MALFORMED")).isEqualTo(2);
        assertThat(counter(r, "baton.commands.rejected", "code", "NOT_FOUND")).isZero();
        assertThat(counter(r, "baton.sessions.expired", null, null)).isEqualTo(2);
        assertThat(counter(r, "baton.sessions.closed", null, null)).isEqualTo(1);
        assertThat(counter(r, "baton.pool.acquire.outcomes", "outcome", "locked")).isEqualTo(2);
        assertThat(counter(r, "baton.pool.acquire.outcomes", "outcome", "locked_after_wait")).isEqualTo(1);
        assertThat(counter(r, "baton.pool.acquire.outcomes", "outcome", "queue_full")).isEqualTo(1);
        assertThat(counter(r, "baton.pool.acquire.outcomes", "outcome", "timeout")).isZero();

        var lockedWait = r.find("baton.pool.wait").tag("outcome", "locked").timer();
        assertThat(lockedWait.count()).isEqualTo(2);
        var afterWait = r.find("baton.pool.wait").tag("outcome", "locked_after_wait").timer();
        assertThat(afterWait.count()).isEqualTo(1);
        assertThat(afterWait.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(40);
        assertThat(r.find("baton.pool.hold").timer().totalTime(TimeUnit.MILLISECONDS)).isEqualTo(250);
        assertThat(r.find("baton.lock.wait").timer().count()).isEqualTo(1);
        assertThat(r.find("baton.lock.hold").timer().count()).isEqualTo(1);
        assertThat(r.find("baton.queue.claim.latency").timer().totalTime(TimeUnit.MILLISECONDS)).isEqualTo(12);
    }

    @Test
    void theBusiestKeysGetTheirOwnSeries() {
        BatonMetrics m = metrics();
        m.onApplied(new Applied(1, List.of(), List.of(),
                List.of(new Observation.PoolAcquireEnded("hot", PoolOutcome.LOCKED_AFTER_WAIT, 20),
                        new Observation.PoolHoldEnded("hot", 30))));
        m.onApplied(new Applied(2, List.of(), List.of(),
                List.of(new Observation.PoolAcquireEnded("hot", PoolOutcome.LOCKED, 0))));
        MeterRegistry r = m.registry();
        assertThat(counter(r, "baton.pool.acquire.outcomes", "outcome", "locked")).isEqualTo(1);
        assertThat(r.find("baton.pool.key.wait").tag("key", "hot").timer().count()).isEqualTo(2);
        assertThat(r.find("baton.pool.key.hold").tag("key", "hot").timer().count()).isEqualTo(1);
        assertThat(r.find("baton.pool.key.acquires").tag("key", "hot").tag("outcome", "locked").functionCounter().count())
                .isEqualTo(1);
    }
}
