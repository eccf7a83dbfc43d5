package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Observation.LockAcquired;
import dev.baton.core.command.Observation.LockHoldEnded;
import dev.baton.core.command.Observation.PoolAcquireEnded;
import dev.baton.core.command.Observation.PoolHoldEnded;
import dev.baton.core.command.Observation.PoolOutcome;
import dev.baton.core.command.Observation.QueueItemClaimed;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The metrics facts the core reports while applying, and the operator listings. */
class ObservationsTest {
    private final Harness h = new Harness();
    private long req;

    private PoolAcquire acq(long s, String key, int workers, int maxQueue, long timeoutMs, boolean any) {
        return new PoolAcquire(s, ++req, key, workers, maxQueue, timeoutMs, any);
    }

    @Test
    void poolAcquireOutcomesCarryTheirWaitAndHoldTimes() {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        long d = h.open();
        assertThat(h.entry(acq(a, "k", 1, 3, 10_000, false)).observations())
                .containsExactly(new PoolAcquireEnded("k", PoolOutcome.LOCKED, 0));
        h.entry(acq(b, "k", 1, 3, 10_000, false)); // waits for me
        h.entry(acq(c, "k", 1, 3, 10_000, true)); // waits for anyone
        assertThat(h.entry(acq(d, "k", 1, 3, 10_000, false)).observations())
                .containsExactly(new PoolAcquireEnded("k", PoolOutcome.QUEUE_FULL, 0));
        assertThat(h.entry(acq(d, "other", 1, 1, 0, false)).observations())
                .containsExactly(new PoolAcquireEnded("other", PoolOutcome.LOCKED, 0));
        assertThat(h.entry(acq(d, "k", 1, 4, 10_000, false)).observations()).as("queued: nothing ended yet")
                .isEmpty();

        h.advance(250);
        // a releases after 250 ms: c (ACQ4ANY) is told DONE, b (ACQ4ME) gets the slot.
        Applied rel = h.entry(new PoolRelease(a, ++req, "k", 0));
        assertThat(rel.observations()).containsExactly(
                new PoolHoldEnded("k", 250),
                new PoolAcquireEnded("k", PoolOutcome.DONE, 250),
                new PoolAcquireEnded("k", PoolOutcome.LOCKED_AFTER_WAIT, 250));

        // d's wait on k is cancelled by its own RELEASE (newest slot first).
        h.advance(50);
        assertThat(h.entry(new PoolRelease(d, ++req, "k", 0)).observations())
                .containsExactly(new PoolAcquireEnded("k", PoolOutcome.CANCELLED, 300));

        // A wait that times out reports how long it waited.
        long e = h.open();
        h.entry(acq(e, "k", 1, 3, 1_000, false));
        h.advance(1_000);
        assertThat(h.tick().observations()).containsExactly(new PoolAcquireEnded("k", PoolOutcome.TIMEOUT, 1_000));

        // Closing b's session ends its hold (no DONE: a disconnect).
        h.advance(100);
        assertThat(h.entry(new CloseSession(b, ++req)).observations())
                .containsExactly(new PoolHoldEnded("k", 1_150));
    }

    @Test
    void immediateTimeoutAndLockHeldAreObserved() {
        long a = h.open();
        long b = h.open();
        h.entry(acq(a, "k", 1, 5, 0, false));
        assertThat(h.entry(acq(b, "k", 1, 5, 0, false)).observations())
                .containsExactly(new PoolAcquireEnded("k", PoolOutcome.TIMEOUT, 0));
        h.entry(acq(b, "k2", 1, 5, 0, false));
        assertThat(h.entry(acq(b, "k3", 1, 5, 0, false)).observations()).as("a second slot is allowed by default")
                .containsExactly(new PoolAcquireEnded("k3", PoolOutcome.LOCKED, 0));
    }

    @Test
    void lockAndQueueTimesAreObserved() {
        long a = h.open();
        long b = h.open();
        assertThat(h.entry(new LockAcquire(a, ++req, "L", 5_000)).observations())
                .containsExactly(new LockAcquired("L", 0));
        h.entry(new LockAcquire(b, ++req, "L", 5_000));
        h.advance(40);
        assertThat(h.entry(new LockRelease(a, ++req, "L", 0)).observations())
                .containsExactly(new LockHoldEnded("L", 40), new LockAcquired("L", 40));

        h.entry(new QueueEnqueue(a, ++req, "q", "i1", Bytes.EMPTY, List.of()));
        h.advance(70);
        h.entry(new QueueEnqueue(a, ++req, "q", "i2", Bytes.EMPTY, List.of()));
        h.advance(5);
        assertThat(h.entry(new QueueClaim(b, ++req, "q", 10)).observations())
                .containsExactly(new QueueItemClaimed("q", 75), new QueueItemClaimed("q", 5));
    }

    @Test
    void replicasObserveTheSameFacts() {
        long a = h.open();
        long b = h.open();
        h.entry(acq(a, "k", 1, 5, 10_000, false));
        h.entry(acq(b, "k", 1, 5, 10_000, true));
        h.advance(10);
        h.entry(new PoolRelease(a, ++req, "k", 0));
        List<Observation> first = new ArrayList<>();
        List<Observation> second = new ArrayList<>();
        CoordinationStateMachine m1 = new CoordinationStateMachine(dev.baton.core.command.Limits.defaults());
        CoordinationStateMachine m2 = new CoordinationStateMachine(dev.baton.core.command.Limits.defaults());
        for (Entry e : h.log()) {
            m1.update(List.of(e)).forEach(x -> first.addAll(x.observations()));
        }
        m2.update(h.log()).forEach(x -> second.addAll(x.observations()));
        assertThat(first).isNotEmpty().isEqualTo(second);
    }

    @Test
    void listPoolsOrdersAndBounds() {
        long[] s = new long[6];
        for (int i = 0; i < s.length; i++) {
            s[i] = h.open();
        }
        h.entry(acq(s[0], "busy", 1, 10, 10_000, false));
        h.entry(acq(s[1], "busy", 1, 10, 10_000, false));
        h.entry(acq(s[2], "busy", 1, 10, 10_000, false));
        h.entry(acq(s[3], "wide", 3, 10, 10_000, false));
        h.entry(acq(s[4], "wide", 3, 10, 10_000, false));
        h.entry(acq(s[5], "alone", 1, 10, 10_000, false));

        View.PoolList byWaiters = h.lookup(new Query.ListPools(Query.PoolOrder.WAITERS, 2));
        assertThat(byWaiters.count()).isEqualTo(3);
        assertThat(byWaiters.pools()).containsExactly(new View.PoolBrief("busy", 1, 2), new View.PoolBrief("wide", 2, 0));
        assertThat(h.lookup(new Query.ListPools(Query.PoolOrder.HOLDERS, 10)).pools()).extracting(View.PoolBrief::key)
                .containsExactly("wide", "busy", "alone");
        assertThat(h.lookup(new Query.ListPools(Query.PoolOrder.KEY, 10)).pools()).extracting(View.PoolBrief::key)
                .containsExactly("alone", "busy", "wide");
        assertThat(h.lookup(new Query.ListPools(Query.PoolOrder.KEY, 0)).pools()).isEmpty();

        View.SessionList sessions = h.lookup(new Query.ListSessions(4));
        assertThat(sessions.count()).isEqualTo(6);
        assertThat(sessions.sessions()).extracting(View.Session::id).containsExactly(s[0], s[1], s[2], s[3]);
    }

    @Test
    void listQueuesCountsReadyClaimedAndGated() {
        long a = h.open();
        h.entry(new dev.baton.core.command.Command.EventBegin(a, ++req, "robots"));
        h.entry(new QueueEnqueue(a, ++req, "q", "1", Bytes.EMPTY, List.of()));
        h.entry(new QueueEnqueue(a, ++req, "q", "2", Bytes.EMPTY, List.of()));
        h.entry(new QueueEnqueue(a, ++req, "q", "3", Bytes.EMPTY, List.of("robots")));
        h.entry(new QueueClaim(a, ++req, "q", 1));
        assertThat(h.lookup(new Query.ListQueues())).containsExactly(new View.QueueBrief("q", 3, 1, 1, 1));
    }
}
