package dev.baton.core.machine;

import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import dev.baton.core.testing.Harness;
import dev.baton.core.testing.RandomWorkload;
import dev.baton.core.testing.StateInvariants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** docs/design.md, rule 1: the core is a deterministic function of the entries. */
class DeterminismTest {

    /** Applies the entries in update() batches of random sizes (as the host would). */
    private static List<Applied> applyInBatches(CoordinationStateMachine sm, List<Entry> entries, long seed) {
        Random r = new Random(seed);
        List<Applied> out = new ArrayList<>();
        for (int i = 0; i < entries.size(); ) {
            int n = Math.min(entries.size() - i, 1 + r.nextInt(16));
            out.addAll(sm.update(entries.subList(i, i + n)));
            i += n;
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void sameEntriesGiveIdenticalResultsEffectsAndSnapshots(long seed) {
        List<Entry> entries = new RandomWorkload(seed).entries(20_000, 6);
        CoordinationStateMachine a = new CoordinationStateMachine();
        CoordinationStateMachine b = new CoordinationStateMachine();
        List<Applied> ra = applyInBatches(a, entries, seed);
        List<Applied> rb = applyInBatches(b, entries, seed * 31 + 7); // different batch boundaries

        assertThat(rb).isEqualTo(ra);
        assertThat(Harness.snapshotOf(b)).isEqualTo(Harness.snapshotOf(a));
        assertThat(StateInvariants.check(a.state(), RandomWorkload.MAX_WORKERS)).isEmpty();
        // the workload must really exercise the machine, or this test proves nothing
        View.PoolTotals totals = a.lookup(new Query.GetPoolTotals());
        assertThat(totals.acquired()).isGreaterThan(1_000);
        assertThat(totals.timeouts()).isGreaterThan(10);
        assertThat(totals.done()).isGreaterThan(10);
    }

    @Test
    void snapshotRecoverGivesIdenticalLookupsAndIdenticalFutureResults() throws Exception {
        RandomWorkload load = new RandomWorkload(42);
        CoordinationStateMachine original = new CoordinationStateMachine();
        applyInBatches(original, load.entries(5_000, 4), 1);

        CoordinationStateMachine recovered = new CoordinationStateMachine();
        recovered.recoverFromSnapshot(new ByteArrayInputStream(Harness.snapshotOf(original)));

        assertThat(Harness.snapshotOf(recovered)).isEqualTo(Harness.snapshotOf(original));
        assertSameLookups(original, recovered);

        // the next 10 000 random commands give identical results and effects on both
        List<Entry> next = new ArrayList<>();
        int commands = 0;
        while (commands < 10_000) {
            Entry e = load.next(1 + commands % 3);
            next.add(e);
            commands += 1 + commands % 3;
        }
        for (Entry e : next) {
            assertThat(recovered.update(List.of(e))).isEqualTo(original.update(List.of(e)));
        }
        assertThat(Harness.snapshotOf(recovered)).isEqualTo(Harness.snapshotOf(original));
        assertSameLookups(original, recovered);
    }

    @Test
    void savedSnapshotIsThePreparedPointInTimeEvenIfUpdatesContinue() throws Exception {
        List<Entry> entries = new RandomWorkload(7).entries(6_000, 4);
        CoordinationStateMachine live = new CoordinationStateMachine();
        live.update(entries.subList(0, 3_000));
        SnapshotHandle h = live.prepareSnapshot();
        live.update(entries.subList(3_000, 6_000)); // updates go on before the save happens
        ByteArrayOutputStream saved = new ByteArrayOutputStream();
        live.saveSnapshot(h, saved);

        CoordinationStateMachine reference = new CoordinationStateMachine();
        reference.update(entries.subList(0, 3_000));
        assertThat(h.index()).isEqualTo(entries.get(2_999).index());
        assertThat(saved.toByteArray()).isEqualTo(Harness.snapshotOf(reference));
        assertThat(saved.toByteArray()).isNotEqualTo(Harness.snapshotOf(live));
    }

    /** Every lookup the API offers answers the same on both machines. */
    static void assertSameLookups(CoordinationStateMachine a, CoordinationStateMachine b) {
        assertThat(b.lookup(new Query.GetSummary())).isEqualTo(a.lookup(new Query.GetSummary()));
        assertThat(b.lookup(new Query.GetPoolTotals())).isEqualTo(a.lookup(new Query.GetPoolTotals()));
        assertThat(b.lookup(new Query.NextDeadline())).isEqualTo(a.lookup(new Query.NextDeadline()));
        assertThat(b.lookup(new Query.GetLimits())).isEqualTo(a.lookup(new Query.GetLimits()));
        assertThat(b.lookup(new Query.ListEvents())).isEqualTo(a.lookup(new Query.ListEvents()));
        assertThat(b.lookup(new Query.ListNodes())).isEqualTo(a.lookup(new Query.ListNodes()));
        assertThat(b.lookup(new Query.DumpJson())).isEqualTo(a.lookup(new Query.DumpJson()));
        List<View.SessionLease> leases = a.lookup(new Query.ListSessionLeases());
        assertThat(b.lookup(new Query.ListSessionLeases())).isEqualTo(leases);
        for (View.SessionLease l : leases) {
            assertThat(b.lookup(new Query.GetSession(l.id()))).isEqualTo(a.lookup(new Query.GetSession(l.id())));
        }
        for (int i = 0; i < 6; i++) {
            assertThat(b.lookup(new Query.GetPool("key" + i))).isEqualTo(a.lookup(new Query.GetPool("key" + i)));
        }
        for (int i = 0; i < 3; i++) {
            assertThat(b.lookup(new Query.GetLock("lock" + i))).isEqualTo(a.lookup(new Query.GetLock("lock" + i)));
        }
        for (int i = 0; i < 2; i++) {
            assertThat(b.lookup(new Query.GetGroup("group" + i))).isEqualTo(a.lookup(new Query.GetGroup("group" + i)));
            assertThat(b.lookup(new Query.GetQueue("queue" + i))).isEqualTo(a.lookup(new Query.GetQueue("queue" + i)));
        }
    }
}
