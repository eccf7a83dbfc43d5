package dev.baton.server.raft;

import com.alipay.sofa.jraft.Closure;
import com.alipay.sofa.jraft.Iterator;
import com.alipay.sofa.jraft.Status;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.ConcurrentStateMachine;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The adapter's apply path against a scripted {@link Iterator} that follows SOFAJRaft's
 * IteratorWrapper/IteratorImpl rules (including how setErrorAndRollback moves the index), so the
 * halting arithmetic is checked without a Raft node. {@link SingleNodeTest} runs the real engine.
 */
class BatonStateMachineTest {

    /** One scripted entry: index, data, closure (null for a follower/replayed entry). */
    record Item(long index, ByteBuffer data, Closure done) {}

    /** Mimics SOFAJRaft's iterator over a run of data entries. */
    static final class ScriptedIterator implements Iterator {
        final List<Item> items;
        int pos;
        Status error;

        ScriptedIterator(List<Item> items) {
            this.items = items;
        }

        @Override
        public boolean hasNext() {
            return error == null && pos < items.size();
        }

        @Override
        public ByteBuffer next() {
            ByteBuffer d = getData();
            if (hasNext()) {
                pos++;
            }
            return d;
        }

        @Override
        public ByteBuffer getData() {
            return pos < items.size() ? items.get(pos).data() : null;
        }

        @Override
        public long getIndex() {
            return pos < items.size() ? items.get(pos).index() : items.get(items.size() - 1).index() + 1;
        }

        @Override
        public long getTerm() {
            return 1;
        }

        @Override
        public Closure done() {
            return items.get(pos).done();
        }

        @Override
        public void setAutoCommitPerLog(boolean status) {}

        @Override
        public boolean commit() {
            return false;
        }

        @Override
        public void commitAndSnapshotSync(Closure done) {}

        @Override
        public void setErrorAndRollback(long ntail, Status st) {
            assertThat(ntail).isPositive();
            // IteratorImpl: on a data entry the current one counts as the first of ntail.
            pos -= (int) (pos < items.size() ? ntail - 1 : ntail);
            error = st;
        }

        /** Index of the first entry SOFAJRaft will consider not applied. */
        long stoppedAt() {
            return items.get(pos).index();
        }
    }

    /** Counts update calls. */
    static final class CountingSm implements ConcurrentStateMachine {
        final CoordinationStateMachine inner = new CoordinationStateMachine();
        final AtomicInteger updates = new AtomicInteger();
        volatile boolean fail;

        @Override
        public List<Applied> update(List<Entry> entries) {
            updates.incrementAndGet();
            if (fail) {
                throw new IllegalStateException("injected bug");
            }
            return inner.update(entries);
        }

        @Override
        public <R> R lookup(Query<R> query) {
            return inner.lookup(query);
        }

        @Override
        public long lastApplied() {
            return inner.lastApplied();
        }

        @Override
        public SnapshotHandle prepareSnapshot() {
            return inner.prepareSnapshot();
        }

        @Override
        public void saveSnapshot(SnapshotHandle snapshot, OutputStream out) throws java.io.IOException {
            inner.saveSnapshot(snapshot, out);
        }

        @Override
        public void recoverFromSnapshot(InputStream in) throws java.io.IOException {
            inner.recoverFromSnapshot(in);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    private static ByteBuffer data(long stamp, Command... commands) {
        return RaftEntryCodec.encode(stamp, CommandCodec.encodeBatch(List.of(commands)));
    }

    private static ProposalClosure closure() {
        return new ProposalClosure(Optional::empty);
    }

    @Test
    void appliesARunInOneUpdateCompletesLocalClosuresAndDeliversEffects() {
        CountingSm sm = new CountingSm();
        List<String> delivered = new ArrayList<>();
        BatonStateMachine fsm = new BatonStateMachine(sm, (index, effects) -> {
            for (Effect e : effects) {
                delivered.add(index + ":" + e);
            }
        }, "t");
        ProposalClosure first = closure();
        ProposalClosure last = closure();
        ScriptedIterator it = new ScriptedIterator(List.of(
                new Item(3, data(1000, new Command.OpenSession(null, 10_000), new Command.OpenSession(null, 10_000)),
                        first),
                new Item(4, data(900, new Command.PoolAcquire(1, 1, "k", 1, 5, 0, false),
                        new Command.PoolAcquire(2, 1, "k", 1, 5, 60_000, false)), null),
                new Item(6, data(1100, new Command.PoolRelease(1, 2, "k", 0)), last)));

        fsm.onApply(it);

        assertThat(it.error).isNull();
        assertThat(it.hasNext()).isFalse();
        assertThat(sm.updates).hasValue(1);
        assertThat(sm.lastApplied()).isEqualTo(6);
        assertThat(first.future()).isCompleted();
        assertThat(first.future().join().results()).hasSize(2).allMatch(r -> r instanceof Result.SessionOpened);
        assertThat(last.future().join().results().get(0))
                .isInstanceOfSatisfying(Result.PoolReply.class,
                        r -> assertThat(r.status()).isEqualTo(Result.PoolStatus.RELEASED));
        assertThat(delivered).singleElement().asString().startsWith("6:PoolWaitEnded[session=2");
        assertThat(fsm.lastAppliedStamp()).as("max, not last").isEqualTo(1100);
    }

    @Test
    void tasksAskedForByClosuresRunOnceAfterTheWholeBatchAndOnlyTheApplyThreadCanAsk() {
        BatonStateMachine fsm = new BatonStateMachine(new CountingSm(), (index, effects) -> {}, "t");
        List<String> order = new ArrayList<>();
        Runnable afterBatch = () -> order.add("after the batch, applied " + fsm.appliedIndex());
        assertThat(fsm.runAfterThisBatch(afterBatch)).as("outside a batch").isFalse();
        ProposalClosure first = closure();
        ProposalClosure second = closure();
        List<Boolean> asked = new ArrayList<>();
        for (ProposalClosure c : List.of(first, second)) {
            c.future().whenComplete((r, t) -> {
                order.add("closure");
                asked.add(fsm.runAfterThisBatch(afterBatch));
            });
        }
        fsm.onApply(new ScriptedIterator(List.of(
                new Item(1, data(1, new Command.OpenSession(null, 10_000)), first),
                new Item(2, data(2, new Command.OpenSession(null, 10_000)), second))));

        assertThat(asked).containsExactly(true, true);
        assertThat(order).containsExactly("closure", "closure", "after the batch, applied 2");
        assertThat(fsm.runAfterThisBatch(afterBatch)).as("after the batch").isFalse();
        fsm.onApply(new ScriptedIterator(List.of(new Item(3, data(3, new Command.OpenSession(null, 10_000)), null))));
        assertThat(order).as("nothing left over for the next batch").hasSize(3);
    }

    @Test
    void tellsTheStampObserverEachNewHighestStampOncePerRun() {
        BatonStateMachine fsm = new BatonStateMachine(new CountingSm(), EffectListener.NONE, "t");
        List<Long> seen = new ArrayList<>();
        fsm.observeStamps(seen::add);
        fsm.onApply(new ScriptedIterator(List.of(
                new Item(1, data(1000, new Command.OpenSession(null, 10_000)), null),
                new Item(2, data(1200, new Command.OpenSession(null, 10_000)), null),
                new Item(3, data(1100, new Command.OpenSession(null, 10_000)), null))));
        fsm.onApply(new ScriptedIterator(List.of(
                new Item(4, data(1150, new Command.OpenSession(null, 10_000)), null)))); // not newer: not told
        fsm.onApply(new ScriptedIterator(List.of(
                new Item(5, data(1300, new Command.OpenSession(null, 10_000)), null))));
        assertThat(seen).containsExactly(1200L, 1300L);
        assertThat(fsm.lastAppliedStamp()).isEqualTo(1300);
    }

    @Test
    void anUnreadableEntryHaltsOnItAfterApplyingTheOnesBefore() {
        CountingSm sm = new CountingSm();
        BatonStateMachine fsm = new BatonStateMachine(sm, EffectListener.NONE, "t");
        ByteBuffer bad = data(1, new Command.OpenSession(null, 10_000));
        bad.put(0, (byte) 99);
        ProposalClosure before = closure();
        ScriptedIterator it = new ScriptedIterator(List.of(
                new Item(1, data(1, new Command.OpenSession(null, 10_000)), before),
                new Item(2, bad, closure()),
                new Item(3, data(1, new Command.OpenSession(null, 10_000)), closure())));

        fsm.onApply(it);

        assertThat(sm.lastApplied()).isEqualTo(1);
        assertThat(before.future()).isCompleted();
        assertThat(it.error).isNotNull();
        assertThat(it.error.getErrorMsg()).contains("version 99");
        assertThat(it.stoppedAt()).isEqualTo(2);
    }

    @Test
    void inABatonServerAnApplyFailureHaltsTheProcessWithStatus70() {
        List<Integer> halts = new java.util.concurrent.CopyOnWriteArrayList<>();
        BatonStateMachine.halter(halts::add);
        try {
            CountingSm sm = new CountingSm();
            BatonStateMachine fsm = new BatonStateMachine(sm, EffectListener.NONE, "t");
            // an embedded node (the default) only stops applying
            sm.fail = true;
            fsm.onApply(new ScriptedIterator(List.of(new Item(1, data(1, new Command.OpenSession(null, 10_000)), null))));
            assertThat(halts).isEmpty();

            BatonStateMachine.haltProcessOnApplyFailure(true);
            fsm.onApply(new ScriptedIterator(List.of(new Item(1, data(1, new Command.OpenSession(null, 10_000)), null))));
            assertThat(halts).containsExactly(BatonStateMachine.EXIT_APPLY_FAILED);
            assertThat(BatonStateMachine.EXIT_APPLY_FAILED).isEqualTo(70);

            // an unreadable entry, and an out-of-memory error in a listener on the apply thread, too
            sm.fail = false;
            ByteBuffer bad = data(1, new Command.OpenSession(null, 10_000));
            bad.put(0, (byte) 99);
            fsm.onApply(new ScriptedIterator(List.of(new Item(1, bad, null))));
            assertThat(halts).hasSize(2);
            BatonStateMachine oom = new BatonStateMachine(new CountingSm(), (index, effects) -> {
                throw new OutOfMemoryError("injected");
            }, "t");
            oom.onApply(new ScriptedIterator(List.of(new Item(1, data(1, new Command.OpenSession(null, 10_000)),
                    null), new Item(2, data(1, new Command.CloseSession(1, 0)), null)))); // SessionEnded: an effect
            assertThat(halts).hasSize(3);
        } finally {
            BatonStateMachine.haltProcessOnApplyFailure(false);
            BatonStateMachine.halter(null);
        }
    }

    @Test
    void anUnreadableFirstEntryAppliesNothing() {
        CountingSm sm = new CountingSm();
        BatonStateMachine fsm = new BatonStateMachine(sm, EffectListener.NONE, "t");
        ScriptedIterator it = new ScriptedIterator(List.of(
                new Item(5, ByteBuffer.wrap(new byte[] {1, 2}), null),
                new Item(6, data(1, new Command.OpenSession(null, 10_000)), null)));

        fsm.onApply(it);

        assertThat(sm.updates).hasValue(0);
        assertThat(sm.lastApplied()).isZero();
        assertThat(it.stoppedAt()).isEqualTo(5);
    }

    @Test
    void anUpdateThatThrowsRollsBackTheWholeRunAndLeavesTheClosuresToTheEngine() {
        CountingSm sm = new CountingSm();
        sm.fail = true;
        BatonStateMachine fsm = new BatonStateMachine(sm, EffectListener.NONE, "t");
        ProposalClosure c = closure();
        ScriptedIterator it = new ScriptedIterator(List.of(
                new Item(7, data(1, new Command.OpenSession(null, 10_000)), c),
                new Item(8, data(1, new Command.OpenSession(null, 10_000)), null)));

        fsm.onApply(it);

        assertThat(it.error).isNotNull();
        assertThat(it.error.getErrorMsg()).contains("injected bug");
        assertThat(it.stoppedAt()).isEqualTo(7);
        assertThat(c.future()).as("SOFAJRaft runs the rolled-back closures with the error").isNotDone();
        c.run(it.error);
        assertThat(c.future()).isCompletedExceptionally();
    }

    @Test
    void anUpdateThatThrowsBeforeAnUnreadableEntryRollsBackBoth() {
        CountingSm sm = new CountingSm();
        sm.fail = true;
        BatonStateMachine fsm = new BatonStateMachine(sm, EffectListener.NONE, "t");
        ScriptedIterator it = new ScriptedIterator(List.of(
                new Item(7, data(1, new Command.OpenSession(null, 10_000)), null),
                new Item(8, data(1, new Command.OpenSession(null, 10_000)), null),
                new Item(9, ByteBuffer.allocate(0), null)));

        fsm.onApply(it);

        assertThat(it.stoppedAt()).isEqualTo(7);
    }

    @Test
    void aFailingEffectListenerDoesNotStopApplying() {
        CountingSm sm = new CountingSm();
        BatonStateMachine fsm = new BatonStateMachine(sm, (i, e) -> {
            throw new RuntimeException("delivery bug");
        }, "t");
        ScriptedIterator it = new ScriptedIterator(List.of(
                new Item(1, data(1, new Command.OpenSession(null, 10_000), new Command.OpenSession(null, 10_000),
                        new Command.PoolAcquire(1, 1, "k", 1, 5, 0, false),
                        new Command.PoolAcquire(2, 1, "k", 1, 5, 60_000, false),
                        new Command.CloseSession(1, 0)), null),
                new Item(2, data(2, new Command.OpenSession(null, 10_000)), null)));

        fsm.onApply(it);

        assertThat(it.error).isNull();
        assertThat(sm.lastApplied()).isEqualTo(2);
    }
}
