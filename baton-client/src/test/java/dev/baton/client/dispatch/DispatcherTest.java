package dev.baton.client.dispatch;

import dev.baton.client.SessionLostException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The driver loop against an in-memory coordinator and a fake clock: no Baton, no real sleeping. */
class DispatcherTest {
    record Edit(long id) implements Change {}

    /** A feed of changes with the given ids. */
    static final class Feed implements ChangeSource<Edit> {
        final List<Long> ids = new ArrayList<>();

        Feed upTo(long n) {
            for (long i = ids.isEmpty() ? 1 : ids.get(ids.size() - 1) + 1; i <= n; i++) {
                ids.add(i);
            }
            return this;
        }

        @Override
        public synchronized long head() {
            return ids.isEmpty() ? 0 : ids.get(ids.size() - 1);
        }

        @Override
        public synchronized List<Edit> after(long seen, int max) {
            List<Edit> out = new ArrayList<>();
            for (long id : ids) {
                if (id > seen && out.size() < max) {
                    out.add(new Edit(id));
                }
            }
            return out;
        }
    }

    /** Time that only moves when the dispatcher sleeps. */
    static final class FakeClock implements Dispatcher.Clock {
        long now;
        final List<Duration> sleeps = new ArrayList<>();

        @Override
        public long nanoTime() {
            return now;
        }

        @Override
        public void sleep(Duration d) {
            sleeps.add(d);
            now += d.toNanos();
        }
    }

    /** Records deliveries per site. */
    static final class Sink implements ChangeSink<Edit> {
        final Map<String, List<Long>> delivered = new LinkedHashMap<>();
        int failuresLeft;

        @Override
        public void deliver(DispatchState target, List<Edit> batch) {
            assertThat(target.locked()).isTrue();
            assertThat(batch.get(0).id()).isGreaterThan(target.seen());
            if (failuresLeft > 0) {
                failuresLeft--;
                throw new IllegalStateException("client wiki down");
            }
            List<Long> got = delivered.computeIfAbsent(target.site(), s -> new ArrayList<>());
            batch.forEach(e -> got.add(e.id()));
        }
    }

    final FakeCoordinator coordinator = new FakeCoordinator();
    final FakeClock clock = new FakeClock();
    final Sink sink = new Sink();
    final Map<String, String> sites = Map.of("a", "adb", "b", "bdb", "c", "cdb");

    Dispatcher.Builder<Edit> builder(ChangeSource<Edit> feed) {
        return Dispatcher.builder(coordinator, feed, sink).clients(sites).clock(clock)
                .idleDelay(Duration.ofSeconds(10)).maxTime(Duration.ofMinutes(10));
    }

    @Test
    void deliversEveryChangeToEveryTargetInBatchesThenIdles() {
        Feed feed = new Feed().upTo(7);
        DispatchSummary s = builder(feed).batchSize(3).maxPasses(20).build().run();

        assertThat(coordinator.initCalls).isEqualTo(1);
        assertThat(coordinator.advances).containsExactly(7L);
        for (String site : sites.keySet()) {
            assertThat(sink.delivered.get(site)).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
            assertThat(coordinator.seen(site)).isEqualTo(7);
        }
        // 3 batches per target (3 + 3 + 1), then idle passes until max-passes
        assertThat(s.batches()).isEqualTo(9);
        assertThat(s.changes()).isEqualTo(21);
        assertThat(s.idle()).isEqualTo(11);
        assertThat(s.passes()).isEqualTo(20);
        assertThat(s.passes()).isEqualTo(s.batches() + s.empty() + s.idle() + s.failed());
        assertThat(coordinator.anyLocked()).isFalse();
        // an idle pass sleeps the idle delay, except the last one
        assertThat(clock.sleeps).hasSize(10).allMatch(d -> d.equals(Duration.ofSeconds(10)));
    }

    @Test
    void maxTimeBoundsTheRunAndZeroMakesNoPass() {
        Feed feed = new Feed();
        DispatchSummary s = builder(feed).maxTime(Duration.ofSeconds(35)).build().run();
        // idle at 0, 10, 20, 30 s; the sleep after 30 s is cut to the 5 s left
        assertThat(s.passes()).isEqualTo(4);
        assertThat(s.idle()).isEqualTo(4);
        assertThat(clock.sleeps).containsExactly(Duration.ofSeconds(10), Duration.ofSeconds(10),
                Duration.ofSeconds(10), Duration.ofSeconds(5));

        FakeCoordinator other = new FakeCoordinator();
        DispatchSummary none = Dispatcher.builder(other, new Feed().upTo(3), sink).clock(new FakeClock())
                .maxTime(Duration.ZERO).build().run();
        assertThat(none.passes()).isZero();
        assertThat(sink.delivered).isEmpty();
    }

    @Test
    void aFailedDeliveryReleasesWithTheCursorUnchangedAndIsRetried() {
        Feed feed = new Feed().upTo(2);
        sink.failuresLeft = 1;
        DispatchSummary s = builder(feed).clients(Map.of("a", "adb")).maxPasses(4).build().run();

        assertThat(s.failed()).isEqualTo(1);
        assertThat(s.batches()).isEqualTo(1);
        assertThat(coordinator.releases.get(0).seen()).isZero(); // the failed pass: unchanged
        assertThat(coordinator.releases.get(1).seen()).isEqualTo(2);
        assertThat(sink.delivered.get("a")).containsExactly(1L, 2L);
        assertThat(clock.sleeps).hasSize(2); // after the failure and after the first idle pass
    }

    @Test
    void gapsInIdsAreSkippedWhenTheSourceHasNoMore() {
        Feed feed = new Feed();
        feed.ids.addAll(List.of(3L, 9L, 10L));
        DispatchSummary s = builder(feed).clients(Map.of("a", "adb")).batchSize(2).maxPasses(3).build().run();
        assertThat(sink.delivered.get("a")).containsExactly(3L, 9L, 10L);
        assertThat(coordinator.seen("a")).isEqualTo(10);
        assertThat(s.batches()).isEqualTo(2);
    }

    @Test
    void aTargetAheadOfTheSourcesBatchMovesToTheHeadWithoutDelivering() {
        // the head says 5 but the source has nothing above 0 (its changes were pruned, say)
        ChangeSource<Edit> pruned = new ChangeSource<>() {
            @Override
            public long head() {
                return 5;
            }

            @Override
            public List<Edit> after(long seen, int max) {
                return List.of();
            }
        };
        DispatchSummary s = Dispatcher.builder(coordinator, pruned, sink).clients(Map.of("a", "adb"))
                .clock(clock).maxPasses(2).build().run();
        assertThat(s.empty()).isEqualTo(1);
        assertThat(s.idle()).isEqualTo(1);
        assertThat(coordinator.seen("a")).isEqualTo(5);
        assertThat(sink.delivered).isEmpty();
    }

    @Test
    void aSourceThatBreaksTheOrderFailsThePass() {
        ChangeSource<Edit> unordered = new ChangeSource<>() {
            @Override
            public long head() {
                return 5;
            }

            @Override
            public List<Edit> after(long seen, int max) {
                return List.of(new Edit(4), new Edit(2));
            }
        };
        DispatchSummary s = Dispatcher.builder(coordinator, unordered, sink).clients(Map.of("a", "adb"))
                .clock(clock).maxPasses(1).build().run();
        assertThat(s.failed()).isEqualTo(1);
        assertThat(coordinator.seen("a")).isZero();
        assertThat(coordinator.anyLocked()).isFalse();
        assertThat(sink.delivered).isEmpty();
    }

    @Test
    void theHeadIsAdvancedOnlyWhenItGrows() {
        Feed feed = new Feed().upTo(1);
        AtomicInteger passes = new AtomicInteger();
        ChangeSource<Edit> growing = new ChangeSource<>() {
            @Override
            public long head() {
                if (passes.incrementAndGet() == 3) {
                    feed.upTo(4);
                }
                return feed.head();
            }

            @Override
            public List<Edit> after(long seen, int max) {
                return feed.after(seen, max);
            }
        };
        Dispatcher.builder(coordinator, growing, sink).clients(Map.of("a", "adb")).clock(clock).maxPasses(5)
                .build().run();
        assertThat(coordinator.advances).containsExactly(1L, 4L);
        assertThat(sink.delivered.get("a")).containsExactly(1L, 2L, 3L, 4L);
    }

    @Test
    void anUnknownOutcomeMakesTheNextPassReleaseWhatTheSessionHolds() {
        Feed feed = new Feed().upTo(2);
        coordinator.failNextSelectAfterLocking = true;
        DispatchSummary s = builder(feed).clients(Map.of("a", "adb")).maxPasses(3).build().run();
        assertThat(s.failed()).isEqualTo(1);
        assertThat(coordinator.releaseHeldCalls).isEqualTo(1);
        assertThat(sink.delivered.get("a")).containsExactly(1L, 2L);
        assertThat(coordinator.anyLocked()).isFalse();
    }

    @Test
    void stopEndsTheRunAfterTheCurrentPassWhichStillReleases() {
        Feed feed = new Feed().upTo(100);
        Map<String, Dispatcher<Edit>> holder = new HashMap<>();
        ChangeSink<Edit> stopping = (target, batch) -> holder.get("d").stop();
        Dispatcher<Edit> d = Dispatcher.builder(coordinator, feed, stopping).clients(sites).clock(clock).build();
        holder.put("d", d);
        DispatchSummary s = d.run();
        assertThat(s.passes()).isEqualTo(1);
        assertThat(s.batches()).isEqualTo(1);
        assertThat(coordinator.anyLocked()).isFalse();
        assertThatThrownBy(d::run).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void stopCutsARealIdleDelayShort() throws Exception {
        Dispatcher<Edit> d = Dispatcher.builder(coordinator, new Feed(), sink).clients(sites)
                .idleDelay(Duration.ofHours(1)).build();
        Thread t = new Thread(d::run);
        t.start();
        while (d.progress().idle() == 0) {
            Thread.sleep(5);
        }
        d.stop();
        t.join(60_000); // generous: a missed wake-up would hang for an hour
        assertThat(t.isAlive()).isFalse();
        assertThat(d.progress().passes()).isEqualTo(1);
    }

    @Test
    void aLostSessionEndsTheRun() {
        Coordinator lost = new FakeCoordinator() {
            @Override
            public synchronized DispatchState selectClient() {
                throw new SessionLostException(7, "expired", null);
            }
        };
        Dispatcher<Edit> d = Dispatcher.builder(lost, new Feed().upTo(1), sink).clock(clock).build();
        assertThatThrownBy(d::run).isInstanceOf(SessionLostException.class);
    }

    @Test
    void optionsAreChecked() {
        Dispatcher.Builder<Edit> b = Dispatcher.builder(coordinator, new Feed(), sink);
        assertThatThrownBy(() -> b.batchSize(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.randomness(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.maxPasses(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.maxTime(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.idleDelay(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.dispatchInterval(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
