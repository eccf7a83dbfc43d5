package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Limits;
import dev.baton.core.sm.Entry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How the {@link Footprint} overheads were set: stores 100 000 objects of each kind in a state
 * machine and compares the heap they take (after full GCs) with what the budget counts for them.
 * Heap figures depend on the JVM and its flags, so this is run by hand, not in {@code ./test}:
 * <pre>
 * mvn -B -q -pl baton-core test -Dtest=FootprintCalibrationTest -Dbaton.calibrate=true \
 *     -DargLine="-Xmx2g -XX:+UseSerialGC"
 * </pre>
 * It prints one line per kind and fails if the count is off the heap by more than half either way.
 */
@EnabledIfSystemProperty(named = "baton.calibrate", matches = "true")
class FootprintCalibrationTest {
    private static final int N = 100_000;
    private long index = 1;

    @Test
    void theCountedBytesFollowTheHeap() {
        List<Command> opens = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            opens.add(new OpenSession(null, 10_000));
        }
        measure("session", N, List.of(), i -> new OpenSession(null, 10_000));
        measure("session with a 10-char token", N, List.of(), i -> new OpenSession(String.format("t%09d", i), 10_000));
        measure("pool key (10) with a holder", N, opens,
                i -> new PoolAcquire(i + 1, 0, String.format("k%09d", i), 1, 10, 0, false));
        measure("lock (10)", N, opens, i -> new LockAcquire(i + 1, 0, String.format("l%09d", i), 0));
        measure("event (10)", N, opens, i -> new EventBegin(i + 1, 0, String.format("e%09d", i)));
        measure("queue item (10), 8-byte payload", N, List.of(),
                i -> new QueueEnqueue(0, 0, "q", String.format("i%09d", i), Bytes.wrap(new byte[8]), List.of()));
        measure("queue item with a prerequisite", N, List.of(), i -> new QueueEnqueue(0, 0, "q",
                String.format("i%09d", i), Bytes.wrap(new byte[8]), List.of(String.format("p%09d", i))));
        measure("queue item, 4 KiB payload", N / 10, List.of(),
                i -> new QueueEnqueue(0, 0, "q", String.format("i%09d", i), Bytes.wrap(new byte[4096]), List.of()));
        measure("remembered answer (10)", N, opens.subList(0, 1000),
                i -> new EventComplete(1 + i % 1000, 1 + i / 1000, String.format("e%09d", i)));
        measure("100 dispatch targets (10, 10)", N / 100, List.of(), i -> {
            Map<String, String> t = new TreeMap<>();
            for (int k = 0; k < 100; k++) {
                t.put(String.format("t%04d%05d", k, i), String.format("n%04d%05d", k, i));
            }
            return new DispatchInit(0, 0, String.format("g%09d", i), t, null);
        });
    }

    private void measure(String what, int n, List<Command> setup, LongFunction<Command> make) {
        CoordinationStateMachine sm = new CoordinationStateMachine(
                Limits.defaults().toBuilder().maxStateBytes(1L << 40).maxSessions(1_000_000).build());
        apply(sm, setup);
        long heapBefore = heapUsed();
        long countedBefore = sm.state().stateBytes();
        List<Command> cs = new ArrayList<>(n);
        for (long i = 0; i < n; i++) {
            cs.add(make.apply(i));
        }
        apply(sm, cs);
        cs.clear();
        double heap = (heapUsed() - heapBefore) / (double) n;
        double counted = (sm.state().stateBytes() - countedBefore) / (double) n;
        System.out.printf("%-34s heap %8.0f B  counted %8.0f B%n", what, heap, counted);
        assertThat(counted).as(what).isBetween(heap * 0.5, heap * 2);
    }

    private void apply(CoordinationStateMachine sm, List<Command> cs) {
        for (int i = 0; i < cs.size(); i += 1000) {
            sm.update(List.of(Entry.of(index++, 1000, cs.subList(i, Math.min(cs.size(), i + 1000)))));
        }
    }

    private static long heapUsed() {
        for (int i = 0; i < 5; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }
}
