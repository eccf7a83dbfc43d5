package dev.baton.server.raft;

import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ProposalBatcher}'s wait for the next entry to fill after a big one ("Filling entries" in its
 * class comment), on a {@link ScriptedLog}: which commands share an entry, and when a waiting entry
 * leaves, are decided by the test's own steps, not by timing.
 */
class ProposalBatcherFillTest {
    private static final long FILL_MICROS = 1_000;
    private static final int BIG = ProposalBatcher.FILL_MIN_COMMANDS + 2;

    private final ScriptedLog log = new ScriptedLog();
    private int next;

    private ProposalBatcher batcher(long fillMicros) {
        return log.batcher(ProposalBatcher.Config.defaults().withHoldWaitingMicros(0).withFillMicros(fillMicros));
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
        log.apply(i, Collections.nCopies(log.proposed.get(i).commands().size(),
                new PoolReply(PoolStatus.RELEASED, "k", 0)));
    }

    /**
     * Leaves the batcher with a big entry in flight (log.proposed behind a small one, which is then
     * applied) and {@code queued} commands waiting behind it. Returns the big entry's position.
     */
    private int bigEntryInFlight(ProposalBatcher b, int queued) {
        submit(b, 1);
        submit(b, BIG);
        assertThat(log.proposed).hasSize(2);
        assertThat(log.proposed.get(1).commands()).hasSize(BIG);
        apply(0);
        submit(b, queued);
        assertThat(log.proposed).as("behind a big entry nothing else is proposed").hasSize(2);
        return 1;
    }

    @Test
    void afterABigEntryTheNextWaitsUntilAsManyCommandsAreQueued() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, 3));
        assertThat(log.proposed).as("3 queued of the %d the last entry carried: the next waits", BIG).hasSize(2);
        assertThat(log.timers).singleElement().satisfies(t -> assertThat(t.delayNanos()).isEqualTo(FILL_MICROS * 1_000));

        submit(b, BIG - 4);
        assertThat(log.proposed).as("one short").hasSize(2);
        List<CompletableFuture<Result>> last = submit(b, 1);
        assertThat(log.proposed).as("as many as the last entry: proposed by the submitter").hasSize(3);
        assertThat(log.proposed.get(2).commands()).hasSize(BIG);
        assertThat(b.stats().queued()).isZero();
        assertThat(b.stats().entriesFilled()).isEqualTo(1);

        apply(2);
        assertThat(last.get(0)).isCompletedWithValue(new PoolReply(PoolStatus.RELEASED, "k", 0));
    }

    @Test
    void theWaitEndsWithTheFillTimeAndNotBefore() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, 3));
        assertThat(log.timers).hasSize(1);

        log.timerFiresEarlyThenOnTime(FILL_MICROS * 1_000);
        assertThat(log.proposed).hasSize(3);
        assertThat(log.proposed.get(2).commands()).hasSize(3);
        assertThat(b.stats().entriesFilled()).isEqualTo(1);

        apply(2);
        submit(b, 1);
        assertThat(log.proposed).as("after a small entry nothing waits").hasSize(4);
    }

    @Test
    void enoughQueuedWhenTheBigEntryCompletesLeavesAtOnce() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, BIG + 1));
        assertThat(log.proposed).hasSize(3);
        assertThat(log.proposed.get(2).commands()).hasSize(BIG + 1);
        assertThat(log.timers).isEmpty();
        assertThat(b.stats().entriesFilled()).isZero();
    }

    @Test
    void smallEntriesNeverMakeTheNextWait() {
        ProposalBatcher b = batcher(FILL_MICROS);
        for (int i = 0; i < 5; i++) {
            submit(b, ProposalBatcher.FILL_MIN_COMMANDS - 1);
            assertThat(log.proposed).as("a lightly loaded log: proposed at once").hasSize(i + 1);
            apply(i);
        }
        assertThat(log.timers).isEmpty();
    }

    @Test
    void aCommandLongAfterTheLastEntryIsProposedAtOnce() {
        ProposalBatcher b = batcher(FILL_MICROS);
        apply(bigEntryInFlight(b, 0));
        log.now += FILL_MICROS * 1_000;
        submit(b, 1);
        assertThat(log.proposed).as("the log has been idle for the fill time").hasSize(3);
    }

    @Test
    void nothingWaitsWhenFillingIsOff() {
        ProposalBatcher b = batcher(0);
        apply(bigEntryInFlight(b, 3));
        assertThat(log.proposed).hasSize(3);
        assertThat(log.proposed.get(2).commands()).hasSize(3);
        assertThat(log.timers).isEmpty();
    }
}
