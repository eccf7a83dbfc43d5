package dev.baton.server.raft;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.sm.Applied;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ProposalBatcher}'s wait for the next entry to fill after a big one ("Filling entries" in its
 * class comment), with the engine, the timer and the clock played by the test: which commands share
 * an entry, and when a waiting entry leaves, are decided by the test's own steps, not by timing.
 */
class ProposalBatcherFillTest {
    private static final long FILL_MICROS = 1_000;
    private static final int BIG = ProposalBatcher.FILL_MIN_COMMANDS + 2;

    private record Proposed(List<Command> commands, ProposalClosure done) {}

    private record Timer(Runnable task, long delayNanos) {}

    private long now = 1_000_000_000L;
    private final List<Proposed> proposed = new ArrayList<>();
    private final List<Timer> timers = new ArrayList<>();
    private long index;
    private int next;

    private ProposalBatcher batcher(long fillMicros) {
        return new ProposalBatcher(ProposalBatcher.Config.defaults().withHoldWaitingMicros(0).withFillMicros(fillMicros),
                "test", () -> 7, Optional::empty,
                (payload, term, done) -> proposed.add(new Proposed(CommandCodec.decodeBatch(payload), done)),
                (task, delayNanos) -> timers.add(new Timer(task, delayNanos)), () -> now);
    }

    /** Submits {@code n} new commands at once (as a door does with what it read in one turn). */
    private List<CompletableFuture<Result>> submit(ProposalBatcher b, int n) {
        List<byte[]> encoded = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            encoded.add(CommandCodec.encodeChecked(new PoolRelease(++next, 1, "k", 0)));
        }
        return b.submitAll(encoded, 7);
    }

    /** Completes entry {@code i} as applied, every command answered RELEASED. */
    private void apply(int i) {
        List<Result> results = Collections.nCopies(proposed.get(i).commands().size(),
                new PoolReply(PoolStatus.RELEASED, "k", 0));
        proposed.get(i).done().applied(new Applied(++index, results, List.of()));
    }

    /**
     * Leaves the batcher with a big entry in flight (proposed behind a small one, which is then
     * applied) and {@code queued} commands waiting behind it. Returns the big entry's position.
     */
    private int bigEntryInFlight(ProposalBatcher b, int queued) {
        submit(b, 1);
        submit(b, BIG);
        assertThat(proposed).hasSize(2);
        assertThat(proposed.get(1).commands()).hasSize(BIG);
        apply(0);
        submit(b, queued);
        assertThat(proposed).as("behind a big entry nothing else is proposed").hasSize(2);
        return 1;
    }

    @Test
    void afterABigEntryTheNextWaitsUntilAsManyCommandsAreQueued() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, 3));
        assertThat(proposed).as("3 queued of the %d the last entry carried: the next waits", BIG).hasSize(2);
        assertThat(timers).singleElement().satisfies(t -> assertThat(t.delayNanos()).isEqualTo(FILL_MICROS * 1_000));

        submit(b, BIG - 4);
        assertThat(proposed).as("one short").hasSize(2);
        List<CompletableFuture<Result>> last = submit(b, 1);
        assertThat(proposed).as("as many as the last entry: proposed by the submitter").hasSize(3);
        assertThat(proposed.get(2).commands()).hasSize(BIG);
        assertThat(b.stats().queued()).isZero();
        assertThat(b.stats().entriesFilled()).isEqualTo(1);

        apply(2);
        assertThat(last.get(0)).isCompletedWithValue(new PoolReply(PoolStatus.RELEASED, "k", 0));
    }

    @Test
    void theWaitEndsWithTheFillTimeAndNotBefore() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, 3));
        assertThat(timers).hasSize(1);

        now += FILL_MICROS * 1_000 / 2;
        timers.get(0).task().run(); // a timer that fires early lets nothing go: it is set again
        assertThat(proposed).hasSize(2);
        assertThat(timers).hasSize(2);
        assertThat(timers.get(1).delayNanos()).isEqualTo(FILL_MICROS * 1_000 / 2);

        now += FILL_MICROS * 1_000 / 2;
        timers.get(1).task().run();
        assertThat(proposed).hasSize(3);
        assertThat(proposed.get(2).commands()).hasSize(3);
        assertThat(b.stats().entriesFilled()).isEqualTo(1);

        apply(2);
        submit(b, 1);
        assertThat(proposed).as("after a small entry nothing waits").hasSize(4);
    }

    @Test
    void enoughQueuedWhenTheBigEntryCompletesLeavesAtOnce() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, BIG + 1));
        assertThat(proposed).hasSize(3);
        assertThat(proposed.get(2).commands()).hasSize(BIG + 1);
        assertThat(timers).isEmpty();
        assertThat(b.stats().entriesFilled()).isZero();
    }

    @Test
    void smallEntriesNeverMakeTheNextWait() {
        ProposalBatcher b = batcher(FILL_MICROS);
        for (int i = 0; i < 5; i++) {
            submit(b, ProposalBatcher.FILL_MIN_COMMANDS - 1);
            assertThat(proposed).as("a lightly loaded log: proposed at once").hasSize(i + 1);
            apply(i);
        }
        assertThat(timers).isEmpty();
    }

    @Test
    void aCommandLongAfterTheLastEntryIsProposedAtOnce() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, 0));
        now += FILL_MICROS * 1_000;
        submit(b, 1);
        assertThat(proposed).as("the log has been idle for the fill time").hasSize(3);
    }

    @Test
    void nothingWaitsWhenFillingIsOff() {
        ProposalBatcher b = batcher(0);
        apply(bigEntryInFlight(b, 3));
        assertThat(proposed).hasSize(3);
        assertThat(proposed.get(2).commands()).hasSize(3);
        assertThat(timers).isEmpty();
    }
}
