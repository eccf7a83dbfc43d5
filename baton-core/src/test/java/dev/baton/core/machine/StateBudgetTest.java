package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.ClaimedItem;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueDone;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Command.SetLimits;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.QueueStatus;
import dev.baton.core.command.Result.Rejected;
import dev.baton.core.command.Result.SessionOpened;
import dev.baton.core.command.View;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;
import dev.baton.core.testing.RandomWorkload;
import dev.baton.core.testing.StateInvariants;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.baton.core.testing.TestResults.assertRejected;
import static org.assertj.core.api.Assertions.assertThat;

/** The state budget ({@code Limits.maxStateBytes}): what is counted, when it is refused, and that it is deterministic. */
class StateBudgetTest {

    private static long used(Harness h) {
        View.StateBytes b = h.lookup(new Query.GetStateBytes());
        assertThat(b.used()).as("kept = recomputed").isEqualTo(Footprint.of(h.sm().state()));
        return b.used();
    }

    private static Harness withBudget(long bytes) {
        return new Harness(Limits.defaults().toBuilder().maxStateBytes(bytes).build());
    }

    @Test
    void anEmptyStateCostsNothingAndTheQueryShowsTheLimit() {
        Harness h = withBudget(12_345);
        assertThat(h.lookup(new Query.GetStateBytes())).isEqualTo(new View.StateBytes(0, 12_345));
        assertThat(Limits.defaults().maxStateBytes()).isEqualTo(256L << 20);
    }

    @Test
    void sessionsAndTokensAreCountedUntilTheSessionEnds() {
        Harness h = new Harness();
        long a = h.open();
        assertThat(used(h)).isEqualTo(Footprint.SESSION);
        long b = h.apply(new OpenSession("worker-1", 10_000), SessionOpened.class).session();
        assertThat(used(h)).isEqualTo(2 * Footprint.SESSION + Footprint.TOKEN + "worker-1".length());
        h.apply(new CloseSession(a, 0));
        assertThat(used(h)).isEqualTo(Footprint.SESSION + Footprint.TOKEN + "worker-1".length());
        h.apply(new ExpireSessions(List.of(b)));
        assertThat(used(h)).isZero();
    }

    @Test
    void poolKeysHoldersAndWaitersAreCountedAndReleased() {
        Harness h = new Harness();
        long a = h.open();
        long b = h.open();
        long base = used(h);
        PoolReply held = h.apply(new PoolAcquire(a, 0, "key", 1, 5, 0, false), PoolReply.class);
        assertThat(used(h) - base).isEqualTo(Footprint.POOL_KEY + 3 + Footprint.SLOT);
        h.apply(new PoolAcquire(b, 0, "key", 1, 5, 10_000, false), PoolReply.class);
        assertThat(used(h) - base).isEqualTo(Footprint.POOL_KEY + 3 + 2 * Footprint.SLOT);
        h.apply(new PoolRelease(a, 0, "key", held.fence()), PoolReply.class); // the waiter takes it over
        assertThat(used(h) - base).isEqualTo(Footprint.POOL_KEY + 3 + Footprint.SLOT);
        h.apply(new CloseSession(b, 0));
        assertThat(used(h)).isEqualTo(Footprint.SESSION);
        // a wait that times out gives its slot back too
        long c = h.open();
        h.apply(new PoolAcquire(a, 0, "k2", 1, 5, 0, false), PoolReply.class);
        h.apply(new PoolAcquire(c, 0, "k2", 1, 5, 100, false), PoolReply.class);
        h.advance(200).tick();
        assertThat(used(h)).isEqualTo(2 * Footprint.SESSION + Footprint.POOL_KEY + 2 + Footprint.SLOT);
    }

    @Test
    void locksEventsGroupsAndTheirWaitersAreCounted() {
        Harness h = new Harness();
        long a = h.open();
        long b = h.open();
        long base = used(h);
        LockReply l = h.apply(new LockAcquire(a, 0, "L", 0), LockReply.class);
        h.apply(new LockAcquire(b, 0, "L", 10_000), LockReply.class);
        assertThat(used(h) - base).isEqualTo(Footprint.LOCK + 1 + Footprint.SLOT);
        h.apply(new LockRelease(a, 0, "L", l.fence()), LockReply.class);
        assertThat(used(h) - base).isEqualTo(Footprint.LOCK + 1);
        h.apply(new CloseSession(b, 0));
        assertThat(used(h) - base).isEqualTo(-Footprint.SESSION);

        h.apply(new EventBegin(a, 0, "ev"), EventReply.class);
        assertThat(used(h)).isEqualTo(Footprint.SESSION + Footprint.EVENT + 2);
        h.apply(new EventComplete(0, 0, "ev"), EventReply.class);
        assertThat(used(h)).isEqualTo(Footprint.SESSION);

        h.apply(new DispatchInit(0, 0, "grp", Map.of("t1", "one", "t2", "two"), null));
        long group = Footprint.GROUP + 3 + 2 * Footprint.TARGET + 4 + 6;
        assertThat(used(h)).isEqualTo(Footprint.SESSION + group);
        // adding targets already there costs nothing; a new one costs its own
        h.apply(new DispatchInit(0, 0, "grp", Map.of("t1", "one", "t3", "three"), null));
        assertThat(used(h)).isEqualTo(Footprint.SESSION + group + Footprint.TARGET + 2 + 5);
    }

    @Test
    void queueItemsPayloadsAndPrerequisitesAreCountedUntilDone() {
        Harness h = new Harness();
        long s = h.open();
        long base = used(h);
        h.apply(new QueueEnqueue(0, 0, "q", "i1", Bytes.wrap(new byte[1000]), List.of("pre")), QueueReply.class);
        long item1 = Footprint.ITEM + 2 + 1000 + Footprint.PREREQUISITE + 3;
        assertThat(used(h) - base).isEqualTo(Footprint.QUEUE + 1 + item1);
        // replacing an item counts the new one instead of the old
        h.apply(new QueueEnqueue(0, 0, "q", "i1", Bytes.wrap(new byte[10]), List.of()), QueueReply.class);
        assertThat(used(h) - base).isEqualTo(Footprint.QUEUE + 1 + Footprint.ITEM + 2 + 10);
        h.apply(new QueueEnqueue(0, 0, "q", "i2", Bytes.wrap(new byte[20]), List.of()), QueueReply.class);
        QueueReply claimed = h.apply(new QueueClaim(s, 0, "q", 2), QueueReply.class);
        assertThat(claimed.items()).hasSize(2);
        for (ClaimedItem it : claimed.items()) {
            h.apply(new QueueDone(s, 0, "q", it.item(), it.fence()), QueueReply.class);
        }
        assertThat(used(h)).as("the queue is gone with its last item").isEqualTo(base);
    }

    @Test
    void rememberedAnswersAreCountedAndDroppedWithTheWindowAndTheSession() {
        Harness h = new Harness(Limits.defaults().toBuilder().maxRememberedRequests(3).build());
        long s = h.open();
        for (int rid = 1; rid <= 3; rid++) {
            h.apply(new EventComplete(s, rid, "e" + rid), EventReply.class); // NOT_PENDING, name of 2 chars
        }
        assertThat(used(h)).isEqualTo(Footprint.SESSION + 3 * (Footprint.ANSWER + 2));
        h.apply(new EventComplete(s, 4, "event-4"), EventReply.class); // the window forgets "e1"
        assertThat(used(h)).isEqualTo(Footprint.SESSION + 2 * (Footprint.ANSWER + 2) + Footprint.ANSWER + 7);
        // a claim's answer holds the claimed payloads
        h.apply(new QueueEnqueue(0, 0, "q", "i", Bytes.wrap(new byte[500]), List.of()), QueueReply.class);
        long beforeClaim = used(h);
        QueueReply c = h.apply(new QueueClaim(s, 5, "q", 1), QueueReply.class);
        long claimAnswer = Footprint.ANSWER + Footprint.CLAIMED_ITEM + 1 + 1 + 500;
        long forgotten = Footprint.ANSWER + 2; // "e2"
        assertThat(used(h) - beforeClaim).isEqualTo(claimAnswer - forgotten);
        h.apply(new QueueDone(s, 0, "q", "i", c.items().get(0).fence()), QueueReply.class);
        h.apply(new CloseSession(s, 0));
        assertThat(used(h)).isZero();
    }

    @Test
    void aCommandOverTheBudgetIsRefusedExactlyAndChangesNothing() {
        long item = Footprint.ITEM + 2 + 1000;
        long queue = Footprint.QUEUE + 1;
        Harness h = withBudget(queue + 2 * item);
        h.apply(new QueueEnqueue(0, 0, "q", "i1", Bytes.wrap(new byte[1000]), List.of()), QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "i2", Bytes.wrap(new byte[1000]), List.of()), QueueReply.class);
        assertThat(used(h)).as("exactly at the budget").isEqualTo(queue + 2 * item);
        byte[] before = h.essence();
        Result r = h.apply(new QueueEnqueue(0, 0, "q", "i3", Bytes.wrap(new byte[1]), List.of()));
        assertRejected(r, ErrorCode.LIMIT_EXCEEDED);
        assertThat(((Rejected) r).message()).isEqualTo("state budget full: item i3 of queue q needs "
                + (Footprint.ITEM + 2 + 1) + " bytes, " + (queue + 2 * item) + " of " + (queue + 2 * item)
                + " in use (limit maxStateBytes)");
        assertThat(h.essence()).isEqualTo(before);
        assertThat(h.lookup(new Query.GetQueue("q")).items()).hasSize(2);
        // replacing an item by a smaller one frees bytes, so it is accepted
        h.apply(new QueueEnqueue(0, 0, "q", "i2", Bytes.wrap(new byte[900]), List.of()), QueueReply.class);
        assertThat(used(h)).isEqualTo(queue + 2 * item - 100);
        // ... and exactly what was freed fits again
        h.apply(new QueueEnqueue(0, 0, "q", "i1", Bytes.wrap(new byte[1100]), List.of()), QueueReply.class);
        assertRejected(h.apply(new QueueEnqueue(0, 0, "q", "i1", Bytes.wrap(new byte[1101]), List.of())),
                ErrorCode.LIMIT_EXCEEDED);
    }

    @Test
    void everyKindOfNewThingIsRefusedAtTheBudget() {
        Harness h = withBudget(2 * Footprint.SESSION);
        long a = h.open();
        long b = h.open();
        byte[] before = h.essence();
        assertRejected(h.apply(new OpenSession(null, 10_000)), ErrorCode.LIMIT_EXCEEDED);
        assertRejected(h.apply(new PoolAcquire(a, 0, "k", 1, 5, 0, false)), ErrorCode.LIMIT_EXCEEDED);
        assertRejected(h.apply(new LockAcquire(a, 0, "L", 0)), ErrorCode.LIMIT_EXCEEDED);
        assertRejected(h.apply(new EventBegin(a, 0, "e")), ErrorCode.LIMIT_EXCEEDED);
        assertRejected(h.apply(new DispatchInit(0, 0, "g", Map.of(), null)), ErrorCode.LIMIT_EXCEEDED);
        assertRejected(h.apply(new QueueEnqueue(0, 0, "q", "i", Bytes.EMPTY, List.of())), ErrorCode.LIMIT_EXCEEDED);
        // remembered requests are refused before they run, and the refusal is not remembered
        // (a select of an unknown group would be NOT_FOUND and remembered: here it is refused unrun)
        assertRejected(h.apply(new Command.DispatchSelect(b, 1, "nogroup")), ErrorCode.LIMIT_EXCEEDED);
        assertThat(h.essence()).isEqualTo(before);
        // closing still works, and frees room
        h.apply(new CloseSession(b, 1));
        h.open();
        assertThat(used(h)).isEqualTo(2 * Footprint.SESSION);
    }

    @Test
    void overTheBudgetReleasesAndClaimsStillRunSoAFullQueueDrains() {
        long budget = Footprint.SESSION + Footprint.QUEUE + 1 + 3 * (Footprint.ITEM + 2 + 1000);
        Harness h = withBudget(budget);
        long s = h.open();
        int stored = 0;
        for (int i = 0; i < 10; i++) {
            Result r = h.apply(new QueueEnqueue(0, 0, "q", "i" + i, Bytes.wrap(new byte[1000]), List.of()));
            if (r instanceof QueueReply) {
                stored++;
            } else {
                assertRejected(r, ErrorCode.LIMIT_EXCEEDED);
            }
        }
        assertThat(stored).isEqualTo(3);
        assertThat(used(h)).isEqualTo(budget);
        long rid = 1;
        // a remembered claim at the full budget still runs (its answer may take the count over)
        QueueReply c = h.apply(new QueueClaim(s, rid++, "q", 3), QueueReply.class);
        assertThat(c.items()).hasSize(3);
        assertThat(used(h)).isGreaterThan(budget);
        assertRejected(h.apply(new EventBegin(s, rid++, "e")), ErrorCode.LIMIT_EXCEEDED);
        for (ClaimedItem it : c.items()) {
            assertThat(h.apply(new QueueDone(s, rid++, "q", it.item(), it.fence()), QueueReply.class).status())
                    .isEqualTo(QueueStatus.DONE);
        }
        assertThat(h.lookup(new Query.GetQueue("q"))).isNull();
        // the claim's answer (with its payloads) stays counted while remembered; closing frees it all
        h.apply(new CloseSession(s, rid));
        assertThat(used(h)).isZero();
    }

    /** The flood: 64 KiB items into one queue until refused; refused at the budget, nothing lost. */
    @Test
    void aFloodOf64KiBItemsStopsAtTheBudget() {
        long budget = 8L << 20;
        Harness h = withBudget(budget);
        Bytes payload = Bytes.wrap(new byte[65_536]);
        int accepted = 0;
        Result last = null;
        for (int i = 0; i < 1_000; i++) {
            last = h.apply(new QueueEnqueue(0, 0, "flood", "item-" + i, payload, List.of()));
            if (!(last instanceof QueueReply)) {
                break;
            }
            accepted++;
        }
        assertRejected(last, ErrorCode.LIMIT_EXCEEDED);
        long expectedUse = Footprint.QUEUE + "flood".length();
        int fits = 0;
        while (expectedUse + Footprint.ITEM + ("item-" + fits).length() + 65_536 <= budget) {
            expectedUse += Footprint.ITEM + ("item-" + fits).length() + 65_536;
            fits++;
        }
        assertThat(accepted).isEqualTo(fits).isGreaterThan(100);
        assertThat(used(h)).isEqualTo(expectedUse);
        assertThat(used(h)).isLessThanOrEqualTo(budget);
        assertThat(h.lookup(new Query.GetQueue("flood")).items()).hasSize(accepted);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2})
    void aTightBudgetIsDeterministicAcrossBatchingsAndSnapshots(long seed) throws Exception {
        Limits tight = Limits.defaults().toBuilder().maxStateBytes(6_000).build();
        List<Entry> entries = new ArrayList<>();
        entries.add(Entry.of(1, 1_000, new SetLimits(tight)));
        RandomWorkload load = new RandomWorkload(seed, 1, 1_000);
        entries.addAll(load.entries(8_000, 4));
        CoordinationStateMachine a = new CoordinationStateMachine();
        CoordinationStateMachine b = new CoordinationStateMachine();
        List<Applied> ra = inBatches(a, entries, new Random(seed));
        List<Applied> rb = inBatches(b, entries, new Random(seed * 17 + 3));
        assertThat(rb).isEqualTo(ra);
        assertThat(b.state().stateBytes()).isEqualTo(a.state().stateBytes());
        assertThat(Harness.snapshotOf(b)).isEqualTo(Harness.snapshotOf(a));
        assertThat(StateInvariants.check(a.state(), RandomWorkload.MAX_WORKERS)).isEmpty();
        // the budget was really hit, and never overrun by more than the answers of freeing commands
        long refused = ra.stream().flatMap(x -> x.results().stream())
                .filter(r -> r instanceof Rejected x && x.message().startsWith("state budget full")).count();
        assertThat(refused).isGreaterThan(50);
        // a replica recovered from the snapshot counts the same bytes and goes on identically
        CoordinationStateMachine c = new CoordinationStateMachine();
        c.recoverFromSnapshot(new ByteArrayInputStream(Harness.snapshotOf(a)));
        assertThat(c.state().stateBytes()).isEqualTo(a.state().stateBytes());
        for (Entry e : load.entries(2_000, 3)) {
            assertThat(c.update(List.of(e))).isEqualTo(a.update(List.of(e)));
        }
        assertThat(c.state().stateBytes()).isEqualTo(a.state().stateBytes()).isEqualTo(Footprint.of(a.state()));
    }

    private static List<Applied> inBatches(CoordinationStateMachine sm, List<Entry> entries, Random r) {
        List<Applied> out = new ArrayList<>();
        for (int i = 0; i < entries.size(); ) {
            int n = Math.min(entries.size() - i, 1 + r.nextInt(16));
            out.addAll(sm.update(entries.subList(i, i + n)));
            i += n;
        }
        return out;
    }

    @Test
    void theBudgetTravelsInSetLimitsAndAnOldSetLimitsGetsTheDefault() {
        Limits l = Limits.defaults().toBuilder().maxStateBytes(123_456_789).build();
        assertThat(CommandCodec.decodeBatch(CommandCodec.encodeBatch(List.of(new SetLimits(l)))))
                .containsExactly(new SetLimits(l));
        // a SetLimits as written before the budget existed (tag 5, no budget field)
        BinaryWriter w = new BinaryWriter();
        w.u8(CommandCodec.BATCH_VERSION).varint(1).u8(5);
        CommandCodec.encodeLimitsV1(w, l);
        List<Command> old = CommandCodec.decodeBatch(w.toByteArray());
        assertThat(old).containsExactly(new SetLimits(l.toBuilder().maxStateBytes(Limits.DEFAULT_MAX_STATE_BYTES).build()));
        // and the answer to one, kept in a window (result tag 6)
        BinaryWriter rw = new BinaryWriter();
        rw.u8(6);
        CommandCodec.encodeLimitsV1(rw, l);
        BinaryReader rr = new BinaryReader(rw.toByteArray());
        assertThat(CommandCodec.decodeResult(rr)).isEqualTo(new Result.LimitsSet(
                l.toBuilder().maxStateBytes(Limits.DEFAULT_MAX_STATE_BYTES).build()));
        // lowering the budget below what is stored refuses new things but keeps the stored ones
        Harness h = new Harness();
        h.apply(new QueueEnqueue(0, 0, "q", "i", Bytes.wrap(new byte[100]), List.of()), QueueReply.class);
        h.apply(new SetLimits(Limits.defaults().toBuilder().maxStateBytes(10).build()));
        assertRejected(h.apply(new QueueEnqueue(0, 0, "q", "j", Bytes.EMPTY, List.of())), ErrorCode.LIMIT_EXCEEDED);
        assertThat(h.lookup(new Query.GetQueue("q")).items()).hasSize(1);
    }

    @Test
    void aVersion3SnapshotIsReadWithTheDefaultBudgetAndTheSameCount() throws Exception {
        Harness h = withBudget(1L << 30);
        long s = h.open();
        h.apply(new EventBegin(s, 1, "e"), EventReply.class);
        h.apply(new QueueEnqueue(s, 2, "q", "i", Bytes.wrap(new byte[10]), List.of("e")), QueueReply.class);
        byte[] v3 = LimitsAndCodecTest.snapshotBytes(h.sm().state(), 3);
        assertThat(v3[7]).isEqualTo((byte) 3);
        CoordinationStateMachine copy = new CoordinationStateMachine();
        copy.recoverFromSnapshot(new ByteArrayInputStream(v3));
        assertThat(copy.state().stateBytes()).isEqualTo(h.sm().state().stateBytes());
        assertThat(copy.state().limits().maxStateBytes()).isEqualTo(Limits.DEFAULT_MAX_STATE_BYTES);
        // no fingerprints in a v3 window: a retry with any command gets the remembered answer, as before
        Result retried = copy.update(List.of(Entry.of(h.lastIndex() + 1, h.now(), new EventBegin(s, 1, "other"))))
                .get(0).results().get(0);
        assertThat(retried).isEqualTo(new EventReply(Result.EventStatus.BEGUN, "e"));
    }
}
