package dev.baton.core.machine;

import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import dev.baton.core.testing.Harness;
import dev.baton.core.testing.RandomWorkload;
import dev.baton.core.testing.StateInvariants;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The contract's concurrency: lookups and saveSnapshot run on other threads while the apply thread
 * keeps updating. Readers must only ever see complete states (checked with the whole-state
 * invariants, which a torn read would break) that never go back in time, and every snapshot saved
 * concurrently must be byte-identical to a replica replayed to the prepared index.
 */
class ConcurrencyStressTest {

    @Test
    void lookupsAndSavesDuringUpdatesSeeOnlyConsistentPointInTimeStates() throws Exception {
        List<Entry> entries = new RandomWorkload(2024).entries(30_000, 5);
        CoordinationStateMachine sm = new CoordinationStateMachine();
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong statesChecked = new AtomicLong();
        List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
        Map<Long, byte[]> saved = new ConcurrentHashMap<>();

        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            readers.add(pool.submit(() -> {
                long lastSeen = 0;
                while (!done.get()) {
                    State s = sm.state();
                    if (s.lastIndex() < lastSeen) {
                        violations.add("state went back from " + lastSeen + " to " + s.lastIndex());
                    }
                    lastSeen = s.lastIndex();
                    List<String> bad = StateInvariants.check(s, RandomWorkload.MAX_WORKERS);
                    if (!bad.isEmpty()) {
                        violations.add("at index " + s.lastIndex() + ": " + bad);
                    }
                    // lookup() goes through the same published state
                    View.Summary sum = sm.lookup(new Query.GetSummary());
                    if (sum.lastIndex() < lastSeen) {
                        violations.add("lookup saw an older state than the one read before it");
                    }
                    statesChecked.incrementAndGet();
                }
            }));
        }
        List<Future<?>> savers = new ArrayList<>();
        for (int i = 0; i < entries.size(); i += 250) {
            sm.update(entries.subList(i, Math.min(entries.size(), i + 250)));
            if ((i / 250) % 15 == 7) {
                SnapshotHandle h = sm.prepareSnapshot(); // on the apply thread, between updates
                savers.add(pool.submit(() -> {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    sm.saveSnapshot(h, out); // concurrently with the updates that follow
                    saved.put(h.index(), out.toByteArray());
                    return null;
                }));
            }
        }
        for (Future<?> f : savers) {
            f.get(60, TimeUnit.SECONDS);
        }
        done.set(true);
        for (Future<?> f : readers) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();

        assertThat(violations).isEmpty();
        assertThat(statesChecked.get()).isGreaterThan(10);
        assertThat(saved).hasSizeGreaterThanOrEqualTo(7);
        for (Map.Entry<Long, byte[]> e : saved.entrySet()) {
            CoordinationStateMachine replica = new CoordinationStateMachine();
            for (Entry x : entries) {
                if (x.index() > e.getKey()) {
                    break;
                }
                replica.update(List.of(x));
            }
            assertThat(e.getValue()).as("snapshot at index %d", e.getKey()).isEqualTo(Harness.snapshotOf(replica));
        }
    }
}
