package dev.baton.core.session;

import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.WaitsExpired;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.baton.core.sm.Entry;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The chunked idempotency window keeps exactly the newest {@code capacity} results, across chunk boundaries. */
class RecentResultsTest {

    private static Result r(long id) {
        return new WaitsExpired((int) id);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 15, 16, 17, 33, 128})
    void keepsExactlyTheNewestCapacityResults(int capacity) {
        RecentResults w = RecentResults.EMPTY;
        for (long id = 1; id <= 500; id++) {
            w = w.with(id, r(id), capacity);
            assertThat(w.size()).isEqualTo((int) Math.min(id, capacity));
            assertThat(w.floor()).isEqualTo(Math.max(0, id - capacity));
            assertThat(w.find(id)).isEqualTo(r(id));
            assertThat(w.find(id - capacity)).isNull();
            if (id > capacity) {
                assertThat(w.find(id - capacity + 1)).isEqualTo(r(id - capacity + 1));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 16, 40})
    void outOfOrderIdsAreFoundAndReplaced(int capacity) {
        Random rnd = new Random(capacity);
        RecentResults w = RecentResults.EMPTY;
        long next = 1;
        for (int i = 0; i < 400; i++) {
            long id = next + rnd.nextInt(3);  // ids arrive slightly out of order
            next += 2;
            if (w.find(id) != null || id <= w.floor()) {
                continue;
            }
            RecentResults before = w;
            w = w.with(id, r(id), capacity);
            assertThat(w.find(id)).isEqualTo(r(id));
            assertThat(w.size()).isLessThanOrEqualTo(capacity);
            assertThat(before.find(id)).isNull(); // persistent: the old window is untouched
            RecentResults replaced = w.replace(id, r(-1));
            assertThat(replaced.find(id)).isEqualTo(r(-1));
            assertThat(w.find(id)).isEqualTo(r(id));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 20})
    void chunkLayoutSurvivesSnapshotSoEvictionStaysIdentical(int capacity) {
        Harness h = new Harness(Limits.defaults().toBuilder().maxRememberedRequests(capacity).build());
        long s = h.open();
        long rid = 0;
        for (int i = 0; i < 50; i++) {
            h.apply(new PoolAcquire(s, ++rid, "k", 1, 5, 0, false));
            h.apply(new PoolRelease(s, ++rid, null, 0));
        }
        var copy = h.recoverCopy();
        assertThat(Harness.snapshotOf(copy)).isEqualTo(h.snapshot());
        long index = h.lastIndex();
        for (int i = 0; i < 30; i++) {
            // the same entries to both: results must agree, also when the window evicts
            var e = Entry.of(++index, h.now(), new PoolAcquire(s, ++rid, "k", 1, 5, 0, false),
                    new PoolRelease(s, ++rid, null, 0));
            assertThat(copy.update(List.of(e))).isEqualTo(h.sm().update(List.of(e)));
        }
        assertThat(Harness.snapshotOf(copy)).isEqualTo(h.snapshot());
    }
}
