package dev.baton.core.queue;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.ClaimedItem;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueDone;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Command.QueueRetry;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.EventStatus;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.QueueStatus;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.testing.Harness;

import static dev.baton.core.testing.TestResults.assertRejected;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.function.LongFunction;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Events (ManifoldCF IEventActivity, docs/design.md) and the gated work queues built on them:
 * items are claimed oldest first, one session each, never while a prerequisite event is pending.
 */
class EventsAndQueuesTest {

    private static final String Q = "docs";

    // ---- events ----------------------------------------------------------------------------

    @Test
    void beginMakesTheEventPendingOnceThenAlreadyPending() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        h.advance(250);

        assertThat(h.apply(new EventBegin(s1, 0, "robots:host"), EventReply.class))
                .isEqualTo(new EventReply(EventStatus.BEGUN, "robots:host"));
        long began = h.now();
        assertThat(h.lookup(new Query.GetEvent("robots:host"))).isEqualTo(new View.Event("robots:host", s1, began));
        assertThat(h.lookup(new Query.GetSession(s1)).events()).containsExactly("robots:host");

        h.advance(100);
        byte[] before = h.essence();
        for (long s : new long[] {s1, s2}) {
            assertThat(h.apply(new EventBegin(s, 0, "robots:host"), EventReply.class))
                    .as("begin by session %d", s).isEqualTo(new EventReply(EventStatus.ALREADY_PENDING, "robots:host"));
        }
        assertThat(h.essence()).as("ALREADY_PENDING changes nothing").isEqualTo(before);
        assertThat(h.lookup(new Query.GetEvent("robots:host")).owner()).isEqualTo(s1);
        assertThat(h.lookup(new Query.GetSession(s2)).events()).isEmpty();
    }

    @Test
    void completeIsIdempotentUncheckedAndAnnouncedOnce() {
        Harness h = new Harness();
        long owner = h.open();
        long stranger = h.open();
        h.apply(new EventBegin(owner, 0, "e"), EventReply.class);
        h.takeEffects();

        // no ownership check (as ManifoldCF): another session may complete it
        assertThat(h.apply(new EventComplete(stranger, 0, "e"), EventReply.class))
                .isEqualTo(new EventReply(EventStatus.COMPLETED, "e"));
        assertThat(h.takeEffects()).containsExactly(new Effect.EventCompleted("e"));
        assertThat(h.lookup(new Query.GetEvent("e"))).isNull();
        assertThat(h.lookup(new Query.GetSession(owner)).events()).as("the owner no longer owns it").isEmpty();

        byte[] before = h.essence();
        assertThat(h.apply(new EventComplete(stranger, 0, "e"), EventReply.class))
                .isEqualTo(new EventReply(EventStatus.NOT_PENDING, "e"));
        assertThat(h.apply(new EventComplete(0, 0, "e"), EventReply.class))
                .isEqualTo(new EventReply(EventStatus.NOT_PENDING, "e"));
        assertThat(h.apply(new EventComplete(0, 0, "never-begun"), EventReply.class))
                .isEqualTo(new EventReply(EventStatus.NOT_PENDING, "never-begun"));
        assertThat(h.takeEffects()).as("nothing completed, nothing announced").isEmpty();
        assertThat(h.essence()).isEqualTo(before);

        // completed means it can be begun again, by anyone
        assertThat(h.apply(new EventBegin(stranger, 0, "e"), EventReply.class).status()).isEqualTo(EventStatus.BEGUN);
        assertThat(h.lookup(new Query.GetEvent("e")).owner()).isEqualTo(stranger);
    }

    @Test
    void completeWithoutASessionWorks() {
        Harness h = new Harness();
        long s = h.open();
        h.apply(new EventBegin(s, 0, "e"), EventReply.class);
        assertThat(h.apply(new EventComplete(0, 0, "e"), EventReply.class).status()).isEqualTo(EventStatus.COMPLETED);
        assertThat(h.lookup(new Query.ListEvents())).isEmpty();
    }

    @Test
    void beginNeedsALiveSession() {
        Harness h = new Harness();
        byte[] before = h.essence();
        assertRejected(h.apply(new EventBegin(0, 0, "e")), ErrorCode.UNKNOWN_SESSION);
        assertRejected(h.apply(new EventBegin(42, 0, "e")), ErrorCode.UNKNOWN_SESSION);
        assertThat(h.essence()).isEqualTo(before);
        assertThat(h.lookup(new Query.ListEvents())).isEmpty();
    }

    // ---- FIFO claims ---------------------------------------------------------------------------

    @Test
    void claimsAreOldestFirstAndEachItemGoesToOneSession() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        long s3 = h.open();
        for (String id : List.of("d1", "d2", "d3", "d4", "d5")) {
            assertThat(enqueue(h, id).status()).isEqualTo(QueueStatus.ENQUEUED);
            h.advance(10);
        }
        assertThat(queue(h).ready()).isEqualTo(5);

        QueueReply c1 = claim(h, s1, 2);
        QueueReply c2 = claim(h, s2, 2);
        QueueReply c3 = claim(h, s3, 5);
        QueueReply c4 = claim(h, s1, 5);

        assertThat(c1.status()).isEqualTo(QueueStatus.CLAIMED);
        assertThat(ids(c1)).containsExactly("d1", "d2");
        assertThat(ids(c2)).containsExactly("d3", "d4");
        assertThat(ids(c3)).containsExactly("d5");
        assertThat(c4.items()).isEmpty();
        for (QueueReply r : List.of(c1, c2, c3)) {
            for (ClaimedItem it : r.items()) {
                assertThat(it.queue()).isEqualTo(Q);
                assertThat(it.payload()).isEqualTo(Bytes.utf8("payload of " + it.item()));
                assertThat(it.attempts()).isEqualTo(1);
                assertThat(it.fence()).isPositive();
            }
        }
        View.Queue q = queue(h);
        assertThat(q.ready()).isZero();
        assertThat(q.items()).extracting(View.Item::id).containsExactly("d1", "d2", "d3", "d4", "d5");
        assertThat(q.items()).extracting(View.Item::claimedBy).containsExactly(s1, s1, s2, s2, s3);
        assertThat(h.lookup(new Query.GetSession(s2)).claimedItems()).containsExactly(Q + "/d3", Q + "/d4");
    }

    @Test
    void claimsInOneEntryAreDisjoint() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        enqueue(h, "a");
        enqueue(h, "b");
        enqueue(h, "c");
        Applied a = h.entry(new QueueClaim(s1, 0, Q, 2), new QueueClaim(s2, 0, Q, 2));
        assertThat(ids((QueueReply) a.results().get(0))).containsExactly("a", "b");
        assertThat(ids((QueueReply) a.results().get(1))).containsExactly("c");
    }

    @Test
    void claimingAnUnknownQueueGivesNothing() {
        Harness h = new Harness();
        long s = h.open();
        byte[] before = h.essence();
        QueueReply r = claim(h, s, 3);
        assertThat(r).isEqualTo(new QueueReply(QueueStatus.CLAIMED, List.of()));
        assertThat(h.essence()).isEqualTo(before);
    }

    // ---- gating by prerequisite events ---------------------------------------------------------

    @Test
    void anItemWithAnyPendingPrerequisiteIsHeldBackUntilTheLastOneCompletes() {
        Harness h = new Harness();
        long owner = h.open();
        long worker = h.open();
        h.apply(new EventBegin(owner, 0, "robots"), EventReply.class);
        h.apply(new EventBegin(owner, 0, "login"), EventReply.class);
        h.takeEffects();

        enqueue(h, "gated", "robots", "login");
        assertThat(h.takeEffects()).as("a gated item is not announced").isEmpty();
        enqueue(h, "free");
        assertThat(h.takeEffects()).containsExactly(new Effect.QueueClaimable(Q));
        assertThat(item(h, "gated").pendingPrerequisites()).isEqualTo(2);
        assertThat(queue(h).ready()).isEqualTo(1);

        assertThat(ids(claim(h, worker, 10))).containsExactly("free");

        h.apply(new EventComplete(0, 0, "robots"), EventReply.class);
        assertThat(h.takeEffects()).containsExactly(new Effect.EventCompleted("robots"));
        assertThat(item(h, "gated").pendingPrerequisites()).isEqualTo(1);
        assertThat(claim(h, worker, 10).items()).as("one prerequisite still pending").isEmpty();

        h.apply(new EventComplete(0, 0, "login"), EventReply.class);
        assertThat(h.takeEffects()).containsExactly(new Effect.EventCompleted("login"), new Effect.QueueClaimable(Q));
        assertThat(item(h, "gated").pendingPrerequisites()).isZero();
        assertThat(ids(claim(h, worker, 10))).containsExactly("gated");
    }

    @Test
    void anEventBegunAfterEnqueueHoldsBackItsUnclaimedItems() {
        Harness h = new Harness();
        long owner = h.open();
        long worker = h.open();
        enqueue(h, "x", "dns");
        enqueue(h, "y");
        assertThat(queue(h).ready()).isEqualTo(2);

        h.apply(new EventBegin(owner, 0, "dns"), EventReply.class);
        assertThat(queue(h).ready()).isEqualTo(1);
        assertThat(ids(claim(h, worker, 10))).containsExactly("y");

        h.apply(new EventComplete(owner, 0, "dns"), EventReply.class);
        assertThat(ids(claim(h, worker, 10))).containsExactly("x");
    }

    @Test
    void prerequisitesThatWereNeverBegunDoNotGate() {
        Harness h = new Harness();
        long s = h.open();
        enqueue(h, "x", "never-begun", "also-never");
        assertThat(item(h, "x").pendingPrerequisites()).isZero();
        assertThat(item(h, "x").prerequisites()).containsExactly("also-never", "never-begun");
        assertThat(h.takeEffects()).containsExactly(new Effect.QueueClaimable(Q));
        assertThat(ids(claim(h, s, 1))).containsExactly("x");
    }

    @Test
    void duplicatePrerequisitesCountOnce() {
        Harness h = new Harness();
        long s = h.open();
        h.apply(new EventBegin(s, 0, "e"), EventReply.class);
        enqueue(h, "x", "e", "e", "e");
        assertThat(item(h, "x").prerequisites()).containsExactly("e");
        assertThat(item(h, "x").pendingPrerequisites()).isEqualTo(1);
        h.apply(new EventComplete(s, 0, "e"), EventReply.class);
        assertThat(ids(claim(h, s, 1))).containsExactly("x");
    }

    @Test
    void queueClaimableIsAnnouncedOncePerQueuePerEntry() {
        Harness h = new Harness();
        long owner = h.open();
        h.apply(new EventBegin(owner, 0, "e"), EventReply.class);
        for (String id : List.of("a1", "a2", "a3")) {
            h.apply(new QueueEnqueue(0, 0, "qa", id, Bytes.EMPTY, List.of("e")), QueueReply.class);
        }
        for (String id : List.of("b1", "b2")) {
            h.apply(new QueueEnqueue(0, 0, "qb", id, Bytes.EMPTY, List.of("e")), QueueReply.class);
        }
        h.apply(new QueueEnqueue(0, 0, "qc", "c1", Bytes.EMPTY, List.of("other")), QueueReply.class);
        h.takeEffects();

        Applied a = h.entry(new EventComplete(0, 0, "e"));

        assertThat(a.effects()).filteredOn(e -> e instanceof Effect.QueueClaimable)
                .containsExactlyInAnyOrder(new Effect.QueueClaimable("qa"), new Effect.QueueClaimable("qb"));
        assertThat(a.effects()).containsOnlyOnce(new Effect.EventCompleted("e"));

        // several enqueues in one entry: one announcement; in the next entry: another
        Applied b = h.entry(new QueueEnqueue(0, 0, "qd", "1", Bytes.EMPTY, List.of()),
                new QueueEnqueue(0, 0, "qd", "2", Bytes.EMPTY, List.of()),
                new QueueEnqueue(0, 0, "qd", "3", Bytes.EMPTY, List.of()));
        assertThat(b.effects()).containsExactly(new Effect.QueueClaimable("qd"));
        Applied c = h.entry(new QueueEnqueue(0, 0, "qd", "4", Bytes.EMPTY, List.of()));
        assertThat(c.effects()).containsExactly(new Effect.QueueClaimable("qd"));
    }

    // ---- re-enqueue ------------------------------------------------------------------------------

    @Test
    void reEnqueueReplacesPayloadAndPrerequisitesAndKeepsItsPlace() {
        Harness h = new Harness();
        long owner = h.open();
        long worker = h.open();
        h.apply(new EventBegin(owner, 0, "old"), EventReply.class);
        enqueue(h, "a", "old");
        enqueue(h, "b");
        enqueue(h, "c");
        long seqA = item(h, "a").seq();
        long enqueuedAt = item(h, "a").enqueuedAt();
        h.advance(1_000);

        QueueReply r = h.apply(new QueueEnqueue(0, 0, Q, "a", Bytes.utf8("v2"), List.of("new")), QueueReply.class);

        assertThat(r.status()).isEqualTo(QueueStatus.REPLACED);
        View.Item a = item(h, "a");
        assertThat(a.seq()).isEqualTo(seqA);
        assertThat(a.enqueuedAt()).isEqualTo(enqueuedAt);
        assertThat(a.payload()).isEqualTo(Bytes.utf8("v2"));
        assertThat(a.prerequisites()).containsExactly("new");
        assertThat(a.pendingPrerequisites()).as("'new' was never begun").isZero();
        assertThat(queue(h).items()).extracting(View.Item::id).containsExactly("a", "b", "c");

        // 'old' no longer gates a; 'new' does
        h.apply(new EventComplete(0, 0, "old"), EventReply.class);
        h.apply(new EventBegin(owner, 0, "old"), EventReply.class);
        assertThat(item(h, "a").pendingPrerequisites()).isZero();
        h.apply(new EventBegin(owner, 0, "new"), EventReply.class);
        assertThat(item(h, "a").pendingPrerequisites()).isEqualTo(1);
        h.apply(new EventComplete(0, 0, "new"), EventReply.class);

        QueueReply claimed = claim(h, worker, 3);
        assertThat(ids(claimed)).as("a kept its place at the front").containsExactly("a", "b", "c");
        assertThat(claimed.items().get(0).payload()).isEqualTo(Bytes.utf8("v2"));
    }

    @Test
    void reEnqueueOfAReadyItemWithAPendingPrerequisiteGatesIt() {
        Harness h = new Harness();
        long owner = h.open();
        long worker = h.open();
        h.apply(new EventBegin(owner, 0, "e"), EventReply.class);
        enqueue(h, "a");
        enqueue(h, "b");
        assertThat(queue(h).ready()).isEqualTo(2);
        h.apply(new QueueEnqueue(0, 0, Q, "a", Bytes.EMPTY, List.of("e")), QueueReply.class);
        assertThat(queue(h).ready()).isEqualTo(1);
        assertThat(ids(claim(h, worker, 5))).containsExactly("b");
    }

    @Test
    void reEnqueueOfAClaimedItemKeepsTheClaim() {
        Harness h = new Harness();
        long worker = h.open();
        long other = h.open();
        enqueue(h, "a");
        enqueue(h, "b");
        ClaimedItem a = claim(h, worker, 1).items().get(0);

        QueueReply r = h.apply(new QueueEnqueue(0, 0, Q, "a", Bytes.utf8("v2"), List.of()), QueueReply.class);

        assertThat(r.status()).isEqualTo(QueueStatus.REPLACED);
        View.Item it = item(h, "a");
        assertThat(it.claimedBy()).isEqualTo(worker);
        assertThat(it.fence()).isEqualTo(a.fence());
        assertThat(it.attempts()).isEqualTo(1);
        assertThat(it.payload()).isEqualTo(Bytes.utf8("v2"));
        assertThat(ids(claim(h, other, 5))).as("still claimed: not handed out again").containsExactly("b");
        assertThat(h.apply(new QueueDone(worker, 0, Q, "a", a.fence()), QueueReply.class).status())
                .isEqualTo(QueueStatus.DONE);
    }

    // ---- retry and done ------------------------------------------------------------------------

    @Test
    void retryPutsTheItemAtTheBackUnclaimedAndCountsAttempts() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        enqueue(h, "a");
        enqueue(h, "b");
        enqueue(h, "c");
        ClaimedItem a = claim(h, s1, 1).items().get(0);
        assertThat(a.item()).isEqualTo("a");
        h.takeEffects();

        QueueReply r = h.apply(new QueueRetry(s1, 0, Q, "a", a.fence()), QueueReply.class);

        assertThat(r.status()).isEqualTo(QueueStatus.REQUEUED);
        assertThat(h.takeEffects()).containsExactly(new Effect.QueueClaimable(Q));
        View.Item it = item(h, "a");
        assertThat(it.claimedBy()).isZero();
        assertThat(it.fence()).isZero();
        assertThat(it.attempts()).isEqualTo(1);
        assertThat(queue(h).items()).extracting(View.Item::id).containsExactly("b", "c", "a");
        assertThat(h.lookup(new Query.GetSession(s1)).claimedItems()).isEmpty();

        QueueReply again = claim(h, s2, 3);
        assertThat(ids(again)).containsExactly("b", "c", "a");
        ClaimedItem a2 = again.items().get(2);
        assertThat(a2.attempts()).isEqualTo(2);
        assertThat(a2.fence()).isGreaterThan(a.fence());

        // the first claim's fence is stale now, even for the original session
        assertRejected(h.apply(new QueueDone(s1, 0, Q, "a", a.fence())), ErrorCode.STALE_FENCE);
        h.apply(new QueueRetry(s2, 0, Q, "a", a2.fence()), QueueReply.class);
        assertThat(claim(h, s1, 1).items().get(0).attempts()).isEqualTo(3);
    }

    @Test
    void doneRemovesTheItemAndAnEmptyQueueDisappears() {
        Harness h = new Harness();
        long s = h.open();
        enqueue(h, "a", "e");
        enqueue(h, "b");
        QueueReply c = claim(h, s, 2);
        for (ClaimedItem it : c.items()) {
            assertThat(h.apply(new QueueDone(s, 0, Q, it.item(), it.fence()), QueueReply.class).status())
                    .isEqualTo(QueueStatus.DONE);
        }
        assertThat(h.lookup(new Query.GetQueue(Q))).isNull();
        assertThat(h.lookup(new Query.GetSession(s)).claimedItems()).isEmpty();
        assertThat(h.lookup(new Query.GetSummary()).queues()).isZero();
        // a later begin of the former prerequisite has nothing to gate, and a done item is gone for good
        assertThat(h.apply(new EventBegin(s, 0, "e"), EventReply.class).status()).isEqualTo(EventStatus.BEGUN);
        assertRejected(h.apply(new QueueDone(s, 0, Q, "a", c.items().get(0).fence())), ErrorCode.NOT_FOUND);
        // enqueuing the same id again is a new item
        assertThat(enqueue(h, "a").status()).isEqualTo(QueueStatus.ENQUEUED);
        assertThat(item(h, "a").pendingPrerequisites()).isZero();
    }

    /** done or retry that the session has no right to. */
    record Refused(String name, boolean otherSession, long fenceDelta, boolean unclaimed, String item,
                   String queue, ErrorCode code) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Refused> refusals() {
        return Stream.of(
                new Refused("another session, right fence", true, 0, false, "a", Q, ErrorCode.STALE_FENCE),
                new Refused("wrong fence", false, 1, false, "a", Q, ErrorCode.STALE_FENCE),
                new Refused("item not claimed", false, 0, true, "a", Q, ErrorCode.STALE_FENCE),
                new Refused("unknown item", false, 0, false, "zz", Q, ErrorCode.NOT_FOUND),
                new Refused("unknown queue", false, 0, false, "a", "nope", ErrorCode.NOT_FOUND));
    }

    @ParameterizedTest(name = "done: {0}")
    @MethodSource("refusals")
    void doneIsRefused(Refused c) {
        refused(c, (s, f) -> new QueueDone(s, 0, c.queue(), c.item(), f));
    }

    @ParameterizedTest(name = "retry: {0}")
    @MethodSource("refusals")
    void retryIsRefused(Refused c) {
        refused(c, (s, f) -> new QueueRetry(s, 0, c.queue(), c.item(), f));
    }

    private void refused(Refused c, java.util.function.BiFunction<Long, Long, Command> cmd) {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        enqueue(h, "a");
        enqueue(h, "b");
        long fence = claim(h, s1, 1).items().get(0).fence(); // s1 claims a
        if (c.unclaimed()) {
            h.apply(new QueueRetry(s1, 0, Q, "a", fence), QueueReply.class); // and gives it back
        }
        byte[] before = h.essence();
        View.Queue q = queue(h);

        Result r = h.apply(cmd.apply(c.otherSession() ? s2 : s1, fence + c.fenceDelta()));

        assertRejected(r, c.code());
        assertThat(queue(h)).isEqualTo(q);
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void doneAndRetryNeedALiveSession() {
        Harness h = new Harness();
        long s = h.open();
        enqueue(h, "a");
        ClaimedItem a = claim(h, s, 1).items().get(0);
        byte[] before = h.essence();
        assertRejected(h.apply(new QueueDone(0, 0, Q, "a", a.fence())), ErrorCode.UNKNOWN_SESSION);
        assertRejected(h.apply(new QueueRetry(0, 0, Q, "a", a.fence())), ErrorCode.UNKNOWN_SESSION);
        assertRejected(h.apply(new QueueClaim(0, 0, Q, 1)), ErrorCode.UNKNOWN_SESSION);
        assertThat(h.essence()).isEqualTo(before);
    }

    // ---- the session ends ----------------------------------------------------------------------

    static Stream<Arguments> sessionEnders() {
        return Stream.of(
                Arguments.of("CloseSession", (LongFunction<Command>) s -> new CloseSession(s, 0), false),
                Arguments.of("ExpireSessions", (LongFunction<Command>) s -> new ExpireSessions(List.of(s)), true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sessionEnders")
    void sessionEndCompletesItsEventsAndReturnsItsItemsToTheirPlaces(String how, LongFunction<Command> end,
                                                                     boolean expired) {
        Harness h = new Harness();
        long dying = h.open();
        long eventOwner = h.open();
        long survivor = h.open();
        h.apply(new EventBegin(dying, 0, "login"), EventReply.class);
        h.apply(new EventBegin(eventOwner, 0, "robots"), EventReply.class);
        enqueue(h, "a");
        enqueue(h, "b");
        enqueue(h, "c");
        enqueue(h, "gated-by-login", "login");
        enqueue(h, "gated-by-robots", "robots");
        QueueReply mine = claim(h, dying, 2);
        assertThat(ids(mine)).containsExactly("a", "b");
        ClaimedItem c = claim(h, survivor, 1).items().get(0);
        assertThat(c.item()).isEqualTo("c");
        h.takeEffects();

        Applied applied = h.entry(end.apply(dying));

        assertThat(applied.effects()).containsOnlyOnce(new Effect.EventCompleted("login"),
                new Effect.SessionEnded(dying, expired), new Effect.QueueClaimable(Q));
        assertThat(h.lookup(new Query.GetEvent("login"))).isNull();
        assertThat(h.lookup(new Query.GetEvent("robots")).owner()).as("others' events stay").isEqualTo(eventOwner);
        View.Queue q = queue(h);
        assertThat(q.items()).extracting(View.Item::id)
                .as("a and b are back at their original places")
                .containsExactly("a", "b", "c", "gated-by-login", "gated-by-robots");
        assertThat(item(h, "a").claimedBy()).isZero();
        assertThat(item(h, "b").claimedBy()).isZero();
        assertThat(item(h, "c").claimedBy()).isEqualTo(survivor);
        assertThat(q.ready()).isEqualTo(3); // a, b, gated-by-login

        long fresh = h.open();
        QueueReply next = claim(h, fresh, 10);
        assertThat(ids(next)).containsExactly("a", "b", "gated-by-login");
        assertThat(next.items()).extracting(ClaimedItem::attempts).containsExactly(2, 2, 1);
        // the surviving claim is untouched
        assertThat(h.apply(new QueueDone(survivor, 0, Q, "c", c.fence()), QueueReply.class).status())
                .isEqualTo(QueueStatus.DONE);
    }

    @Test
    void eventsAndQueuesSurviveASnapshot() {
        Harness h = new Harness();
        long s = h.open();
        h.apply(new EventBegin(s, 0, "e"), EventReply.class);
        enqueue(h, "a", "e");
        enqueue(h, "b");
        enqueue(h, "c");
        claim(h, s, 1);
        CoordinationStateMachine copy = h.recoverCopy();
        assertThat(copy.lookup(new Query.GetQueue(Q))).isEqualTo(queue(h));
        assertThat(copy.lookup(new Query.ListEvents())).isEqualTo(h.lookup(new Query.ListEvents()));
        // the derived indexes (ready list, event -> items) are rebuilt: completing e ungates a in the copy
        var entry = dev.baton.core.sm.Entry.of(h.lastIndex() + 1, h.now(), new EventComplete(0, 0, "e"),
                new QueueClaim(s, 0, Q, 5));
        Applied x = h.sm().update(List.of(entry)).get(0);
        Applied y = copy.update(List.of(entry)).get(0);
        assertThat(y).isEqualTo(x);
        assertThat(ids((QueueReply) y.results().get(1))).containsExactly("a", "c");
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static QueueReply enqueue(Harness h, String item, String... prerequisites) {
        return h.apply(new QueueEnqueue(0, 0, Q, item, Bytes.utf8("payload of " + item), List.of(prerequisites)),
                QueueReply.class);
    }

    private static QueueReply claim(Harness h, long session, int max) {
        return h.apply(new QueueClaim(session, 0, Q, max), QueueReply.class);
    }

    private static List<String> ids(QueueReply r) {
        return r.items().stream().map(ClaimedItem::item).toList();
    }

    private static View.Queue queue(Harness h) {
        View.Queue q = h.lookup(new Query.GetQueue(Q));
        assertThat(q).as("queue " + Q).isNotNull();
        return q;
    }

    private static View.Item item(Harness h, String id) {
        return queue(h).items().stream().filter(i -> i.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no item " + id));
    }


}
