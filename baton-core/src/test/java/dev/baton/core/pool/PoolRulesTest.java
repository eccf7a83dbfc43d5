package dev.baton.core.pool;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Effect.PoolWaitEnded;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.View;
import dev.baton.core.sm.Applied;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static dev.baton.core.command.Result.PoolStatus.DONE;
import static dev.baton.core.command.Result.PoolStatus.LOCKED;
import static dev.baton.core.command.Result.PoolStatus.LOCK_HELD;
import static dev.baton.core.command.Result.PoolStatus.NOT_LOCKED;
import static dev.baton.core.command.Result.PoolStatus.QUEUED;
import static dev.baton.core.command.Result.PoolStatus.QUEUE_FULL;
import static dev.baton.core.command.Result.PoolStatus.RELEASED;
import static dev.baton.core.command.Result.PoolStatus.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * poolcounterd's rules and the scenarios of its test suite (docs/design.md, "poolcounterd"), on the
 * core state machine, with its quirks fixed. A session plays a poolcounterd connection;
 * CloseSession and ExpireSessions play a disconnect. All time is the harness clock (the entries'
 * timestamps).
 */
class PoolRulesTest {

    /** poolcounterd's two acquire commands. */
    enum Kind {
        ACQ4ME(false), ACQ4ANY(true);

        final boolean forAnyone;

        Kind(boolean forAnyone) {
            this.forAnyone = forAnyone;
        }
    }

    /** The two ways a session ends, both meaning "the connection went away". */
    enum End { CLOSE, EXPIRE }

    private Harness h;
    private long rid;

    @BeforeEach
    void setUp() {
        h = new Harness();
        rid = 0;
    }

    // =============================================================================================
    @Nested
    @DisplayName("reply table")
    class Replies {

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("LOCKED when a worker is free; the grant is a holder and a HELD slot")
        void lockedWhenWorkerFree(Kind kind) {
            long s = h.open();
            PoolAcquire a = acq(kind, s, "k", 1, 1, 0);
            Result r = h.apply(a);
            long f = fenceOfLastEntry();
            assertThat(r).isEqualTo(new PoolReply(LOCKED, "k", f));
            assertThat(f).isPositive();
            assertThat(pool("k")).isEqualTo(new View.Pool("k", 1, 0,
                    List.of(new View.PoolHolder(s, f, h.now())), List.of()));
            assertThat(slots(s)).containsExactly(new View.PoolSlot("k", "HELD", f, a.requestId(), h.now()));
            assertNoEffects();
        }

        @Test
        @DisplayName("DONE to a waiting ACQ4ANY when a holder RELEASEs; it then holds nothing and consumed nothing")
        void doneToAnyWaiter() {
            long c1 = h.open();
            long c2 = h.open();
            long f1 = hold(c1, "k", 1);
            PoolAcquire w = waitOn(c2, Kind.ACQ4ANY, "k", 10_000);
            assertThat(h.apply(release(c1))).isEqualTo(new PoolReply(RELEASED, "k", f1));
            assertThat(h.takeEffects()).containsExactly(ended(w, DONE, 0));
            assertThat(slots(c2)).isEmpty();
            assertThat(pool("k")).isNull();
            assertThat(h.apply(release(c2))).isEqualTo(new PoolReply(NOT_LOCKED, null, 0));
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("QUEUE_FULL when holders + waiters >= maxqueue; no slot consumed")
        void queueFull(Kind kind) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 5);
            assertThat(h.apply(acq(kind, c2, "k", 5, 1, 10_000))).isEqualTo(new PoolReply(QUEUE_FULL, "k", 0));
            assertThat(slots(c2)).isEmpty();
            assertThat(pool("k").processing()).isEqualTo(1);
            assertThat(pool("k").waiting()).isZero();
            assertNoEffects();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("TIMEOUT at once when no worker is free and timeout is 0; no slot consumed")
        void timeoutAtOnce(Kind kind) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            assertThat(h.apply(acq(kind, c2, "k", 1, 5, 0))).isEqualTo(new PoolReply(TIMEOUT, "k", 0));
            assertThat(slots(c2)).isEmpty();
            assertThat(pool("k").waiting()).isZero();
            assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(Long.MAX_VALUE);
            assertNoEffects();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("TIMEOUT (delayed) after waiting for the timeout; the slot is freed")
        void timeoutAfterWaiting(Kind kind) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire w = waitOn(c2, kind, "k", 2_000);
            assertThat(slots(c2)).extracting(View.PoolSlot::state).containsExactly(kind == Kind.ACQ4ME ? "WAIT_ME" : "WAIT_ANY");
            h.advance(2_000);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(1));
            assertThat(h.takeEffects()).containsExactly(ended(w, TIMEOUT, 0));
            assertThat(slots(c2)).isEmpty();
            assertThat(pool("k").waiting()).isZero();
        }

        @Test
        @DisplayName("RELEASED with the released slot's fence; the key disappears with its last holder")
        void released() {
            long s = h.open();
            long f = hold(s, "k", 1);
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "k", f));
            assertThat(pool("k")).isNull();
            assertThat(slots(s)).isEmpty();
            assertThat(totals().keys()).isZero();
        }

        @Test
        @DisplayName("NOT_LOCKED for RELEASE with no slot taken (counted as release_mismatch)")
        void notLocked() {
            long s = h.open();
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(NOT_LOCKED, null, 0));
            assertThat(h.apply(new PoolRelease(s, ++rid, "k", 0))).isEqualTo(new PoolReply(NOT_LOCKED, "k", 0));
            assertThat(totals().releaseMismatch()).isEqualTo(2);
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("LOCK_HELD for an acquire while the session already has 4 slots (counted as lock_mismatch)")
        void lockHeld(Kind kind) {
            long s = h.open();
            for (String k : List.of("a", "b", "c", "d")) {
                hold(s, k, 1);
            }
            assertThat(h.apply(acq(kind, s, "e", 1, 5, 0))).isEqualTo(new PoolReply(LOCK_HELD, "e", 0));
            assertThat(pool("e")).isNull();
            assertThat(slots(s)).hasSize(4);
            assertThat(totals().lockHeld()).isEqualTo(1);
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("ERROR WAIT_FOR_RESPONSE -> Rejected WAIT_FOR_RESPONSE while the newest slot waits (any key)")
        void waitForResponse(Kind kind) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            waitOn(c2, Kind.ACQ4ME, "k", 10_000);
            assertThat(code(h.apply(acq(kind, c2, "other", 1, 5, 0)))).isEqualTo(ErrorCode.WAIT_FOR_RESPONSE);
            assertThat(code(h.apply(acq(kind, c2, "k", 1, 5, 0)))).isEqualTo(ErrorCode.WAIT_FOR_RESPONSE);
            assertThat(pool("other")).isNull();
            assertThat(slots(c2)).hasSize(1);
            assertThat(pool("k").waiting()).isEqualTo(1);
            assertThat(totals().waitForResponse()).isEqualTo(2);
        }

        static Stream<Arguments> badSyntax() {
            return Stream.of(
                    arguments("key missing (empty)", "", 1, 5, 0L),
                    arguments("key longer than maxNameBytes", "x".repeat(Limits.defaults().maxNameBytes() + 1), 1, 5, 0L),
                    arguments("workers 0", "k", 0, 5, 0L),
                    arguments("maxqueue 0", "k", 1, 0, 0L),
                    arguments("workers and maxqueue 0", "k", 0, 0, 0L),
                    arguments("negative workers", "k", -1, 5, 0L),
                    arguments("negative maxqueue", "k", 1, -1, 0L),
                    arguments("negative timeout", "k", 1, 5, -1L),
                    arguments("timeout above maxWaitMs", "k", 1, 5, Limits.defaults().maxWaitMs() + 1));
        }

        @ParameterizedTest(name = "{0}")
        @MethodSource("badSyntax")
        @DisplayName("ERROR BAD_SYNTAX -> Rejected INVALID_ARGUMENT, and nothing changes")
        void badSyntaxRejected(String name, String key, int workers, int maxQueue, long timeoutMs) {
            long s = h.open();
            for (Kind kind : Kind.values()) {
                Result r = h.apply(new PoolAcquire(s, ++rid, key, workers, maxQueue, timeoutMs, kind.forAnyone));
                assertThat(code(r)).as(kind.name()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
            }
            assertThat(slots(s)).isEmpty();
            assertThat(totals()).isEqualTo(zeroTotals());
            assertThat(h.lookup(new Query.GetSummary()).lastFence()).isZero();
            assertNoEffects();
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("order of checks for ACQ")
    class OrderOfChecks {

        static Stream<Arguments> rows() {
            return Stream.of(
                    arguments("4 slots, newest waiting -> LOCK_HELD before WAIT_FOR_RESPONSE",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::slotsFullWithNewestWaiting, LOCK_HELD),
                    arguments("4 slots, bad syntax -> LOCK_HELD before BAD_SYNTAX",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::slotsFullBadSyntax, LOCK_HELD),
                    arguments("newest slot waiting, bad syntax -> WAIT_FOR_RESPONSE before BAD_SYNTAX",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::waitingBadSyntax, ErrorCode.WAIT_FOR_RESPONSE),
                    arguments("bad syntax on a full key -> BAD_SYNTAX before QUEUE_FULL",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::badSyntaxOnFullKey, ErrorCode.INVALID_ARGUMENT),
                    arguments("full queue with a free worker -> QUEUE_FULL before LOCKED",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::fullQueueFreeWorker, QUEUE_FULL),
                    arguments("full queue, timeout 0 -> QUEUE_FULL before TIMEOUT",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::fullQueueTimeoutZero, QUEUE_FULL),
                    arguments("free worker, timeout 0 -> LOCKED before TIMEOUT",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::freeWorkerTimeoutZero, LOCKED),
                    arguments("no free worker, room in queue, timeout 0 -> TIMEOUT",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::busyTimeoutZero, TIMEOUT),
                    arguments("no free worker, room in queue, timeout > 0 -> enqueued (QUEUED)",
                            (Function<PoolRulesTest, Result>) PoolRulesTest::busyWithTimeout, QUEUED));
        }

        @ParameterizedTest(name = "{0}")
        @MethodSource("rows")
        void orderOfChecks(String name, Function<PoolRulesTest, Result> scenario, Object expected) {
            assertThat(outcome(scenario.apply(PoolRulesTest.this))).isEqualTo(expected);
        }
    }

    private Result slotsFullWithNewestWaiting() {
        long other = h.open();
        long s = h.open();
        hold(other, "busy", 1);
        hold(s, "a", 1);
        hold(s, "b", 1);
        hold(s, "c", 1);
        waitOn(s, Kind.ACQ4ME, "busy", 10_000);
        Result r = h.apply(me(s, "x", 1, 5, 0));
        assertThat(totals().lockHeld()).isEqualTo(1);
        assertThat(totals().waitForResponse()).isZero();
        return r;
    }

    private Result slotsFullBadSyntax() {
        long s = h.open();
        for (String k : List.of("a", "b", "c", "d")) {
            hold(s, k, 1);
        }
        return h.apply(me(s, "", 0, 0, -1));
    }

    private Result waitingBadSyntax() {
        long other = h.open();
        long s = h.open();
        hold(other, "busy", 1);
        waitOn(s, Kind.ACQ4ANY, "busy", 10_000);
        return h.apply(me(s, "", 0, 0, -1));
    }

    private Result badSyntaxOnFullKey() {
        long other = h.open();
        long s = h.open();
        hold(other, "k", 1);
        return h.apply(me(s, "k", 0, 1, 0));
    }

    private Result fullQueueFreeWorker() {
        long other = h.open();
        long s = h.open();
        hold(other, "k", 2);
        return h.apply(me(s, "k", 2, 1, 0));
    }

    private Result fullQueueTimeoutZero() {
        long other = h.open();
        long s = h.open();
        hold(other, "k", 1);
        return h.apply(me(s, "k", 1, 1, 0));
    }

    private Result freeWorkerTimeoutZero() {
        long s = h.open();
        return h.apply(me(s, "k", 1, 5, 0));
    }

    private Result busyTimeoutZero() {
        long other = h.open();
        long s = h.open();
        hold(other, "k", 1);
        return h.apply(me(s, "k", 1, 5, 0));
    }

    private Result busyWithTimeout() {
        long other = h.open();
        long s = h.open();
        hold(other, "k", 1);
        return h.apply(me(s, "k", 1, 5, 1_000));
    }

    // =============================================================================================
    @Nested
    @DisplayName("maxqueue and workers are judged per request")
    class PerRequestLimits {

        static Stream<Arguments> maxQueueRows() {
            // holders already there (each from its own session), waiters already there, the new request's
            // workers and maxqueue, and its outcome (timeout 10 s)
            return Stream.of(
                    arguments(1, 0, 1, 1, QUEUE_FULL),
                    arguments(1, 0, 1, 2, QUEUED),
                    arguments(1, 1, 1, 2, QUEUE_FULL),
                    arguments(1, 1, 1, 3, QUEUED),
                    arguments(1, 2, 1, 3, QUEUE_FULL),
                    arguments(2, 0, 3, 2, QUEUE_FULL),
                    arguments(2, 0, 3, 3, LOCKED),
                    arguments(2, 1, 2, 3, QUEUE_FULL),
                    arguments(2, 1, 2, 4, QUEUED));
        }

        @ParameterizedTest(name = "{0} holders + {1} waiters, request workers {2} maxqueue {3} -> {4}")
        @MethodSource("maxQueueRows")
        @DisplayName("maxqueue counts holders + waiters")
        void maxQueueCountsHoldersAndWaiters(int holders, int waiters, int workers, int maxQueue, PoolStatus expected) {
            for (int i = 0; i < holders; i++) {
                hold(h.open(), "k", holders);
            }
            for (int i = 0; i < waiters; i++) {
                waitOn(h.open(), i % 2 == 0 ? Kind.ACQ4ME : Kind.ACQ4ANY, "k", 10_000);
            }
            long s = h.open();
            assertThat(status(h.apply(me(s, "k", workers, maxQueue, 10_000)))).isEqualTo(expected);
            View.Pool p = pool("k");
            int added = expected == QUEUE_FULL ? 0 : 1;
            assertThat(p.processing() + p.waiting()).isEqualTo(holders + waiters + added);
        }

        @Test
        @DisplayName("one session holding the key twice fills maxqueue 2 for others")
        void oneSessionTwoSlotsFillsMaxQueue() {
            long c1 = h.open();
            long c2 = h.open();
            assertThat(status(h.apply(me(c1, "k", 2, 2, 0)))).isEqualTo(LOCKED);
            assertThat(status(h.apply(me(c1, "k", 2, 2, 0)))).isEqualTo(LOCKED);
            assertThat(status(h.apply(me(c2, "k", 3, 2, 10_000)))).isEqualTo(QUEUE_FULL);
            assertThat(status(h.apply(any(c2, "k", 3, 2, 10_000)))).isEqualTo(QUEUE_FULL);
        }

        @Test
        @DisplayName("each request is judged by its own workers value")
        void ownWorkers() {
            long c1 = h.open();
            long c2 = h.open();
            long c3 = h.open();
            long c4 = h.open();
            long c5 = h.open();
            assertThat(status(h.apply(me(c1, "k", 1, 10, 0)))).isEqualTo(LOCKED);
            assertThat(status(h.apply(me(c2, "k", 1, 10, 0)))).isEqualTo(TIMEOUT);
            assertThat(status(h.apply(me(c3, "k", 2, 10, 0)))).isEqualTo(LOCKED);
            assertThat(status(h.apply(any(c4, "k", 3, 10, 0)))).isEqualTo(LOCKED);
            assertThat(status(h.apply(me(c5, "k", 3, 10, 0)))).isEqualTo(TIMEOUT);
            assertThat(status(h.apply(me(c5, "k", 4, 10, 0)))).isEqualTo(LOCKED);
            assertThat(pool("k").processing()).isEqualTo(4);
        }

        @Test
        @DisplayName("a waiter is handed the slot regardless of its own workers value")
        void waiterHandedSlotRegardlessOfItsWorkers() {
            long c1 = h.open();
            long c2 = h.open();
            long c3 = h.open();
            long f1 = hold(c1, "k", 2);
            hold(c2, "k", 2);
            PoolAcquire w = me(c3, "k", 1, 5, 10_000);
            assertThat(h.apply(w)).isEqualTo(new PoolReply(QUEUED, "k", 0));
            assertThat(h.apply(release(c1))).isEqualTo(new PoolReply(RELEASED, "k", f1));
            assertThat(h.takeEffects()).containsExactly(ended(w, LOCKED, fenceOfLastEntry()));
            // c3 asked for workers 1 but now works alongside c2
            assertThat(pool("k").processing()).isEqualTo(2);
            assertThat(pool("k").holders()).extracting(View.PoolHolder::session).containsExactly(c2, c3);
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("hand-off on explicit RELEASE and on session end")
    class HandOff {

        @Test
        @DisplayName("explicit RELEASE: DONE to every ACQ4ANY waiter (FIFO), then LOCKED to the oldest ACQ4ME")
        void explicitReleaseDoneToAllAnyThenOldestMe() {
            long c1 = h.open();
            long c2 = h.open();
            long c3 = h.open();
            long c4 = h.open();
            long c5 = h.open();
            long f1 = hold(c1, "k", 1);
            PoolAcquire w2 = waitOn(c2, Kind.ACQ4ANY, "k", 10_000);
            PoolAcquire w3 = waitOn(c3, Kind.ACQ4ME, "k", 10_000);
            PoolAcquire w4 = waitOn(c4, Kind.ACQ4ANY, "k", 10_000);
            PoolAcquire w5 = waitOn(c5, Kind.ACQ4ME, "k", 10_000);

            assertThat(h.apply(release(c1))).isEqualTo(new PoolReply(RELEASED, "k", f1));
            long f3 = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(w2, DONE, 0), ended(w4, DONE, 0), ended(w3, LOCKED, f3));
            assertThat(pool("k").waiters()).extracting(View.PoolWaiter::session).containsExactly(c5);
            assertThat(totals().waiting()).isEqualTo(1);

            assertThat(h.apply(release(c3))).isEqualTo(new PoolReply(RELEASED, "k", f3));
            long f5 = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(w5, LOCKED, f5));
            assertThat(h.apply(release(c5))).isEqualTo(new PoolReply(RELEASED, "k", f5));
            assertNoEffects();
            assertThat(pool("k")).isNull();
            assertThat(totals().keys()).isZero();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("session end: no DONE; the slot goes to the oldest ACQ4ME, else the oldest ACQ4ANY (which gets LOCKED)")
        void sessionEndPrefersMeThenAnyWithoutDone(End how) {
            long c1 = h.open();
            long c2 = h.open();
            long c3 = h.open();
            long c4 = h.open();
            long c5 = h.open();
            hold(c1, "k", 1);
            PoolAcquire w2 = waitOn(c2, Kind.ACQ4ANY, "k", 10_000);
            PoolAcquire w3 = waitOn(c3, Kind.ACQ4ME, "k", 10_000);
            PoolAcquire w4 = waitOn(c4, Kind.ACQ4ANY, "k", 10_000);
            PoolAcquire w5 = waitOn(c5, Kind.ACQ4ME, "k", 10_000);

            Effect e1 = end(how, c1);
            assertThat(h.takeEffects()).containsExactly(ended(w3, LOCKED, fenceOfLastEntry()), e1);
            assertThat(pool("k").waiters()).extracting(View.PoolWaiter::session).containsExactly(c5, c2, c4);

            Effect e3 = end(how, c3);
            assertThat(h.takeEffects()).containsExactly(ended(w5, LOCKED, fenceOfLastEntry()), e3);

            Effect e5 = end(how, c5);
            long f2 = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(w2, LOCKED, f2), e5);
            assertThat(slots(c2)).extracting(View.PoolSlot::state, View.PoolSlot::id).containsExactly(tuple("HELD", f2));
            assertThat(pool("k").waiters()).extracting(View.PoolWaiter::session).containsExactly(c4);

            // c2 got LOCKED, so it works and RELEASEs explicitly: that is a real finish, c4 gets DONE
            assertThat(h.apply(release(c2))).isEqualTo(new PoolReply(RELEASED, "k", f2));
            assertThat(h.takeEffects()).containsExactly(ended(w4, DONE, 0));
            assertThat(pool("k")).isNull();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("session end releases the session's slots newest first")
        void sessionEndReleasesNewestFirst(End how) {
            long x = h.open();
            long y = h.open();
            long z = h.open();
            hold(x, "a", 1);
            hold(x, "b", 1);
            PoolAcquire wy = waitOn(y, Kind.ACQ4ME, "a", 10_000);
            PoolAcquire wz = waitOn(z, Kind.ACQ4ANY, "b", 10_000);

            Effect e = end(how, x);
            long first = fenceOfLastEntry();
            // b (newest) is released first, so its waiter is granted first, with the smaller fence
            assertThat(h.takeEffects()).containsExactly(ended(wz, LOCKED, first), ended(wy, LOCKED, first + 1), e);
            assertThat(pool("a").holders()).containsExactly(new View.PoolHolder(y, first + 1, h.now()));
            assertThat(pool("b").holders()).containsExactly(new View.PoolHolder(z, first, h.now()));
            assertThat(h.lookup(new Query.GetSession(x))).isNull();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("session end silently removes the session's waiting slot (no effect, no later TIMEOUT) and releases its held ones")
        void sessionEndDropsWaitsSilently(End how) {
            long holder = h.open();
            long x = h.open();
            long w = h.open();
            long aWaiter = h.open();
            long fk = hold(holder, "k", 1);
            hold(x, "a", 1);
            waitOn(x, Kind.ACQ4ANY, "k", 5_000);
            PoolAcquire ww = waitOn(w, Kind.ACQ4ANY, "k", 20_000);
            PoolAcquire wa = waitOn(aWaiter, Kind.ACQ4ANY, "a", 20_000);

            Effect e = end(how, x);
            assertThat(h.takeEffects()).containsExactly(ended(wa, LOCKED, fenceOfLastEntry()), e);
            assertThat(pool("k").waiters()).extracting(View.PoolWaiter::session).containsExactly(w);
            assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(h.now() + 20_000);

            h.advance(5_000);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
            assertNoEffects();

            assertThat(h.apply(release(holder))).isEqualTo(new PoolReply(RELEASED, "k", fk));
            assertThat(h.takeEffects()).containsExactly(ended(ww, DONE, 0));
            assertThat(totals().waiting()).isZero();
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("slots per session (poolcounterd's single-client tests)")
    class SlotsPerSession {

        @Test
        @DisplayName("the limit is Limits.maxSlotsPerSession, held and waiting slots both count")
        void configuredLimit() {
            h = new Harness(Limits.defaults().toBuilder().maxSlotsPerSession(2).build());
            long other = h.open();
            long s = h.open();
            hold(other, "busy", 1);
            hold(s, "a", 1);
            waitOn(s, Kind.ACQ4ME, "busy", 10_000);
            assertThat(status(h.apply(me(s, "c", 1, 5, 0)))).isEqualTo(LOCK_HELD);
        }

        enum Outcome { TIMEOUT_AT_ONCE, TIMEOUT_AFTER_WAIT, QUEUE_FULL, RELEASE, DONE }

        @ParameterizedTest(name = "{0} x7")
        @EnumSource(Outcome.class)
        @DisplayName("TIMEOUT, QUEUE_FULL, RELEASE and DONE do not consume slots")
        void outcomesDoNotConsumeSlots(Outcome outcome) {
            long blocker = h.open();
            long s = h.open();
            hold(blocker, "busy", 1);
            for (int i = 0; i < 7; i++) {
                switch (outcome) {
                    case TIMEOUT_AT_ONCE -> assertThat(status(h.apply(me(s, "busy", 1, 5, 0)))).isEqualTo(TIMEOUT);
                    case TIMEOUT_AFTER_WAIT -> {
                        PoolAcquire w = waitOn(s, Kind.ACQ4ME, "busy", 1_000);
                        h.advance(1_000).tick();
                        assertThat(h.takeEffects()).containsExactly(ended(w, TIMEOUT, 0));
                    }
                    case QUEUE_FULL -> assertThat(status(h.apply(any(s, "busy", 1, 1, 1_000)))).isEqualTo(QUEUE_FULL);
                    case RELEASE -> {
                        hold(s, "free" + i, 1);
                        assertThat(status(h.apply(release(s)))).isEqualTo(RELEASED);
                    }
                    case DONE -> {
                        PoolAcquire w = waitOn(s, Kind.ACQ4ANY, "busy", 10_000);
                        assertThat(status(h.apply(release(blocker)))).isEqualTo(RELEASED);
                        assertThat(h.takeEffects()).containsExactly(ended(w, DONE, 0));
                        hold(blocker, "busy", 1);
                    }
                }
                assertThat(slots(s)).as("after round %d", i).isEmpty();
            }
            for (String k : List.of("k1", "k2", "k3", "k4")) {
                assertThat(status(h.apply(me(s, k, 1, 5, 0)))).isEqualTo(LOCKED);
            }
            assertThat(status(h.apply(me(s, "k5", 1, 5, 0)))).isEqualTo(LOCK_HELD);
        }

        @Test
        @DisplayName("lock, release, relock cycles never run out of slots")
        void lockReleaseCycles() {
            long s = h.open();
            for (int i = 0; i < 10; i++) {
                long f = hold(s, "k", 1);
                assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "k", f));
            }
            assertThat(totals().acquired()).isEqualTo(10);
            assertThat(totals().released()).isEqualTo(10);
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("same key twice in one session")
    class SameKeyTwice {

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("workers 2: both LOCKED, each consumes a worker")
        void twiceWithTwoWorkers(Kind kind) {
            long s = h.open();
            long f1 = fenceOf(h.apply(acq(kind, s, "k", 2, 5, 1_000)));
            long f2 = fenceOf(h.apply(acq(kind, s, "k", 2, 5, 1_000)));
            assertThat(f2).isGreaterThan(f1);
            assertThat(pool("k").processing()).isEqualTo(2);
            assertThat(status(h.apply(acq(kind, h.open(), "k", 2, 5, 0)))).isEqualTo(TIMEOUT);
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("workers 1, timeout > 0: the second waits on itself and times out at its deadline")
        void twiceWithOneWorkerTimesOut(Kind kind) {
            long s = h.open();
            long f1 = fenceOf(h.apply(acq(kind, s, "k", 1, 5, 1_000)));
            PoolAcquire second = acq(kind, s, "k", 1, 5, 1_000);
            assertThat(h.apply(second)).isEqualTo(new PoolReply(QUEUED, "k", 0));
            h.advance(999).tick();
            assertNoEffects();
            h.advance(1).tick();
            assertThat(h.takeEffects()).containsExactly(ended(second, TIMEOUT, 0));
            assertThat(slots(s)).extracting(View.PoolSlot::id).containsExactly(f1);
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "k", f1));
            assertThat(pool("k")).isNull();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("workers 1, timeout 0: the second gets TIMEOUT at once")
        void twiceWithOneWorkerTimeoutZero(Kind kind) {
            long s = h.open();
            hold(s, "k", 1);
            assertThat(h.apply(acq(kind, s, "k", 1, 5, 0))).isEqualTo(new PoolReply(TIMEOUT, "k", 0));
            assertThat(slots(s)).hasSize(1);
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("which slot a RELEASE frees")
    class ReleaseSelection {

        @Test
        @DisplayName("quoting a fence the session does not hold is STALE_FENCE, also once it holds nothing")
        void fenceOfNothingIsStale() {
            long s = h.open();
            long f = hold(s, "k", 1);
            h.apply(release(s));
            Result byKey = h.apply(new PoolRelease(s, ++rid, "k", f));
            Result byFenceOnly = h.apply(new PoolRelease(s, ++rid, null, f));
            assertThat(code(byKey)).isEqualTo(ErrorCode.STALE_FENCE);
            assertThat(code(byFenceOnly)).isEqualTo(ErrorCode.STALE_FENCE);
            assertThat(totals().releaseMismatch()).isZero();
        }

        @Test
        @DisplayName("a fence without a key releases exactly that grant, whatever its place in the stack")
        void fenceWithoutKey() {
            long s = h.open();
            long fa = hold(s, "a", 1);
            long fb = hold(s, "b", 1);
            assertThat(h.apply(new PoolRelease(s, ++rid, null, fa))).isEqualTo(new PoolReply(RELEASED, "a", fa));
            assertThat(slots(s)).extracting(View.PoolSlot::id).containsExactly(fb);
        }

        @Test
        @DisplayName("plain RELEASE is LIFO across keys, then NOT_LOCKED")
        void lifoAcrossKeys() {
            long s = h.open();
            long fa = hold(s, "a", 1);
            long fb = hold(s, "b", 1);
            long fc = hold(s, "c", 1);
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "c", fc));
            assertThat(pool("c")).isNull();
            assertThat(pool("a")).isNotNull();
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "b", fb));
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "a", fa));
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(NOT_LOCKED, null, 0));
        }

        @Test
        @DisplayName("RELEASE by key frees the newest slot on that key, whatever is newer on other keys")
        void byKey() {
            long s = h.open();
            long fa1 = hold(s, "a", 2);
            long fb = hold(s, "b", 1);
            long fa2 = hold(s, "a", 2);
            long fc = hold(s, "c", 1);
            assertThat(h.apply(new PoolRelease(s, ++rid, "a", 0))).isEqualTo(new PoolReply(RELEASED, "a", fa2));
            assertThat(h.apply(new PoolRelease(s, ++rid, "a", 0))).isEqualTo(new PoolReply(RELEASED, "a", fa1));
            assertThat(slots(s)).extracting(View.PoolSlot::key, View.PoolSlot::id)
                    .containsExactly(tuple("b", fb), tuple("c", fc));
            assertThat(h.apply(new PoolRelease(s, ++rid, "a", 0))).isEqualTo(new PoolReply(NOT_LOCKED, "a", 0));
        }

        @Test
        @DisplayName("RELEASE by key and fence frees exactly that grant; a fence that is no current grant of the key -> STALE_FENCE")
        void byFence() {
            long s = h.open();
            long fa1 = hold(s, "a", 2);
            long fa2 = hold(s, "a", 2);
            long fb = hold(s, "b", 1);
            assertThat(h.apply(new PoolRelease(s, ++rid, "a", fa1))).isEqualTo(new PoolReply(RELEASED, "a", fa1));
            assertThat(slots(s)).extracting(View.PoolSlot::key, View.PoolSlot::id)
                    .containsExactly(tuple("a", fa2), tuple("b", fb));

            // the old grant again, and another key's fence: refused, nothing changes
            assertThat(code(h.apply(new PoolRelease(s, ++rid, "a", fa1)))).isEqualTo(ErrorCode.STALE_FENCE);
            assertThat(code(h.apply(new PoolRelease(s, ++rid, "a", fb)))).isEqualTo(ErrorCode.STALE_FENCE);
            assertThat(slots(s)).hasSize(2);
            assertThat(pool("a").processing()).isEqualTo(1);

            assertThat(h.apply(new PoolRelease(s, ++rid, "a", fa2))).isEqualTo(new PoolReply(RELEASED, "a", fa2));
            assertThat(h.apply(new PoolRelease(s, ++rid, "b", fb))).isEqualTo(new PoolReply(RELEASED, "b", fb));
            assertThat(totals().keys()).isZero();
        }

        @Test
        @DisplayName("a fence is never matched against a waiting slot; RELEASE by key alone cancels the wait")
        void fenceDoesNotMatchAWait() {
            long holder = h.open();
            long s = h.open();
            long fk = hold(holder, "k", 1);
            PoolAcquire w = waitOn(s, Kind.ACQ4ME, "k", 10_000);
            assertThat(code(h.apply(new PoolRelease(s, ++rid, "k", fk)))).isEqualTo(ErrorCode.STALE_FENCE);
            assertThat(pool("k").waiting()).isEqualTo(1);
            assertNoEffects();
            assertThat(h.apply(new PoolRelease(s, ++rid, "k", 0))).isEqualTo(new PoolReply(RELEASED, "k", 0));
            assertThat(pool("k").waiting()).isZero();
            assertThat(pool("k").holders()).extracting(View.PoolHolder::session).containsExactly(holder);
            assertThat(h.takeEffects()).containsExactly(ended(w, RELEASED, 0));
        }

        @Test
        @DisplayName("releasing a held slot under the session's own wait on the same key hands it to that wait")
        void releaseUnderOwnWait() {
            long s = h.open();
            long f1 = hold(s, "k", 1);
            PoolAcquire w = waitOn(s, Kind.ACQ4ME, "k", 10_000);
            assertThat(h.apply(new PoolRelease(s, ++rid, "k", f1))).isEqualTo(new PoolReply(RELEASED, "k", f1));
            long f2 = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(w, LOCKED, f2));
            assertThat(slots(s)).extracting(View.PoolSlot::state, View.PoolSlot::id).containsExactly(tuple("HELD", f2));
            assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(Long.MAX_VALUE);
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("RELEASE while the newest slot waits (quirk 3, fixed)")
    class ReleaseWhileWaiting {

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("cancels the wait, answers RELEASED, DONE to nobody, the wait itself ends RELEASED, waiter counts stay right")
        void cancelsWaitWithoutDone(Kind kind) {
            long holder = h.open();
            long bystander = h.open();
            long s = h.open();
            long f = hold(holder, "k", 1);
            PoolAcquire wb = waitOn(bystander, Kind.ACQ4ANY, "k", 20_000);
            PoolAcquire ws = waitOn(s, kind, "k", 3_000);
            assertThat(totals().waiting()).isEqualTo(2);

            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "k", 0));
            // whoever waits for the acquire's outcome (a held call) hears it ended; the bystander hears nothing
            assertThat(h.takeEffects()).containsExactly(ended(ws, RELEASED, 0));
            assertThat(h.apply(ws)).as("the acquire's remembered answer").isEqualTo(new PoolReply(RELEASED, "k", 0));
            assertThat(slots(s)).isEmpty();
            View.Pool p = pool("k");
            assertThat(p.processing()).isEqualTo(1);
            assertThat(p.waiting()).isEqualTo(1);
            assertThat(p.waiters()).extracting(View.PoolWaiter::session).containsExactly(bystander);
            View.PoolTotals t = totals();
            assertThat(t.waiting()).isEqualTo(1);
            assertThat(t.processing()).isEqualTo(1);
            assertThat(t.done()).isZero();

            // the cancelled wait's deadline is gone: no TIMEOUT for it later
            h.advance(3_000);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
            assertNoEffects();

            // and the session may acquire again (no WAIT_FOR_RESPONSE)
            assertThat(status(h.apply(acq(kind, s, "other", 1, 5, 0)))).isEqualTo(LOCKED);

            assertThat(h.apply(release(holder))).isEqualTo(new PoolReply(RELEASED, "k", f));
            assertThat(h.takeEffects()).containsExactly(ended(wb, DONE, 0));
            assertThat(totals().waiting()).isZero();
            assertThat(pool("k")).isNull();
        }

        @Test
        @DisplayName("only the waiting slot goes; the held slot below it is released by the next RELEASE")
        void heldSlotBelowWaitStays() {
            long holder = h.open();
            long s = h.open();
            hold(holder, "k", 1);
            long fa = hold(s, "a", 1);
            PoolAcquire w = waitOn(s, Kind.ACQ4ME, "k", 10_000);
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "k", 0));
            assertThat(h.takeEffects()).containsExactly(ended(w, RELEASED, 0));
            assertThat(slots(s)).extracting(View.PoolSlot::key).containsExactly("a");
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(RELEASED, "a", fa));
            assertThat(h.apply(release(s))).isEqualTo(new PoolReply(NOT_LOCKED, null, 0));
            assertNoEffects();
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("timeouts follow the entries' clock")
    class Timeouts {

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("no early timeout: nothing 1 ms before the deadline, TIMEOUT when an entry reaches it")
        void noEarlyTimeout(Kind kind) {
            long holder = h.open();
            long s = h.open();
            hold(holder, "k", 1);
            PoolAcquire w = waitOn(s, kind, "k", 3_000);
            long deadline = h.now() + 3_000;
            assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(deadline);

            h.advance(2_999);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
            assertNoEffects();
            assertThat(pool("k").waiting()).isEqualTo(1);

            h.advance(1);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(1));
            assertThat(h.takeEffects()).containsExactly(ended(w, TIMEOUT, 0));
            assertThat(slots(s)).isEmpty();
            assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(Long.MAX_VALUE);
        }

        @Test
        @DisplayName("any entry expires due waits, not only ExpireWaits")
        void anyEntryExpires() {
            long holder = h.open();
            long s = h.open();
            hold(holder, "k", 1);
            PoolAcquire w = waitOn(s, Kind.ACQ4ME, "k", 1_000);
            h.advance(1_500);
            Applied a = h.entry(new OpenSession(null, 10_000));
            assertThat(a.effects()).containsExactly(ended(w, TIMEOUT, 0));
            h.takeEffects();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("a wait due in the same entry as the holder's RELEASE times out first (no LOCKED, no DONE)")
        void expiryBeforeCommandsOfTheEntry(Kind kind) {
            long holder = h.open();
            long s = h.open();
            long f = hold(holder, "k", 1);
            PoolAcquire w = waitOn(s, kind, "k", 1_000);
            h.advance(1_000);
            assertThat(h.apply(release(holder))).isEqualTo(new PoolReply(RELEASED, "k", f));
            assertThat(h.takeEffects()).containsExactly(ended(w, TIMEOUT, 0));
            assertThat(pool("k")).isNull();
            assertThat(slots(s)).isEmpty();
        }

        @Test
        @DisplayName("no spurious TIMEOUT after a wait was granted")
        void noSpuriousTimeoutAfterGrant() {
            long holder = h.open();
            long s = h.open();
            long f = hold(holder, "k", 1);
            PoolAcquire w = waitOn(s, Kind.ACQ4ME, "k", 3_000);
            h.advance(1_000);
            assertThat(h.apply(release(holder))).isEqualTo(new PoolReply(RELEASED, "k", f));
            long granted = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(w, LOCKED, granted));
            h.advance(10_000);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
            assertNoEffects();
            assertThat(slots(s)).extracting(View.PoolSlot::state, View.PoolSlot::id).containsExactly(tuple("HELD", granted));
        }

        @Test
        @DisplayName("no early timeout after an initial delay: a new wait is timed from its own start")
        void noEarlyTimeoutAfterInitialDelay() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire w2 = waitOn(c2, Kind.ACQ4ME, "k", 3_000);      // deadline t0 + 3000
            h.advance(1_000);
            assertThat(status(h.apply(release(c1)))).isEqualTo(RELEASED);
            assertThat(h.takeEffects()).containsExactly(ended(w2, LOCKED, fenceOfLastEntry()));
            PoolAcquire w1 = waitOn(c1, Kind.ACQ4ME, "k", 3_000);      // deadline t0 + 4000
            h.advance(2_500);                                           // t0 + 3500: past c2's old deadline
            h.tick();
            assertNoEffects();
            h.advance(500);                                             // t0 + 4000
            h.tick();
            assertThat(h.takeEffects()).containsExactly(ended(w1, TIMEOUT, 0));
        }

        @Test
        @DisplayName("waits due in one entry time out oldest deadline first, each in its own key")
        void severalDueWaits() {
            long holder = h.open();
            long c2 = h.open();
            long c3 = h.open();
            long c4 = h.open();
            hold(holder, "k", 1);
            hold(holder, "j", 1);
            PoolAcquire w2 = waitOn(c2, Kind.ACQ4ME, "k", 3_000);
            PoolAcquire w3 = waitOn(c3, Kind.ACQ4ANY, "k", 1_000);
            PoolAcquire w4 = waitOn(c4, Kind.ACQ4ME, "j", 2_000);
            h.advance(5_000);
            assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(3));
            assertThat(h.takeEffects()).containsExactly(ended(w3, TIMEOUT, 0), ended(w4, TIMEOUT, 0), ended(w2, TIMEOUT, 0));
            assertThat(totals().waiting()).isZero();
            assertThat(totals().processing()).isEqualTo(2);
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("timeout 0 means do not wait: LOCKED if free, else TIMEOUT at once, never QUEUED")
        void timeoutZeroDoesNotWait(Kind kind) {
            long c1 = h.open();
            long c2 = h.open();
            assertThat(status(h.apply(acq(kind, c1, "k", 1, 5, 0)))).isEqualTo(LOCKED);
            assertThat(status(h.apply(acq(kind, c2, "k", 1, 5, 0)))).isEqualTo(TIMEOUT);
            assertThat(h.lookup(new Query.GetSummary()).waits()).isZero();
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("poolcounterd's test suite, in our words")
    class Inventory {

        @Test
        @DisplayName("single client: a free key is LOCKED whatever the timeout (0, short, long)")
        void singleClientTimeoutsIrrelevantWhenFree() {
            long s = h.open();
            for (long t : new long[] {0, 1, 1_000, Limits.defaults().maxWaitMs()}) {
                assertThat(status(h.apply(me(s, "k", 1, 1, t)))).as("timeout %d", t).isEqualTo(LOCKED);
                assertThat(status(h.apply(release(s)))).isEqualTo(RELEASED);
            }
        }

        @Test
        @DisplayName("single client: maxqueue 1 on a key it holds -> QUEUE_FULL")
        void singleClientMaxQueueOne() {
            long s = h.open();
            hold(s, "k", 1);
            assertThat(status(h.apply(me(s, "k", 2, 1, 1_000)))).isEqualTo(QUEUE_FULL);
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("single client: ending the session releases its slots; the keys disappear")
        void disconnectReleases(End how) {
            long s = h.open();
            hold(s, "a", 1);
            hold(s, "b", 1);
            end(how, s);
            assertThat(pool("a")).isNull();
            assertThat(pool("b")).isNull();
            assertThat(totals().keys()).isZero();
            assertThat(status(h.apply(me(h.open(), "a", 1, 1, 0)))).isEqualTo(LOCKED);
        }

        static Stream<Arguments> twoClientCombinations() {
            // workers, maxqueue (both clients), second client's timeout -> second client's answer
            return Stream.of(
                    arguments(1, 1, 0L, QUEUE_FULL),
                    arguments(1, 1, 1_000L, QUEUE_FULL),
                    arguments(1, 2, 0L, TIMEOUT),
                    arguments(1, 2, 1_000L, QUEUED),
                    arguments(2, 1, 0L, QUEUE_FULL),
                    arguments(2, 2, 0L, LOCKED),
                    arguments(2, 2, 1_000L, LOCKED));
        }

        @ParameterizedTest(name = "workers {0} maxqueue {1} timeout {2} -> {3}")
        @MethodSource("twoClientCombinations")
        @DisplayName("two clients: workers/maxqueue combinations")
        void twoClients(int workers, int maxQueue, long timeout, PoolStatus expected) {
            for (Kind kind : Kind.values()) {
                Harness fresh = new Harness();
                h = fresh;
                long c1 = h.open();
                long c2 = h.open();
                assertThat(status(h.apply(me(c1, "k", workers, maxQueue, 0)))).isEqualTo(LOCKED);
                assertThat(status(h.apply(acq(kind, c2, "k", workers, maxQueue, timeout)))).as(kind.name())
                        .isEqualTo(expected);
            }
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("two clients: the second ACQ4ME times out, then succeeds once the first is gone")
        void secondTimesOutThenSucceeds(End how) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            assertThat(status(h.apply(me(c2, "k", 1, 5, 0)))).isEqualTo(TIMEOUT);
            PoolAcquire w = waitOn(c2, Kind.ACQ4ME, "k", 1_000);
            h.advance(1_000).tick();
            assertThat(h.takeEffects()).containsExactly(ended(w, TIMEOUT, 0));
            end(how, c1);
            h.takeEffects();
            assertThat(status(h.apply(me(c2, "k", 1, 5, 0)))).isEqualTo(LOCKED);
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("two clients: a waiter disconnecting leaves the holder and the key intact")
        void disconnectWhileWaiting(End how) {
            long c1 = h.open();
            long c2 = h.open();
            long f = hold(c1, "k", 1);
            waitOn(c2, Kind.ACQ4ME, "k", 10_000);
            Effect e = end(how, c2);
            assertThat(h.takeEffects()).containsExactly(e);
            assertThat(pool("k").waiting()).isZero();
            assertThat(pool("k").holders()).extracting(View.PoolHolder::session, View.PoolHolder::fence)
                    .containsExactly(tuple(c1, f));
            assertThat(h.apply(release(c1))).isEqualTo(new PoolReply(RELEASED, "k", f));
            assertNoEffects();
        }

        @Test
        @DisplayName("stats: idle gauges are zero")
        void idleStats() {
            assertThat(totals()).isEqualTo(zeroTotals());
            long s = h.open();
            hold(s, "k", 1);
            h.apply(release(s));
            View.PoolTotals t = totals();
            assertThat(t.keys()).isZero();
            assertThat(t.processing()).isZero();
            assertThat(t.waiting()).isZero();
        }

        @Test
        @DisplayName("stats: every counter after a scripted run")
        void countersAfterScript() {
            long c1 = h.open();
            long c2 = h.open();
            long c3 = h.open();
            long c4 = h.open();
            long c5 = h.open();
            hold(c1, "k", 1);                                                      // acquired 1
            assertThat(status(h.apply(me(c2, "k", 1, 1, 0)))).isEqualTo(QUEUE_FULL); // full_queues 1
            assertThat(status(h.apply(me(c2, "k", 1, 5, 0)))).isEqualTo(TIMEOUT);    // timeouts 1
            waitOn(c2, Kind.ACQ4ME, "k", 2_000);
            assertThat(code(h.apply(me(c2, "m", 1, 5, 0)))).isEqualTo(ErrorCode.WAIT_FOR_RESPONSE); // lock_while_waiting 1
            waitOn(c3, Kind.ACQ4ANY, "k", 5_000);
            assertThat(totals().waiting()).isEqualTo(2);

            h.advance(2_000).tick();                                                // c2 TIMEOUT after 2000 ms
            waitOn(c4, Kind.ACQ4ME, "k", 5_000);
            h.advance(1_000);
            assertThat(status(h.apply(release(c1)))).isEqualTo(RELEASED);          // held 3000; c3 DONE after 3000 (gains 3000); c4 LOCKED after 1000
            assertThat(status(h.apply(release(c4)))).isEqualTo(RELEASED);          // held 0
            assertThat(status(h.apply(release(c4)))).isEqualTo(NOT_LOCKED);        // release_mismatch 1
            for (String k : List.of("a", "b", "c", "d")) {
                hold(c5, k, 1);
            }
            assertThat(status(h.apply(me(c5, "e", 1, 5, 0)))).isEqualTo(LOCK_HELD); // lock_mismatch 1

            assertThat(totals()).isEqualTo(new View.PoolTotals(
                    4, 4, 0,          // keys, processing, waiting
                    6, 2, 1, 2,       // acquired, released, done, timeouts
                    1, 1, 1, 1,       // queueFull, lockHeld, waitForResponse, releaseMismatch
                    3_000, 1_000, 3_000, 2_000, // holdMs, waitMeMs, waitAnyMs, timeoutWaitMs
                    3_000, 3_000));             // doneWaitMs, gainedMs

            end(End.CLOSE, c5);
            View.PoolTotals t = totals();
            assertThat(t.keys()).isZero();
            assertThat(t.processing()).isZero();
            assertThat(t.waiting()).isZero();
        }

        @Test
        @DisplayName("stats: an explicit RELEASE adds each DONE waiter's wait to doneWaitMs and the releaser's hold to gainedMs")
        void doneWaitAndGainedTime() {
            long holder = h.open();
            long a = h.open();
            long b = h.open();
            long t0 = h.now() - 1_000; // times below are t0 + the numbers in the comments

            long f = hold(holder, "k", 1);                       // t=1000
            h.advance(200);
            PoolAcquire wa = waitOn(a, Kind.ACQ4ANY, "k", 10_000); // t=1200
            h.advance(300);
            PoolAcquire wb = waitOn(b, Kind.ACQ4ANY, "k", 10_000); // t=1500
            h.advance(1_500);
            assertThat(h.now() - t0).isEqualTo(3_000);
            assertThat(h.apply(release(holder))).isEqualTo(new PoolReply(RELEASED, "k", f));
            assertThat(h.takeEffects()).containsExactly(ended(wa, DONE, 0), ended(wb, DONE, 0));

            View.PoolTotals t = totals();
            assertThat(t.done()).isEqualTo(2);
            assertThat(t.holdMs()).isEqualTo(2_000);
            assertThat(t.doneWaitMs()).isEqualTo(1_800 + 1_500);
            assertThat(t.gainedMs()).as("the releaser's 2000 ms, once per DONE waiter").isEqualTo(2_000 + 2_000);
            assertThat(t.waitAnyMs()).as("DONE waits are ACQ4ANY waits too").isEqualTo(1_800 + 1_500);
            assertThat(t.waitMeMs()).isZero();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("stats: an ACQ4ANY waiter handed the slot on disconnect adds to waitAnyMs only; its own later RELEASE gains from the hand-off")
        void handOffOnDisconnectIsNoDone(End how) {
            // something already in the two counters, so that "unchanged" is not just "still zero"
            long x = h.open();
            long y = h.open();
            hold(x, "warm", 1);
            waitOn(y, Kind.ACQ4ANY, "warm", 10_000);
            h.advance(100);
            h.apply(release(x));
            h.takeEffects();
            View.PoolTotals before = totals();
            assertThat(before.doneWaitMs()).isEqualTo(100);
            assertThat(before.gainedMs()).isEqualTo(100);

            long holder = h.open();
            long a = h.open();
            long b = h.open();
            long t0 = h.now() - 1_000;
            hold(holder, "k", 1);                                // t=1000
            h.advance(200);
            PoolAcquire wa = waitOn(a, Kind.ACQ4ANY, "k", 10_000); // t=1200
            h.advance(1_800);
            Effect e = end(how, holder);                         // t=3000: A gets the slot, not DONE
            long fa = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(wa, LOCKED, fa), e);

            View.PoolTotals t = totals();
            assertThat(t.done()).isEqualTo(before.done());
            assertThat(t.doneWaitMs()).isEqualTo(before.doneWaitMs());
            assertThat(t.gainedMs()).isEqualTo(before.gainedMs());
            assertThat(t.waitAnyMs()).isEqualTo(before.waitAnyMs() + 1_800);
            assertThat(t.holdMs()).isEqualTo(before.holdMs() + 2_000);

            // A's hold counts from the hand-off (t=3000), not from its wait (1200) nor H's grant (1000)
            h.advance(100);
            PoolAcquire wb = waitOn(b, Kind.ACQ4ANY, "k", 10_000); // t=3100
            h.advance(300);
            assertThat(h.now() - t0).isEqualTo(3_400);
            assertThat(h.apply(release(a))).isEqualTo(new PoolReply(RELEASED, "k", fa));
            assertThat(h.takeEffects()).containsExactly(ended(wb, DONE, 0));
            t = totals();
            assertThat(t.done()).isEqualTo(before.done() + 1);
            assertThat(t.doneWaitMs()).isEqualTo(before.doneWaitMs() + 300);
            assertThat(t.gainedMs()).isEqualTo(before.gainedMs() + 400);
            assertThat(t.waitAnyMs()).isEqualTo(before.waitAnyMs() + 1_800 + 300);
        }
    }

    // =============================================================================================
    @Nested
    @DisplayName("idempotent retries (same session, same request id)")
    class Retries {

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("a retried LOCKED acquire returns the first result and takes no second slot")
        void retryLocked(Kind kind) {
            long s = h.open();
            PoolAcquire a = acq(kind, s, "k", 5, 5, 0);
            Result first = h.apply(a);
            assertThat(status(first)).isEqualTo(LOCKED);
            assertThat(h.apply(a)).isEqualTo(first);
            assertThat(pool("k").processing()).isEqualTo(1);
            assertThat(slots(s)).hasSize(1);
            assertThat(totals().acquired()).isEqualTo(1);
        }

        @Test
        @DisplayName("a retried RELEASE returns the first result and releases nothing more")
        void retryRelease() {
            long s = h.open();
            long fa = hold(s, "a", 1);
            long fb = hold(s, "b", 1);
            PoolRelease r = new PoolRelease(s, ++rid, null, 0);
            assertThat(h.apply(r)).isEqualTo(new PoolReply(RELEASED, "b", fb));
            assertThat(h.apply(r)).isEqualTo(new PoolReply(RELEASED, "b", fb));
            assertThat(slots(s)).extracting(View.PoolSlot::id).containsExactly(fa);
            assertThat(totals().released()).isEqualTo(1);
        }

        @Test
        @DisplayName("a retried QUEUE_FULL stays QUEUE_FULL even after the key emptied")
        void retryQueueFull() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire a = me(c2, "k", 1, 1, 0);
            assertThat(status(h.apply(a))).isEqualTo(QUEUE_FULL);
            h.apply(release(c1));
            assertThat(h.apply(a)).isEqualTo(new PoolReply(QUEUE_FULL, "k", 0));
            assertThat(pool("k")).isNull();
            assertThat(slots(c2)).isEmpty();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(Kind.class)
        @DisplayName("a retried QUEUED acquire while still waiting answers QUEUED, and does not queue twice")
        void retryWhileQueued(Kind kind) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire a = waitOn(c2, kind, "k", 10_000);
            assertThat(h.apply(a)).isEqualTo(new PoolReply(QUEUED, "k", 0));
            assertThat(pool("k").waiting()).isEqualTo(1);
            assertThat(slots(c2)).hasSize(1);
            assertThat(totals().waitForResponse()).isZero();
        }

        @Test
        @DisplayName("a retry after a QUEUED acquire was granted returns LOCKED with the fence")
        void retryAfterGrant() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire a = waitOn(c2, Kind.ACQ4ME, "k", 10_000);
            h.apply(release(c1));
            long f = fenceOfLastEntry();
            assertThat(h.takeEffects()).containsExactly(ended(a, LOCKED, f));
            assertThat(h.apply(a)).isEqualTo(new PoolReply(LOCKED, "k", f));
            assertThat(pool("k").processing()).isEqualTo(1);
            assertThat(slots(c2)).hasSize(1);
            assertNoEffects();
        }

        @ParameterizedTest(name = "{0}")
        @EnumSource(End.class)
        @DisplayName("a retry after an ACQ4ANY wait was granted by a holder's disconnect returns LOCKED with the fence")
        void retryAfterGrantOnDisconnect(End how) {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire a = waitOn(c2, Kind.ACQ4ANY, "k", 10_000);
            end(how, c1);
            long f = fenceOfLastEntry();
            h.takeEffects();
            assertThat(h.apply(a)).isEqualTo(new PoolReply(LOCKED, "k", f));
        }

        @Test
        @DisplayName("a retry after a QUEUED acquire timed out returns TIMEOUT and does not queue again")
        void retryAfterTimeout() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire a = waitOn(c2, Kind.ACQ4ME, "k", 1_000);
            h.advance(1_000).tick();
            h.takeEffects();
            assertThat(h.apply(a)).isEqualTo(new PoolReply(TIMEOUT, "k", 0));
            assertThat(pool("k").waiting()).isZero();
            assertThat(slots(c2)).isEmpty();
        }

        @Test
        @DisplayName("a retried rejected acquire returns the first rejection and changes nothing, even once it could succeed")
        void retryAfterRejection() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire w = waitOn(c2, Kind.ACQ4ME, "k", 10_000);
            PoolAcquire tooEarly = me(c2, "j", 1, 5, 0);
            Result first = h.apply(tooEarly);
            assertThat(code(first)).isEqualTo(ErrorCode.WAIT_FOR_RESPONSE);
            h.apply(release(c1));
            assertThat(h.takeEffects()).containsExactly(ended(w, LOCKED, fenceOfLastEntry()));

            // the retry (e.g. after a lost reply) must not now take a slot on "j"
            assertThat(h.apply(tooEarly)).isEqualTo(first);
            assertThat(pool("j")).isNull();
            assertThat(slots(c2)).extracting(View.PoolSlot::key).containsExactly("k");
        }

        @Test
        @DisplayName("a retry after a QUEUED ACQ4ANY got DONE returns DONE")
        void retryAfterDone() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire a = waitOn(c2, Kind.ACQ4ANY, "k", 10_000);
            h.apply(release(c1));
            h.takeEffects();
            assertThat(h.apply(a)).isEqualTo(new PoolReply(DONE, "k", 0));
            assertThat(pool("k")).isNull();
            assertThat(slots(c2)).isEmpty();
        }

        @Test
        @DisplayName("a retry of an acquire whose wait the session cancelled answers the cancellation, not QUEUED")
        void retryAfterCancel() {
            long c1 = h.open();
            long c2 = h.open();
            hold(c1, "k", 1);
            PoolAcquire w = waitOn(c2, Kind.ACQ4ME, "k", 10_000);
            assertThat(h.apply(release(c2))).isEqualTo(new PoolReply(RELEASED, "k", 0));
            assertThat(h.apply(w)).isEqualTo(new PoolReply(RELEASED, "k", 0));
            assertThat(pool("k").waiting()).isZero();
            assertThat(slots(c2)).isEmpty();
        }
    }

    // ---- helpers --------------------------------------------------------------------------------

    private PoolAcquire acq(Kind kind, long session, String key, int workers, int maxQueue, long timeoutMs) {
        return new PoolAcquire(session, ++rid, key, workers, maxQueue, timeoutMs, kind.forAnyone);
    }

    private PoolAcquire me(long session, String key, int workers, int maxQueue, long timeoutMs) {
        return acq(Kind.ACQ4ME, session, key, workers, maxQueue, timeoutMs);
    }

    private PoolAcquire any(long session, String key, int workers, int maxQueue, long timeoutMs) {
        return acq(Kind.ACQ4ANY, session, key, workers, maxQueue, timeoutMs);
    }

    private Command release(long session) {
        return new PoolRelease(session, ++rid, null, 0);
    }

    /** Acquires {@code key} (maxqueue 100, timeout 0), asserts LOCKED, returns the fence. */
    private long hold(long session, String key, int workers) {
        Result r = h.apply(me(session, key, workers, 100, 0));
        assertThat(r).isEqualTo(new PoolReply(LOCKED, key, fenceOfLastEntry()));
        return fenceOfLastEntry();
    }

    /** Acquires a busy {@code key} with workers 1, maxqueue 100; asserts QUEUED and returns the request. */
    private PoolAcquire waitOn(long session, Kind kind, String key, long timeoutMs) {
        PoolAcquire a = acq(kind, session, key, 1, 100, timeoutMs);
        assertThat(h.apply(a)).isEqualTo(new PoolReply(QUEUED, key, 0));
        return a;
    }

    /** Ends the session as asked and returns the SessionEnded effect to expect. */
    private Effect end(End how, long session) {
        if (how == End.CLOSE) {
            assertThat(h.apply(new CloseSession(session, ++rid))).isEqualTo(new Result.SessionClosed(session));
        } else {
            assertThat(h.apply(new ExpireSessions(List.of(session)))).isEqualTo(new Result.SessionsExpired(List.of(session)));
        }
        assertThat(h.lookup(new Query.GetSession(session))).isNull();
        return new Effect.SessionEnded(session, how == End.EXPIRE);
    }

    private static PoolWaitEnded ended(PoolAcquire a, PoolStatus status, long fence) {
        return new PoolWaitEnded(a.session(), a.requestId(), a.key(), status, fence);
    }

    /** The fence of the first grant made by the last applied entry (a fence carries its entry's index). */
    private long fenceOfLastEntry() {
        return h.lastIndex() << 16;
    }

    private static PoolStatus status(Result r) {
        assertThat(r).isInstanceOf(PoolReply.class);
        return ((PoolReply) r).status();
    }

    private static long fenceOf(Result r) {
        assertThat(status(r)).isEqualTo(LOCKED);
        return ((PoolReply) r).fence();
    }

    private static ErrorCode code(Result r) {
        assertThat(r).isInstanceOf(Result.Rejected.class);
        return ((Result.Rejected) r).code();
    }

    /** A PoolStatus for a pool reply, an ErrorCode for a rejection. */
    private static Object outcome(Result r) {
        if (r instanceof PoolReply p) {
            return p.status();
        }
        if (r instanceof Result.Rejected x) {
            return x.code();
        }
        return r;
    }

    private View.Pool pool(String key) {
        return h.lookup(new Query.GetPool(key));
    }

    private View.PoolTotals totals() {
        return h.lookup(new Query.GetPoolTotals());
    }

    private static View.PoolTotals zeroTotals() {
        return new View.PoolTotals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    private List<View.PoolSlot> slots(long session) {
        return new ArrayList<>(h.lookup(new Query.GetSession(session)).slots());
    }

    private void assertNoEffects() {
        assertThat(h.takeEffects()).isEmpty();
    }
}
