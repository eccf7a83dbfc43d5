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
import dev.baton.core.sm.Applied;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ProposalBatcher}'s hold of acquires that will wait ("Acquires that will wait" in its class
 * comment), with the engine, the timer and the clock played by the test: which commands share an
 * entry, and when a held one leaves, are decided by the test's own steps, not by timing.
 */
class ProposalBatcherHoldTest {
    private static final long HOLD_MICROS = 2_000;

    /** One proposed entry: its commands, and the closure the test completes as the engine would. */
    private record Proposed(List<Command> commands, ProposalClosure done) {}

    private record Timer(Runnable task, long delayNanos) {}

    private long now = 1_000_000_000L;
    private final List<Proposed> proposed = new ArrayList<>();
    private final List<Timer> timers = new ArrayList<>();
    private long index;

    private ProposalBatcher batcher(long holdMicros) {
        return new ProposalBatcher(ProposalBatcher.Config.defaults().withHoldWaitingMicros(holdMicros), "test",
                () -> 7, Optional::empty,
                (payload, term, done) -> proposed.add(new Proposed(CommandCodec.decodeBatch(payload), done)),
                (task, delayNanos) -> timers.add(new Timer(task, delayNanos)), () -> now);
    }

    private static CompletableFuture<Result> submit(ProposalBatcher b, Command c) {
        return b.submitAll(List.of(CommandCodec.encodeChecked(c)),
                java.util.Collections.singletonList(ContendedKeys.waitKey(c)), 7).get(0);
    }

    /** Completes entry {@code i} as applied with these results, one per command. */
    private void apply(int i, Result... results) {
        proposed.get(i).done().applied(new Applied(++index, List.of(results), List.of()));
    }

    private static PoolAcquire acquire(long session, String key) {
        return new PoolAcquire(session, 1, key, 1, 100, 10_000, false);
    }

    private static PoolReply pool(PoolStatus status, String key) {
        return new PoolReply(status, key, status == PoolStatus.LOCKED ? 5 : 0);
    }

    /** Makes "hot" contended: an acquire on it answered QUEUED. */
    private void queueOnHot(ProposalBatcher b) {
        int before = proposed.size();
        submit(b, acquire(1, "hot"));
        assertThat(proposed).as("a key not known to be contended: proposed at once").hasSize(before + 1);
        apply(before, pool(PoolStatus.QUEUED, "hot"));
    }

    @Test
    void anAcquireThatWillWaitIsHeldAndLeavesWithTheNextOtherCommandInOrder() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);

        CompletableFuture<Result> held = submit(b, acquire(2, "hot"));
        assertThat(proposed).as("held for company").hasSize(1);
        assertThat(b.stats().queued()).isEqualTo(1);
        assertThat(timers).singleElement().satisfies(t -> assertThat(t.delayNanos()).isEqualTo(HOLD_MICROS * 1_000));

        CompletableFuture<Result> release = submit(b, new PoolRelease(3, 1, "hot", 0));
        assertThat(proposed).hasSize(2);
        assertThat(proposed.get(1).commands()).containsExactly(acquire(2, "hot"), new PoolRelease(3, 1, "hot", 0));
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
        assertThat(timers).hasSize(1);

        now += HOLD_MICROS * 1_000 / 2;
        timers.get(0).task().run(); // a timer that fires early lets nothing go: it is set again
        assertThat(proposed).hasSize(1);
        assertThat(timers).hasSize(2);
        assertThat(timers.get(1).delayNanos()).isEqualTo(HOLD_MICROS * 1_000 / 2);

        now += HOLD_MICROS * 1_000 / 2;
        timers.get(1).task().run();
        assertThat(proposed).hasSize(2);
        assertThat(proposed.get(1).commands()).containsExactly(acquire(2, "hot"));
        assertThat(b.stats().queued()).isZero();
        assertThat(b.stats().entriesHeld()).isEqualTo(1);
    }

    @Test
    void anAcquireGrantedAtOnceUnmarksItsKey() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        submit(b, acquire(2, "hot"));
        submit(b, new PoolRelease(3, 1, "hot", 0));
        assertThat(proposed).hasSize(2);
        apply(1, pool(PoolStatus.LOCKED, "hot"), pool(PoolStatus.RELEASED, "hot"));

        submit(b, acquire(4, "hot"));
        assertThat(proposed).as("the last acquire on the key was granted at once: no hold").hasSize(3);
        assertThat(timers).hasSize(1);
    }

    @Test
    void otherKeysAndCommandsThatDoNotWaitAreNeverHeld() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        List<Command> commands = List.of(acquire(2, "cold"),
                new PoolAcquire(2, 2, "hot", 1, 100, 0, false), // timeout 0: answered at once
                new LockAcquire(2, 3, "hot", 10_000)); // a lock named like the pool: another key
        for (Command c : commands) {
            submit(b, c);
            assertThat(proposed).as("proposed at once: %s", c).hasSize((int) index + 1);
            apply(proposed.size() - 1, pool(PoolStatus.LOCKED, "x"));
        }
        assertThat(proposed).hasSize(4);
        assertThat(timers).isEmpty();
        assertThat(b.stats().entriesHeld()).isZero();
    }

    @Test
    void nothingIsHeldWhenTheHoldIsOff() {
        ProposalBatcher b = batcher(0);
        queueOnHot(b);
        submit(b, acquire(2, "hot"));
        assertThat(proposed).hasSize(2);
        assertThat(timers).isEmpty();
    }

    @Test
    void aHeldCommandDoesNotHoldAnUrgentOneQueuedWithIt() {
        ProposalBatcher b = batcher(HOLD_MICROS);
        queueOnHot(b);
        Command release = new PoolRelease(3, 1, "hot", 0);
        b.submitAll(List.of(CommandCodec.encodeChecked(acquire(2, "hot")), CommandCodec.encodeChecked(release)),
                java.util.Arrays.asList(ContendedKeys.waitKey(acquire(2, "hot")), null), 7);
        assertThat(proposed).hasSize(2);
        assertThat(proposed.get(1).commands()).containsExactly(acquire(2, "hot"), release);
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
