package dev.baton.core.session;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.DispatchAdvance;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.DispatchLock;
import dev.baton.core.command.Command.DispatchRelease;
import dev.baton.core.command.Command.DispatchSelect;
import dev.baton.core.command.Command.DispatchSetDisabled;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.OpenSessionThen;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueDone;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Command.QueueRetry;
import dev.baton.core.command.Command.SetLimits;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.DispatchReply;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.EventStatus;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.Rejected;
import dev.baton.core.command.Result.SessionClosed;
import dev.baton.core.command.Result.SessionOpened;
import dev.baton.core.command.Result.SessionsExpired;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;

import static dev.baton.core.testing.TestResults.assertRejected;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;
import java.util.function.ToLongFunction;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Session lifecycle and the idempotency of session requests (docs/design.md, rules 3 and 5). */
class SessionsAndIdempotencyTest {

    // ---- opening -------------------------------------------------------------------------------

    static Stream<Arguments> ttls() {
        Limits d = Limits.defaults();
        return Stream.of(
                Arguments.of(d.minSessionTtlMs() - 1, false),
                Arguments.of(d.minSessionTtlMs(), true),
                Arguments.of(d.minSessionTtlMs() + 1, true),
                Arguments.of(d.maxSessionTtlMs() - 1, true),
                Arguments.of(d.maxSessionTtlMs(), true),
                Arguments.of(d.maxSessionTtlMs() + 1, false),
                Arguments.of(0L, false),
                Arguments.of(-1L, false),
                Arguments.of(Long.MIN_VALUE, false),
                Arguments.of(Long.MAX_VALUE, false));
    }

    @ParameterizedTest(name = "ttl {0} accepted: {1}")
    @MethodSource("ttls")
    void openSessionTtlMustBeWithinTheLimits(long ttl, boolean accepted) {
        Harness h = new Harness();
        long first = h.open();
        byte[] before = h.essence();

        Result r = h.apply(new OpenSession(null, ttl));

        if (accepted) {
            assertThat(r).isEqualTo(new SessionOpened(first + 1, ttl, false, 1));
            assertThat(h.lookup(new Query.GetSession(first + 1)).ttlMs()).isEqualTo(ttl);
            assertThat(h.lookup(new Query.ListSessionLeases()))
                    .containsExactly(new View.SessionLease(first, 10_000), new View.SessionLease(first + 1, ttl));
        } else {
            assertRejected(r, ErrorCode.INVALID_ARGUMENT);
            assertThat(((Result.Rejected) r).message())
                    .contains(Long.toString(Limits.defaults().minSessionTtlMs()))
                    .contains(Long.toString(Limits.defaults().maxSessionTtlMs()));
            assertThat(h.essence()).isEqualTo(before);
            // no session id was used up
            assertThat(h.open()).isEqualTo(first + 1);
        }
    }

    @Test
    void ttlBoundsFollowTheConfiguredLimits() {
        Harness h = new Harness();
        h.apply(new SetLimits(Limits.defaults().toBuilder().minSessionTtlMs(50).maxSessionTtlMs(500).build()));
        assertRejected(h.apply(new OpenSession(null, 49)), ErrorCode.INVALID_ARGUMENT);
        assertThat(h.apply(new OpenSession(null, 50))).isInstanceOf(SessionOpened.class);
        assertThat(h.apply(new OpenSession(null, 500))).isInstanceOf(SessionOpened.class);
        assertRejected(h.apply(new OpenSession(null, 501)), ErrorCode.INVALID_ARGUMENT);
        assertRejected(h.apply(new OpenSession(null, 10_000)), ErrorCode.INVALID_ARGUMENT);
    }

    @Test
    void aClientTokenMakesOpeningIdempotentWhileTheSessionLives() {
        Harness h = new Harness();
        SessionOpened a = h.apply(new OpenSession("client-a", 5_000), SessionOpened.class);
        assertThat(a.existing()).isFalse();
        assertThat(a.ttlMs()).isEqualTo(5_000);
        h.advance(1_000);
        byte[] before = h.essence();

        SessionOpened again = h.apply(new OpenSession("client-a", 9_000), SessionOpened.class);

        long window = Limits.defaults().maxRememberedRequests();
        assertThat(again).isEqualTo(new SessionOpened(a.session(), 5_000, true, window + 1));
        assertThat(h.essence()).as("opening again changes nothing").isEqualTo(before);
        assertThat(h.lookup(new Query.GetSession(a.session())).token()).isEqualTo("client-a");

        SessionOpened b = h.apply(new OpenSession("client-b", 5_000), SessionOpened.class);
        assertThat(b.session()).isNotEqualTo(a.session());
        assertThat(b.existing()).isFalse();
        SessionOpened anon1 = h.apply(new OpenSession(null, 5_000), SessionOpened.class);
        SessionOpened anon2 = h.apply(new OpenSession(null, 5_000), SessionOpened.class);
        assertThat(anon1.session()).as("no token: every open is a new session").isNotEqualTo(anon2.session());
        assertThat(h.lookup(new Query.GetSummary()).sessions()).isEqualTo(4);

        // the token is part of the replicated state
        CoordinationStateMachine copy = h.recoverCopy();
        Applied fromCopy = copy.update(List.of(Entry.of(h.lastIndex() + 1, h.now(), new OpenSession("client-a", 5_000))))
                .get(0);
        assertThat(fromCopy.results()).containsExactly(new SessionOpened(a.session(), 5_000, true, window + 1));
    }

    @Test
    void aClientTakingOverATokenStartsPastEveryRequestIdTheSessionUsed() {
        Harness h = new Harness();
        h.apply(new SetLimits(Limits.defaults().toBuilder().maxRememberedRequests(20).build()));
        SessionOpened first = h.apply(new OpenSession("worker-7", 5_000), SessionOpened.class);
        assertThat(first.nextRequestId()).isEqualTo(1);
        long s = first.session();
        // more requests than the window holds, so the oldest ids are forgotten (the floor rises)
        for (int i = 1; i <= 25; i++) {
            PoolReply got = h.apply(new PoolAcquire(s, 2 * i - 1, "a" + i, 1, 5, 0, false), PoolReply.class);
            assertThat(got.status()).isEqualTo(PoolStatus.LOCKED);
            h.apply(new PoolRelease(s, 2 * i, "a" + i, got.fence()), PoolReply.class);
        }
        assertRejected(h.apply(new PoolAcquire(s, 1, "a1", 1, 5, 0, false)), ErrorCode.REQUEST_TOO_OLD);
        // what starting again at 1 would do: id 39 was the acquire of "a20", so an acquire of "b" is refused
        assertRejected(h.apply(new PoolAcquire(s, 39, "b", 1, 5, 0, false)), ErrorCode.INVALID_ARGUMENT);

        SessionOpened taken = h.apply(new OpenSession("worker-7", 5_000), SessionOpened.class);

        assertThat(taken.existing()).isTrue();
        assertThat(taken.nextRequestId()).as("past id 50 and a whole window of 20").isEqualTo(71);
        assertThat(h.lookup(new Query.GetPool("b"))).as("no pool b: the acquire was not executed").isNull();
        // the new client's first request is executed, not answered with what id 1..50 got
        PoolReply b = h.apply(new PoolAcquire(s, taken.nextRequestId(), "b", 1, 5, 0, false), PoolReply.class);
        assertThat(b.status()).isEqualTo(PoolStatus.LOCKED);
        assertThat(b.key()).isEqualTo("b");
        assertThat(h.lookup(new Query.GetPool("b")).processing()).isEqualTo(1);
        // a request still in flight from the previous client (id 51, within its window) is its own
        PoolReply late = h.apply(new PoolAcquire(s, 51, "a51", 1, 5, 0, false), PoolReply.class);
        assertThat(late.key()).isEqualTo("a51");

        // a replica recovered from a snapshot computes the same id
        SessionOpened again = h.apply(new OpenSession("worker-7", 5_000), SessionOpened.class);
        CoordinationStateMachine copy = h.recoverCopy();
        Applied fromCopy = copy.update(List.of(Entry.of(h.lastIndex() + 1, h.now(), new OpenSession("worker-7", 5_000))))
                .get(0);
        assertThat(again.nextRequestId()).as("past id 71, the new client's first, and a window").isEqualTo(71 + 20 + 1);
        assertThat(fromCopy.results()).containsExactly(again);
    }

    static Stream<Arguments> enders() {
        return Stream.of(
                Arguments.of("CloseSession", (LongFunction<Command>) s -> new CloseSession(s, 0)),
                Arguments.of("ExpireSessions", (LongFunction<Command>) s -> new ExpireSessions(List.of(s))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("enders")
    void aTokenIsFreedWhenItsSessionEnds(String how, LongFunction<Command> end) {
        Harness h = new Harness();
        SessionOpened a = h.apply(new OpenSession("client-a", 5_000), SessionOpened.class);
        h.apply(end.apply(a.session()));
        SessionOpened reopened = h.apply(new OpenSession("client-a", 7_000), SessionOpened.class);
        assertThat(reopened.existing()).isFalse();
        assertThat(reopened.session()).isNotEqualTo(a.session());
        assertThat(reopened.ttlMs()).isEqualTo(7_000);
    }

    // ---- closing and expiring --------------------------------------------------------------------

    @Test
    void closeTwiceAnswersSessionClosedBothTimesButEndsOnce() {
        Harness h = new Harness();
        long s = h.open();
        long other = h.open();
        h.takeEffects();

        assertThat(h.apply(new CloseSession(s, 0))).isEqualTo(new SessionClosed(s));
        assertThat(h.takeEffects()).containsExactly(new Effect.SessionEnded(s, false));
        assertThat(h.lookup(new Query.GetSession(s))).isNull();
        byte[] before = h.essence();

        assertThat(h.apply(new CloseSession(s, 0))).isEqualTo(new SessionClosed(s));
        assertThat(h.apply(new CloseSession(s, 17))).isEqualTo(new SessionClosed(s));
        assertThat(h.takeEffects()).isEmpty();
        assertThat(h.essence()).isEqualTo(before);
        assertThat(h.lookup(new Query.GetSession(other))).isNotNull();
    }

    @ParameterizedTest(name = "session id {0}")
    @ValueSource(longs = {99, 3, 0, -1, Long.MAX_VALUE})
    void closingAnIdNeverIssuedIsUnknownSession(long id) {
        Harness h = new Harness();
        h.open();
        h.open(); // ids 1 and 2 issued; 3 is the next, not yet issued
        h.takeEffects();
        byte[] before = h.essence();
        assertRejected(h.apply(new CloseSession(id, 0)), ErrorCode.UNKNOWN_SESSION);
        assertThat(h.takeEffects()).isEmpty();
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void expireEndsTheListedLiveSessionsIgnoresTheRestAndReportsWhatItEnded() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        long s3 = h.open();
        long closed = h.open();
        h.apply(new CloseSession(closed, 0));
        h.takeEffects();

        SessionsExpired r = h.apply(new ExpireSessions(List.of(s2, 999L, s1, s1, closed, 0L, -3L)),
                SessionsExpired.class);

        assertThat(r.sessions()).containsExactlyInAnyOrder(s1, s2);
        assertThat(h.takeEffects()).containsExactlyInAnyOrder(new Effect.SessionEnded(s1, true),
                new Effect.SessionEnded(s2, true));
        assertThat(h.lookup(new Query.ListSessionLeases())).extracting(View.SessionLease::id).containsExactly(s3);

        byte[] before = h.essence();
        assertThat(h.apply(new ExpireSessions(List.of(s1, s2, 999L)), SessionsExpired.class).sessions()).isEmpty();
        assertThat(h.apply(new ExpireSessions(List.of()), SessionsExpired.class).sessions()).isEmpty();
        assertThat(h.takeEffects()).isEmpty();
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void endingASessionReleasesEverythingItHeld() {
        Harness h = new Harness();
        long s = h.open();
        long waiter = h.open();
        h.apply(new PoolAcquire(s, 0, "k", 1, 5, 0, false), PoolReply.class);
        h.apply(new LockAcquire(s, 0, "L", 0), LockReply.class);
        h.apply(new LockAcquire(waiter, 7, "L", 60_000), LockReply.class);
        h.apply(new EventBegin(s, 0, "e"), EventReply.class);
        h.takeEffects();

        h.apply(new ExpireSessions(List.of(s)));

        List<Effect> effects = h.takeEffects();
        assertThat(effects).contains(new Effect.SessionEnded(s, true), new Effect.EventCompleted("e"));
        Effect.LockWaitEnded granted = effects.stream().filter(e -> e instanceof Effect.LockWaitEnded)
                .map(e -> (Effect.LockWaitEnded) e).findFirst().orElseThrow();
        assertThat(granted.session()).isEqualTo(waiter);
        assertThat(granted.status()).isEqualTo(LockStatus.LOCKED);
        assertThat(h.lookup(new Query.GetPool("k"))).isNull();
        assertThat(h.lookup(new Query.GetLock("L")).holder()).isEqualTo(waiter);
        assertThat(h.lookup(new Query.GetEvent("e"))).isNull();
    }

    // ---- commands naming a session that does not exist -------------------------------------------

    /** Every session request, for a given session id; the targets of each exist (see {@link #world}). */
    static Stream<Arguments> sessionRequests() {
        List<Arguments> out = new ArrayList<>();
        Map<String, LongFunction<Command>> all = new java.util.LinkedHashMap<>();
        all.put("PoolAcquire", s -> new PoolAcquire(s, 1, "fresh-key", 1, 5, 0, false));
        all.put("PoolRelease", s -> new PoolRelease(s, 1, null, 0));
        all.put("LockAcquire", s -> new LockAcquire(s, 1, "fresh-lock", 0));
        all.put("LockRelease", s -> new LockRelease(s, 1, "L", 0));
        all.put("DispatchInit", s -> new DispatchInit(s, 1, "g", Map.of("new", "new"), null));
        all.put("DispatchAdvance", s -> new DispatchAdvance(s, 1, "g", 99));
        all.put("DispatchSelect", s -> new DispatchSelect(s, 1, "g"));
        all.put("DispatchLock", s -> new DispatchLock(s, 1, "g", "t"));
        all.put("DispatchRelease", s -> new DispatchRelease(s, 1, "g", "t", 0, 5));
        all.put("DispatchSetDisabled", s -> new DispatchSetDisabled(s, 1, "g", "t", true));
        all.put("EventBegin", s -> new EventBegin(s, 1, "fresh-event"));
        all.put("EventComplete", s -> new EventComplete(s, 1, "e"));
        all.put("QueueEnqueue", s -> new QueueEnqueue(s, 1, "q", "new", Bytes.EMPTY, List.of()));
        all.put("QueueClaim", s -> new QueueClaim(s, 1, "q", 5));
        all.put("QueueDone", s -> new QueueDone(s, 1, "q", "i", 0));
        all.put("QueueRetry", s -> new QueueRetry(s, 1, "q", "i", 0));
        all.put("CloseSession", s -> new CloseSession(s, 1));
        for (var e : all.entrySet()) {
            out.add(Arguments.of(e.getKey(), e.getValue(), "never issued", (ToLongFunction<Harness>) h -> 1_000));
            out.add(Arguments.of(e.getKey(), e.getValue(), "closed", (ToLongFunction<Harness>) h -> {
                long s = h.open();
                h.apply(new CloseSession(s, 0));
                return s;
            }));
            out.add(Arguments.of(e.getKey(), e.getValue(), "expired", (ToLongFunction<Harness>) h -> {
                long s = h.open();
                h.apply(new ExpireSessions(List.of(s)));
                return s;
            }));
        }
        return out.stream();
    }

    /** A state in which every command of {@link #sessionRequests} would do something for a live session. */
    private static long world(Harness h) {
        long owner = h.open();
        h.apply(new PoolAcquire(owner, 0, "k", 1, 5, 0, false), PoolReply.class);
        h.apply(new LockAcquire(owner, 0, "L", 0), LockReply.class);
        h.apply(new DispatchInit(0, 0, "g", Map.of("t", "t"), new DispatchSettings(0, 0, 1)), DispatchReply.class);
        h.apply(new DispatchAdvance(0, 0, "g", 10), DispatchReply.class);
        h.apply(new EventBegin(owner, 0, "e"), EventReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "i", Bytes.utf8("x"), List.of()), QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "j", Bytes.utf8("y"), List.of()), QueueReply.class);
        h.advance(10);
        return owner;
    }

    @ParameterizedTest(name = "{0} by a {2} session")
    @MethodSource("sessionRequests")
    void aCommandNamingAnUnknownSessionIsRefusedAndChangesNothing(String name, LongFunction<Command> cmd,
                                                                  String kind, ToLongFunction<Harness> deadSession) {
        Harness h = new Harness();
        world(h);
        long dead = deadSession.applyAsLong(h);
        h.takeEffects();
        byte[] before = h.essence();
        View.Summary summary = shape(h.lookup(new Query.GetSummary()));

        Result r = h.apply(cmd.apply(dead));

        if (name.equals("CloseSession") && !kind.equals("never issued")) {
            assertThat(r).as("closing an ended session again is fine").isEqualTo(new SessionClosed(dead));
        } else {
            assertRejected(r, ErrorCode.UNKNOWN_SESSION);
        }
        assertThat(h.takeEffects()).isEmpty();
        assertThat(shape(h.lookup(new Query.GetSummary()))).isEqualTo(summary);
        assertThat(h.essence()).isEqualTo(before);
    }

    static Stream<Arguments> sessionRequired() {
        return sessionRequests().filter(a -> a.get()[2].equals("never issued"))
                .filter(a -> !List.of("DispatchInit", "DispatchAdvance", "DispatchSetDisabled", "EventComplete",
                        "QueueEnqueue").contains((String) a.get()[0]));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sessionRequired")
    void commandsThatHoldSomethingNeedASession(String name, LongFunction<Command> cmd, String kind,
                                               ToLongFunction<Harness> unused) {
        Harness h = new Harness();
        world(h);
        byte[] before = h.essence();
        assertRejected(h.apply(cmd.apply(0)), ErrorCode.UNKNOWN_SESSION);
        assertThat(h.essence()).isEqualTo(before);
    }

    // ---- idempotency ---------------------------------------------------------------------------------

    /**
     * A request that, executed a second time, would give a different answer or change the state.
     * {@code setup} prepares the state for session {@code s} and returns nothing of interest.
     */
    record Idem(String name, java.util.function.BiConsumer<Harness, Long> setup, LongFunction<Command> request,
                Class<? extends Result> firstType) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Idem> idempotentRequests() {
        return Stream.of(
                new Idem("PoolAcquire (again: TIMEOUT, workers 1)", (h, s) -> { },
                        s -> new PoolAcquire(s, 5, "k", 1, 5, 0, false), PoolReply.class),
                new Idem("PoolRelease (again: NOT_LOCKED)",
                        (h, s) -> h.apply(new PoolAcquire(s, 1, "k", 1, 5, 0, false), PoolReply.class),
                        s -> new PoolRelease(s, 5, null, 0), PoolReply.class),
                new Idem("LockAcquire (again: ALREADY_HELD)", (h, s) -> { },
                        s -> new LockAcquire(s, 5, "L", 0), LockReply.class),
                new Idem("LockRelease (again: NOT_HELD)",
                        (h, s) -> h.apply(new LockAcquire(s, 1, "L", 0), LockReply.class),
                        s -> new LockRelease(s, 5, "L", 0), LockReply.class),
                new Idem("EventBegin (again: ALREADY_PENDING)", (h, s) -> { },
                        s -> new EventBegin(s, 5, "e"), EventReply.class),
                new Idem("EventComplete (again: NOT_PENDING)",
                        (h, s) -> h.apply(new EventBegin(s, 1, "e"), EventReply.class),
                        s -> new EventComplete(s, 5, "e"), EventReply.class),
                new Idem("QueueEnqueue (again: REPLACED)", (h, s) -> { },
                        s -> new QueueEnqueue(s, 5, "q", "new", Bytes.utf8("p"), List.of()), QueueReply.class),
                new Idem("QueueClaim (again: the next items)", SessionsAndIdempotencyTest::twoItems,
                        s -> new QueueClaim(s, 5, "q", 1), QueueReply.class),
                new Idem("QueueDone (again: NOT_FOUND)", (h, s) -> {
                    twoItems(h, s);
                    h.apply(new QueueClaim(s, 1, "q", 1), QueueReply.class);
                }, s -> new QueueDone(s, 5, "q", "a", 0), QueueReply.class),
                new Idem("QueueRetry (again: STALE_FENCE)", (h, s) -> {
                    twoItems(h, s);
                    h.apply(new QueueClaim(s, 1, "q", 1), QueueReply.class);
                }, s -> new QueueRetry(s, 5, "q", "a", 0), QueueReply.class),
                new Idem("DispatchSelect (again: another target)", SessionsAndIdempotencyTest::threeTargets,
                        s -> new DispatchSelect(s, 5, "g"), DispatchReply.class),
                new Idem("DispatchLock", SessionsAndIdempotencyTest::threeTargets,
                        s -> new DispatchLock(s, 5, "g", "a"), DispatchReply.class),
                new Idem("DispatchRelease (again: STALE_FENCE)", (h, s) -> {
                    threeTargets(h, s);
                    h.apply(new DispatchLock(s, 1, "g", "a"), DispatchReply.class);
                }, s -> new DispatchRelease(s, 5, "g", "a", 0, 7), DispatchReply.class),
                new Idem("DispatchInit (again: 0 added)", (h, s) -> { },
                        s -> new DispatchInit(s, 5, "g2", Map.of("x", "x"), null), DispatchReply.class),
                new Idem("CloseSession", (h, s) -> { }, s -> new CloseSession(s, 5), SessionClosed.class));
    }

    private static void twoItems(Harness h, long s) {
        h.apply(new QueueEnqueue(0, 0, "q", "a", Bytes.utf8("A"), List.of()), QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "b", Bytes.utf8("B"), List.of()), QueueReply.class);
    }

    private static void threeTargets(Harness h, long s) {
        h.apply(new DispatchInit(0, 0, "g", Map.of("a", "a", "b", "b", "c", "c"), new DispatchSettings(0, 0, 15)),
                DispatchReply.class);
        h.apply(new DispatchAdvance(0, 0, "g", 10), DispatchReply.class);
        h.advance(1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("idempotentRequests")
    void aRetriedRequestGetsTheFirstAnswerAndChangesNothing(Idem c) {
        Harness h = new Harness();
        long s = h.open();
        long bystander = h.open();
        c.setup().accept(h, s);
        h.advance(100);

        Result first = h.apply(c.request().apply(s));
        assertThat(first).isInstanceOf(c.firstType());
        h.takeEffects();
        h.advance(100);
        byte[] before = h.essence();
        View.Summary summary = shape(h.lookup(new Query.GetSummary()));
        CoordinationStateMachine copy = h.recoverCopy();

        Result retry = h.apply(c.request().apply(s));

        assertThat(retry).isEqualTo(first);
        assertThat(h.takeEffects()).isEmpty();
        assertThat(h.essence()).isEqualTo(before);
        assertThat(shape(h.lookup(new Query.GetSummary()))).isEqualTo(summary);
        assertThat(h.lookup(new Query.GetSession(bystander))).isNotNull();

        // the idempotency window is replicated state: a replica recovered from a snapshot answers the same
        Applied onCopy = copy.update(List.of(Entry.of(h.lastIndex() + 1, h.now(), c.request().apply(s)))).get(0);
        assertThat(onCopy.results()).containsExactly(first);
    }

    @Test
    void aRequestIdReusedForADifferentCommandIsRefusedAndChangesNothing() {
        Harness h = new Harness();
        long s = h.open();
        EventReply first = h.apply(new EventBegin(s, 9, "e1"), EventReply.class);
        byte[] before = h.essence();
        Result reused = h.apply(new EventBegin(s, 9, "e2"));
        assertRejected(reused, ErrorCode.INVALID_ARGUMENT);
        assertThat(((Rejected) reused).message())
                .isEqualTo("request id 9 of session " + s + " was already used for a different command;"
                        + " a new attempt needs a new request id");
        assertThat(h.lookup(new Query.GetEvent("e2"))).isNull();
        assertThat(h.essence()).isEqualTo(before);
        // another kind of command under the id: refused too
        assertRejected(h.apply(new PoolAcquire(s, 9, "k", 1, 1, 0, false)), ErrorCode.INVALID_ARGUMENT);
        assertThat(h.lookup(new Query.GetPool("k"))).isNull();
        // the real retry still gets the remembered answer, not re-executed
        assertThat(h.apply(new EventBegin(s, 9, "e1"))).isEqualTo(first);
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void aRetryOfAWaitGetsTheFinalOutcomeAndAReusedIdStillDoesNot() {
        Harness h = new Harness();
        long a = h.open();
        long b = h.open();
        PoolReply held = h.apply(new PoolAcquire(a, 1, "k", 1, 5, 0, false), PoolReply.class);
        assertThat(h.apply(new PoolAcquire(b, 1, "k", 1, 5, 10_000, false), PoolReply.class).status())
                .isEqualTo(PoolStatus.QUEUED);
        h.apply(new PoolRelease(a, 2, "k", held.fence()), PoolReply.class);
        // the remembered answer was replaced by the outcome; the command it answers is still the acquire
        assertThat(h.apply(new PoolAcquire(b, 1, "k", 1, 5, 10_000, false), PoolReply.class).status())
                .isEqualTo(PoolStatus.LOCKED);
        assertRejected(h.apply(new PoolAcquire(b, 1, "k", 1, 5, 9_999, false)), ErrorCode.INVALID_ARGUMENT);
    }

    @Test
    void idsPrintUnsignedInErrors() {
        Harness h = new Harness();
        long s = h.open();
        long big = -2L; // 18446744073709551614 unsigned: clients send ids as unsigned 64-bit numbers
        Rejected noSession = (Rejected) h.apply(new PoolAcquire(big, 1, "k", 1, 1, 0, false));
        assertThat(noSession.message()).isEqualTo("no session 18446744073709551614");
        Rejected tooOld = (Rejected) h.apply(new EventBegin(s, big, "e"));
        assertThat(tooOld.message()).startsWith("request id 18446744073709551614 ").doesNotContain("-");
        h.apply(new EventBegin(s, 5, "e"), EventReply.class);
        Rejected reused = (Rejected) h.apply(new EventBegin(s, 5, "f"));
        assertThat(reused.message()).doesNotContain("-");
        Rejected fence = (Rejected) h.apply(new LockRelease(s, 6, "nolock", big));
        assertThat(fence.message()).doesNotContain("-");
        PoolReply got = h.apply(new PoolAcquire(s, 7, "k", 1, 1, 0, false), PoolReply.class);
        Rejected pool = (Rejected) h.apply(new PoolRelease(s, 8, "k", big));
        assertThat(pool.message()).contains("18446744073709551614").doesNotContain("-");
        assertThat(got.status()).isEqualTo(PoolStatus.LOCKED);
        Rejected item = (Rejected) h.apply(new QueueDone(s, 9, "q", "i", big));
        assertThat(item.code()).isEqualTo(ErrorCode.NOT_FOUND);
        h.apply(new QueueEnqueue(0, 0, "q", "i", Bytes.EMPTY, List.of()), QueueReply.class);
        h.apply(new QueueClaim(s, 10, "q", 1), QueueReply.class);
        Rejected claimed = (Rejected) h.apply(new QueueDone(s, 11, "q", "i", big));
        assertThat(claimed.message()).endsWith("with fence 18446744073709551614");
    }

    @Test
    void requestIdZeroIsNeverRemembered() {
        Harness h = new Harness();
        long s = h.open();
        PoolReply a = h.apply(new PoolAcquire(s, 0, "k", 2, 5, 0, false), PoolReply.class);
        PoolReply b = h.apply(new PoolAcquire(s, 0, "k", 2, 5, 0, false), PoolReply.class);
        assertThat(a.status()).isEqualTo(PoolStatus.LOCKED);
        assertThat(b.status()).isEqualTo(PoolStatus.LOCKED);
        assertThat(b.fence()).isNotEqualTo(a.fence());
        assertThat(h.lookup(new Query.GetPool("k")).processing()).isEqualTo(2);
    }

    @ParameterizedTest(name = "window {0}")
    @ValueSource(ints = {1, 3, 128})
    void theWindowForgetsTheOldestAndRefusesRequestsAtOrBelowItsFloor(int window) {
        Limits limits = Limits.defaults().toBuilder().maxRememberedRequests(window).build();
        Harness h = new Harness(limits);
        long s = h.open();
        int sent = window + 2;
        List<Result> answers = new ArrayList<>();
        for (int rid = 1; rid <= sent; rid++) {
            answers.add(h.apply(new EventBegin(s, rid, "e" + rid), EventReply.class));
        }
        byte[] before = h.essence();

        // the newest `window` requests are remembered
        for (int rid = sent - window + 1; rid <= sent; rid++) {
            assertThat(h.apply(new EventBegin(s, rid, "e" + rid))).as("rid %d", rid).isEqualTo(answers.get(rid - 1));
        }
        // the older ones are refused, not executed again
        for (long rid : new long[] {sent - window, 1, -1, Long.MIN_VALUE}) {
            if (rid == 0) {
                continue;
            }
            Result r = h.apply(new EventBegin(s, rid, "too-old" + rid));
            assertRejected(r, ErrorCode.REQUEST_TOO_OLD);
            assertThat(h.lookup(new Query.GetEvent("too-old" + rid))).isNull();
        }
        assertThat(h.essence()).isEqualTo(before);

        // newer ids still work, and push the floor up
        assertThat(h.apply(new EventBegin(s, sent + 1, "newer"), EventReply.class).status()).isEqualTo(EventStatus.BEGUN);
        assertRejected(h.apply(new EventBegin(s, sent - window + 1, "x")), ErrorCode.REQUEST_TOO_OLD);
    }

    @Test
    void theDefaultWindowIsTheConfiguredLimit() {
        Harness h = new Harness();
        long s = h.open();
        int window = Limits.defaults().maxRememberedRequests();
        for (int rid = 1; rid <= window; rid++) {
            h.apply(new LockAcquire(s, rid, "l" + rid, 0), LockReply.class);
        }
        assertThat(h.apply(new LockAcquire(s, 1, "l1", 0))).as("still remembered")
                .isEqualTo(new LockReply(LockStatus.LOCKED, "l1", h.lookup(new Query.GetLock("l1")).fence()));
        h.apply(new LockAcquire(s, window + 1, "last", 0), LockReply.class);
        assertRejected(h.apply(new LockAcquire(s, 1, "l1", 0)), ErrorCode.REQUEST_TOO_OLD);
        assertThat(h.apply(new LockAcquire(s, 2, "l2", 0), LockReply.class).status()).isEqualTo(LockStatus.LOCKED);
    }

    /**
     * Rejections are remembered like any answer (docs/design.md, rule 5; ErrorCode javadoc): a request
     * id names one attempt, so a retry after the world changed still gets the first answer, and a
     * new attempt takes a new id.
     */
    @Test
    void aRejectionIsRememberedLikeAnyAnswer() {
        Harness h = new Harness();
        long s = h.open();
        Result first = h.apply(new DispatchLock(s, 5, "g", "t"));
        assertRejected(first, ErrorCode.NOT_FOUND);
        h.apply(new DispatchInit(0, 0, "g", Map.of("t", "t"), null), DispatchReply.class);
        byte[] before = h.essence();

        assertThat(h.apply(new DispatchLock(s, 5, "g", "t"))).as("the retry is answered, not executed")
                .isEqualTo(first);
        assertThat(h.essence()).isEqualTo(before);
        assertThat(h.lookup(new Query.GetGroup("g")).targets().get(0).holder()).isZero();

        DispatchReply fresh = h.apply(new DispatchLock(s, 6, "g", "t"), DispatchReply.class);
        assertThat(fresh.status()).as("a new attempt with a new id").isEqualTo(Result.DispatchStatus.LOCKED);
    }

    @Test
    void rejectionsTakeTheirPlaceInTheWindow() {
        Harness h = new Harness(Limits.defaults().toBuilder().maxRememberedRequests(2).build());
        long s = h.open();
        Result r1 = h.apply(new LockAcquire(s, 1, "a", 0));
        Result r2 = h.apply(new LockAcquire(s, 2, "b", 0));
        Result r3 = h.apply(new LockRelease(s, 3, "nope", 12345));
        assertRejected(r3, ErrorCode.STALE_FENCE);

        assertThat(h.apply(new LockAcquire(s, 2, "b", 0))).isEqualTo(r2);
        assertThat(h.apply(new LockRelease(s, 3, "nope", 12345))).isEqualTo(r3);
        assertRejected(h.apply(new LockAcquire(s, 1, "a", 0)), ErrorCode.REQUEST_TOO_OLD);
        assertThat(r1).isInstanceOf(LockReply.class);
    }

    @Test
    void refusalsBeforeExecutionAreNotRemembered() {
        Harness h = new Harness(Limits.defaults().toBuilder().maxRememberedRequests(2).build());
        long s = h.open();
        Result r2 = h.apply(new LockAcquire(s, 2, "b", 0));
        Result r3 = h.apply(new LockAcquire(s, 3, "c", 0));
        // window {2, 3}; floor 0. A too-old id is refused without taking a place in the window.
        h.apply(new LockAcquire(s, 4, "d", 0)); // window {3, 4}, floor 2
        byte[] before = h.essence();
        assertRejected(h.apply(new LockAcquire(s, 1, "x", 0)), ErrorCode.REQUEST_TOO_OLD);
        assertRejected(h.apply(new LockAcquire(s, 2, "x", 0)), ErrorCode.REQUEST_TOO_OLD);
        assertThat(h.essence()).isEqualTo(before);
        assertThat(h.apply(new LockAcquire(s, 3, "c", 0))).isEqualTo(r3);
        assertThat(r2).isInstanceOf(LockReply.class);
    }

    @Test
    void aRetryOfAQueuedRequestLearnsHowTheWaitEnded() {
        Harness h = new Harness();
        long holder = h.open();
        long waiter = h.open();
        LockReply held = h.apply(new LockAcquire(holder, 1, "L", 0), LockReply.class);
        assertThat(h.apply(new LockAcquire(waiter, 3, "L", 5_000), LockReply.class).status())
                .isEqualTo(LockStatus.QUEUED);
        h.apply(new LockRelease(holder, 2, "L", held.fence()), LockReply.class);
        Effect.LockWaitEnded granted = (Effect.LockWaitEnded) h.takeEffects().stream()
                .filter(e -> e instanceof Effect.LockWaitEnded).findFirst().orElseThrow();
        assertThat(granted.status()).isEqualTo(LockStatus.LOCKED);

        assertThat(h.apply(new LockAcquire(waiter, 3, "L", 5_000)))
                .isEqualTo(new LockReply(LockStatus.LOCKED, "L", granted.fence()));

        // and a wait that timed out
        long late = h.open();
        assertThat(h.apply(new LockAcquire(late, 4, "L", 1_000), LockReply.class).status())
                .isEqualTo(LockStatus.QUEUED);
        h.advance(1_000);
        h.tick();
        assertThat(h.apply(new LockAcquire(late, 4, "L", 1_000)))
                .isEqualTo(new LockReply(LockStatus.TIMEOUT, "L", 0));
        assertThat(h.lookup(new Query.GetLock("L")).waiters()).isEmpty();
    }

    // ---- helpers -------------------------------------------------------------------------------


    /** The summary without the entry index and time, which every entry moves. */
    private static View.Summary shape(View.Summary s) {
        return new View.Summary(0, 0, s.lastFence(), s.sessions(), s.poolKeys(), s.locks(), s.groups(), s.events(),
                s.queues(), s.waits());
    }


    // ---- open and first command in one ---------------------------------------------------------

    @Test
    void openSessionThenRunsTheFirstCommandOnTheNewSessionInTheSameStep() {
        Harness h = new Harness();
        long other = h.open();
        assertThat(h.apply(new PoolAcquire(other, 1, "k", 1, 5, 0, false), PoolReply.class).status())
                .isEqualTo(PoolStatus.LOCKED); // holds the only slot

        Result.SessionOpenedThen r = h.apply(new OpenSessionThen(new OpenSession("line-1", 5_000),
                new PoolAcquire(0, 1, "k", 1, 5, 1_000, false)), Result.SessionOpenedThen.class);

        assertThat(r.opened().existing()).isFalse();
        assertThat(r.first()).isEqualTo(new PoolReply(PoolStatus.QUEUED, "k", 0));
        long s = r.opened().session();
        // the wait is the new session's: releasing the holder hands the slot to it
        h.apply(new PoolRelease(other, 2, null, 0), PoolReply.class);
        assertThat(h.takeEffects()).anySatisfy(e -> assertThat(e).isInstanceOfSatisfying(Effect.PoolWaitEnded.class,
                w -> assertThat(w.session()).isEqualTo(s)));
        // the whole command again (a retry after a lost answer): the same session, and the acquire's
        // remembered answer, which is now its outcome
        Result.SessionOpenedThen again = h.apply(new OpenSessionThen(new OpenSession("line-1", 5_000),
                new PoolAcquire(0, 1, "k", 1, 5, 1_000, false)), Result.SessionOpenedThen.class);
        assertThat(again.opened().session()).isEqualTo(s);
        assertThat(again.opened().existing()).isTrue();
        assertThat(again.first()).isInstanceOfSatisfying(PoolReply.class,
                p -> assertThat(p.status()).isEqualTo(PoolStatus.LOCKED));
        assertThat(h.lookup(new Query.GetSession(s)).slots()).hasSize(1); // not acquired twice
    }

    @Test
    void aMalformedOpenSessionThenChangesNothing() {
        Harness h = new Harness();
        byte[] before = h.essence();
        assertRejected(h.apply(new OpenSessionThen(new OpenSession("t", 5_000), new PoolAcquire(7, 1, "k", 1, 5, 0, false))),
                ErrorCode.INVALID_ARGUMENT);
        assertRejected(h.apply(new OpenSessionThen(new OpenSession("t", 5_000), new CloseSession(0, 1))),
                ErrorCode.INVALID_ARGUMENT);
        assertRejected(h.apply(new OpenSessionThen(new OpenSession("t", 1), new PoolAcquire(0, 1, "k", 1, 5, 0, false))),
                ErrorCode.INVALID_ARGUMENT); // TTL below the limit: nothing opened, nothing acquired
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void aRejectedFirstCommandLeavesTheSessionOpenAsTwoSeparateCommandsWould() {
        Harness h = new Harness();
        Result.SessionOpenedThen r = h.apply(new OpenSessionThen(new OpenSession(null, 5_000),
                new PoolAcquire(0, 1, "", 1, 5, 0, false)), Result.SessionOpenedThen.class);
        assertRejected(r.first(), ErrorCode.INVALID_ARGUMENT);
        assertThat(h.lookup(new Query.GetSession(r.opened().session()))).isNotNull();
    }
}
