package dev.baton.server.raft;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.OpenSessionThen;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ProposalBatcher}'s hold of acquires that will wait ("Acquires that will wait" in its class
 * comment), on a {@link ScriptedLog}: which commands share an entry, and when a held one leaves, are
 * decided by the test's own steps, not by timing.
 */
class ProposalBatcherHoldTest {
    private static final long HOLD_MICROS = 2_000;

    private final ScriptedLog log = new ScriptedLog();

    private ProposalBatcher batcher(long holdMicros) {
        return log.batcher(ProposalBatcher.Config.defaults().withHoldWaitingMicros(holdMicros));
    }

    private static CompletableFuture<Result> submit(ProposalBatcher b, Command c) {
        return b.submitAll(List.of(CommandCodec.encodeChecked(c)),
                java.util.Collections.singletonList(ContendedKeys.waitKey(c)), 7).get(0);
    }

    /** Completes entry {@code i} as applied with these results, one per command. */
    private void apply(int i, Result... results) {
        log.apply(i, List.of(results));
    }

    private static PoolAcquire acquire(long session, String key) {
        return new PoolAcquire(session, 1, key, 1, 100, 10_000, false);
    }

    private static PoolReply pool(PoolStatus status, String key) {
        return new PoolReply(status, key, status == PoolStatus.LOCKED ? 5 : 0);
    }

    /** Makes "hot" contended: an acquire on it answered QUEUED. */
    private void queueOnHot(ProposalBatcher b) {
        int before = log.proposed.size();
        submit(b, acquire(1, "hot"));
        assertThat(log.proposed).as("a key not known to be contended: proposed at once").hasSize(before + 1);
        apply(before, pool(PoolStatus.QUEUED, "hot"));
    }

    @Test
    void anAcquireThatWillWaitIsHeldAndLeavesWithTheNextOtherCommandInOrder() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);

        CompletableFuture<Result> held = submit(b, acquire(2, "hot"));
        assertThat(log.proposed).as("held for company").hasSize(1);
        assertThat(b.stats().queued()).isEqualTo(1);
        assertThat(log.timers).singleElement().satisfies(t -> assertThat(t.delayNanos()).isEqualTo(HOLD_MICROS * 1_000));

        CompletableFuture<Result> release = submit(b, new PoolRelease(3, 1, "hot", 0));
        assertThat(log.proposed).hasSize(2);
        assertThat(log.proposed.get(1).commands()).containsExactly(acquire(2, "hot"), new PoolRelease(3, 1, "hot", 0));
        assertThat(b.stats().entriesHeld()).isEqualTo(1);

        apply(1, pool(PoolStatus.QUEUED, "hot"), pool(PoolStatus.RELEASED, "hot"));
        assertThat(held).isCompletedWithValue(pool(PoolStatus.QUEUED, "hot"));
        assertThat(release).isCompletedWithValue(pool(PoolStatus.RELEASED, "hot"));
    }

    @Test
    void aHeldAcquireLeavesAloneOnceTheHoldTimeIsOverAndNotBefore() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        submit(b, acquire(2, "hot"));
        assertThat(log.timers).hasSize(1);

        log.timerFiresEarlyThenOnTime(HOLD_MICROS * 1_000);
        assertThat(log.proposed).hasSize(2);
        assertThat(log.proposed.get(1).commands()).containsExactly(acquire(2, "hot"));
        assertThat(b.stats().queued()).isZero();
        assertThat(b.stats().entriesHeld()).isEqualTo(1);
    }

    @Test
    void anAcquireGrantedAtOnceUnmarksItsKey() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        submit(b, acquire(2, "hot"));
        submit(b, new PoolRelease(3, 1, "hot", 0));
        assertThat(log.proposed).hasSize(2);
        apply(1, pool(PoolStatus.LOCKED, "hot"), pool(PoolStatus.RELEASED, "hot"));

        submit(b, acquire(4, "hot"));
        assertThat(log.proposed).as("the last acquire on the key was granted at once: no hold").hasSize(3);
        assertThat(log.timers).hasSize(1);
    }

    @Test
    void otherKeysAndCommandsThatDoNotWaitAreNeverHeld() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        List<Command> commands = List.of(acquire(2, "cold"),
                new PoolAcquire(2, 2, "hot", 1, 100, 0, false), // timeout 0: answered at once
                new LockAcquire(2, 3, "hot", 10_000)); // a lock named like the pool: another key
        for (Command c : commands) {
            int before = log.proposed.size();
            submit(b, c);
            assertThat(log.proposed).as("proposed at once: %s", c).hasSize(before + 1);
            apply(log.proposed.size() - 1, pool(PoolStatus.LOCKED, "x"));
        }
        assertThat(log.proposed).hasSize(4);
        assertThat(log.timers).isEmpty();
        assertThat(b.stats().entriesHeld()).isZero();
    }

    @Test
    void nothingIsHeldWhenTheHoldIsOff() {
        ProposalBatcher b = batcher(0);
        queueOnHot(b);
        submit(b, acquire(2, "hot"));
        assertThat(log.proposed).hasSize(2);
        assertThat(log.timers).isEmpty();
    }

    @Test
    void aHeldCommandDoesNotHoldAnUrgentOneQueuedWithIt() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        Command release = new PoolRelease(3, 1, "hot", 0);
        b.submitAll(List.of(CommandCodec.encodeChecked(acquire(2, "hot")), CommandCodec.encodeChecked(release)),
                java.util.Arrays.asList(ContendedKeys.waitKey(acquire(2, "hot")), null), 7);
        assertThat(log.proposed).hasSize(2);
        assertThat(log.proposed.get(1).commands()).containsExactly(acquire(2, "hot"), release);
        assertThat(b.stats().entriesHeld()).isZero();
    }

    @Test
    void waitKeysAreTheAcquiresThatMayWait() {
        assertThat(ContendedKeys.waitKey(acquire(1, "k"))).isEqualTo(new ContendedKeys.Key(false, "k"));
        assertThat(ContendedKeys.waitKey(new PoolAcquire(1, 1, "k", 1, 100, 0, false))).isNull();
        assertThat(ContendedKeys.waitKey(new LockAcquire(1, 1, "m", 5_000))).isEqualTo(new ContendedKeys.Key(true, "m"));
        assertThat(ContendedKeys.waitKey(new LockAcquire(1, 1, "m", 0))).as("tryLock").isNull();
        assertThat(ContendedKeys.waitKey(new OpenSessionThen(new OpenSession("t", 10_000), acquire(0, "k"))))
                .isEqualTo(new ContendedKeys.Key(false, "k"));
        assertThat(ContendedKeys.waitKey(new PoolRelease(1, 1, "k", 0))).isNull();
    }

    @Test
    void theHintLearnsFromQueuedAndGrantedAnswersAndStaysBounded() {
        ContendedKeys c = new ContendedKeys();
        ContendedKeys.Key lock = new ContendedKeys.Key(true, "m");
        c.learn(lock, new LockReply(LockStatus.QUEUED, "m", 0));
        assertThat(c.contended(lock)).isTrue();
        c.learn(lock, new LockReply(LockStatus.TIMEOUT, "m", 0));
        assertThat(c.contended(lock)).as("an answer that says nothing of the queue changes nothing").isTrue();
        c.learn(lock, new LockReply(LockStatus.LOCKED, "m", 9));
        assertThat(c.contended(lock)).isFalse();
        c.learn(new ContendedKeys.Key(false, "full"), pool(PoolStatus.QUEUE_FULL, "full"));
        assertThat(c.contended(new ContendedKeys.Key(false, "full"))).isTrue();

        for (int i = 0; i < ContendedKeys.MAX_KEYS + 10; i++) {
            c.learn(new ContendedKeys.Key(false, "k" + i), pool(PoolStatus.QUEUED, "k" + i));
        }
        assertThat(c.size()).isLessThanOrEqualTo(ContendedKeys.MAX_KEYS);
        assertThat(c.contended(new ContendedKeys.Key(false, "k" + (ContendedKeys.MAX_KEYS + 9)))).isTrue();
    }
}
