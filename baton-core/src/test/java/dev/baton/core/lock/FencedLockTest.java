package dev.baton.core.lock;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.ExpireWaits;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Effect.LockWaitEnded;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static dev.baton.core.command.Result.LockStatus.ALREADY_HELD;
import static dev.baton.core.command.Result.LockStatus.BUSY;
import static dev.baton.core.command.Result.LockStatus.CANCELLED;
import static dev.baton.core.command.Result.LockStatus.LOCKED;
import static dev.baton.core.command.Result.LockStatus.NOT_HELD;
import static dev.baton.core.command.Result.LockStatus.QUEUED;
import static dev.baton.core.command.Result.LockStatus.TIMEOUT;
import static dev.baton.core.command.Result.LockStatus.UNLOCKED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * Fenced locks: tryLock / lock-with-timeout, FIFO hand-off, timeouts on the entries' clock, fences
 * strictly increasing across locks, pools and snapshot recovery, stale fences refused, session end.
 */
class FencedLockTest {

    enum End { CLOSE, EXPIRE }

    private Harness h;
    private long rid;

    @BeforeEach
    void setUp() {
        h = new Harness();
        rid = 0;
    }

    // ---- acquire ------------------------------------------------------------------------------

    @Test
    @DisplayName("ListLocks: most waiters first, then by name, at most limit, with the count of all locks")
    void listLocks() {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        h.apply(lock(a, "beta", 0));
        h.apply(lock(a, "alpha", 0));
        h.apply(lock(a, "gamma", 0));
        h.apply(lock(b, "gamma", 10_000));
        h.apply(lock(c, "gamma", 10_000));
        h.apply(lock(b, "beta", 10_000));
        View.LockList all = h.lookup(new Query.ListLocks(10));
        assertThat(all.count()).isEqualTo(3);
        assertThat(all.locks()).extracting(View.Lock::name).containsExactly("gamma", "beta", "alpha");
        assertThat(all.locks().get(0)).isEqualTo(view("gamma"));
        assertThat(all.locks().get(0).waiters()).extracting(View.LockWaiter::session).containsExactly(b, c);
        View.LockList first = h.lookup(new Query.ListLocks(1));
        assertThat(first.count()).isEqualTo(3);
        assertThat(first.locks()).extracting(View.Lock::name).containsExactly("gamma");
        assertThat(h.lookup(new Query.ListLocks(0)).locks()).isEmpty();
    }

    @Test
    @DisplayName("tryLock on a free lock -> LOCKED with a fresh fence; the lock shows the holder")
    void tryLockFree() {
        long a = h.open();
        Result r = h.apply(lock(a, "L", 0));
        long f = fenceOfLastEntry();
        assertThat(r).isEqualTo(new LockReply(LOCKED, "L", f));
        assertThat(f).isPositive();
        assertThat(view("L")).isEqualTo(new View.Lock("L", a, f, h.now(), List.of()));
        assertThat(h.lookup(new Query.GetSession(a)).locksHeld()).containsEntry("L", f);
        assertNoEffects();
    }

    @Test
    @DisplayName("tryLock on a lock held by another session -> BUSY, nothing queued, no fence used")
    void tryLockBusy() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        long lastFence = h.lookup(new Query.GetSummary()).lastFence();
        assertThat(h.apply(lock(b, "L", 0))).isEqualTo(new LockReply(BUSY, "L", 0));
        assertThat(view("L")).isEqualTo(new View.Lock("L", a, f, view("L").since(), List.of()));
        assertThat(h.lookup(new Query.GetSession(b)).lockWaits()).isEmpty();
        assertThat(h.lookup(new Query.GetSummary()).lastFence()).isEqualTo(lastFence);
        assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(Long.MAX_VALUE);
        assertNoEffects();
    }

    @ParameterizedTest(name = "timeout {0} ms")
    @ValueSource(longs = {0, 5_000})
    @DisplayName("acquiring a lock the session already holds -> ALREADY_HELD with the current fence, nothing changes")
    void alreadyHeld(long timeout) {
        long a = h.open();
        long f = locked(a, "L");
        long lastFence = h.lookup(new Query.GetSummary()).lastFence();
        assertThat(h.apply(lock(a, "L", timeout))).isEqualTo(new LockReply(ALREADY_HELD, "L", f));
        assertThat(view("L").fence()).isEqualTo(f);
        assertThat(view("L").waiters()).isEmpty();
        assertThat(h.lookup(new Query.GetSummary()).lastFence()).isEqualTo(lastFence);
    }

    @Test
    @DisplayName("lock with timeout on a held lock -> QUEUED, then LOCKED (LockWaitEnded) with a greater fence on unlock")
    void queuedThenGranted() {
        long a = h.open();
        long b = h.open();
        long f1 = locked(a, "L");
        LockAcquire w = lock(b, "L", 10_000);
        assertThat(h.apply(w)).isEqualTo(new LockReply(QUEUED, "L", 0));
        assertThat(view("L").waiters()).containsExactly(new View.LockWaiter(b, w.requestId(), h.now(), h.now() + 10_000));
        assertThat(h.lookup(new Query.GetSession(b)).lockWaits()).containsExactly("L");
        assertNoEffects();

        h.advance(500);
        assertThat(h.apply(unlock(a, "L", f1))).isEqualTo(new LockReply(UNLOCKED, "L", f1));
        long f2 = fenceOfLastEntry();
        assertThat(f2).isGreaterThan(f1);
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(b, w.requestId(), "L", LOCKED, f2));
        assertThat(view("L")).isEqualTo(new View.Lock("L", b, f2, h.now(), List.of()));
        assertThat(h.lookup(new Query.GetSession(b)).locksHeld()).containsEntry("L", f2);
        assertThat(h.lookup(new Query.GetSession(b)).lockWaits()).isEmpty();
        assertThat(h.lookup(new Query.GetSession(a)).locksHeld()).isEmpty();
        assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    @DisplayName("waiters are served FIFO (by arrival, not by timeout length)")
    void fifo() {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        long d = h.open();
        long f = locked(a, "L");
        LockAcquire wb = queued(b, "L", 30_000);
        h.advance(10);
        LockAcquire wc = queued(c, "L", 1_000);
        h.advance(10);
        LockAcquire wd = queued(d, "L", 60_000);
        assertThat(view("L").waiters()).extracting(View.LockWaiter::session).containsExactly(b, c, d);

        long prev = f;
        long[] holders = {a, b, c, d};
        LockAcquire[] waits = {null, wb, wc, wd};
        for (int i = 0; i < 3; i++) {
            assertThat(h.apply(unlock(holders[i], "L", prev))).isEqualTo(new LockReply(UNLOCKED, "L", prev));
            long next = fenceOfLastEntry();
            assertThat(next).isGreaterThan(prev);
            assertThat(h.takeEffects()).containsExactly(
                    new LockWaitEnded(holders[i + 1], waits[i + 1].requestId(), "L", LOCKED, next));
            assertThat(view("L").holder()).isEqualTo(holders[i + 1]);
            prev = next;
        }
        assertThat(h.apply(unlock(d, "L", prev))).isEqualTo(new LockReply(UNLOCKED, "L", prev));
        assertNoEffects();
        assertThat(view("L")).isNull();
    }

    @Test
    @DisplayName("a wait times out when an entry reaches its deadline, not 1 ms before; the holder keeps the lock")
    void timeoutAtDeadline() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        LockAcquire w = queued(b, "L", 2_000);
        h.advance(1_999);
        assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
        assertNoEffects();
        assertThat(view("L").waiters()).hasSize(1);

        h.advance(1);
        assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(1));
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(b, w.requestId(), "L", TIMEOUT, 0));
        assertThat(view("L").waiters()).isEmpty();
        assertThat(view("L").holder()).isEqualTo(a);
        assertThat(view("L").fence()).isEqualTo(f);
        assertThat(h.lookup(new Query.GetSession(b)).lockWaits()).isEmpty();
        // b is no longer waiting: unlocking now is NOT_HELD, and a may hand the lock to nobody
        assertThat(h.apply(unlock(b, "L", 0))).isEqualTo(new LockReply(NOT_HELD, "L", 0));
        assertThat(h.apply(unlock(a, "L", f))).isEqualTo(new LockReply(UNLOCKED, "L", f));
        assertNoEffects();
        assertThat(view("L")).isNull();
    }

    @Test
    @DisplayName("a wait due in the same entry as the unlock times out first: TIMEOUT, not LOCKED")
    void expiryBeforeUnlockInSameEntry() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        LockAcquire w = queued(b, "L", 1_000);
        h.advance(1_000);
        assertThat(h.apply(unlock(a, "L", f))).isEqualTo(new LockReply(UNLOCKED, "L", f));
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(b, w.requestId(), "L", TIMEOUT, 0));
        assertThat(view("L")).isNull();
    }

    @Test
    @DisplayName("no spurious TIMEOUT after a wait was granted")
    void noSpuriousTimeout() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        LockAcquire w = queued(b, "L", 2_000);
        h.advance(1_000);
        h.apply(unlock(a, "L", f));
        long f2 = fenceOfLastEntry();
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(b, w.requestId(), "L", LOCKED, f2));
        h.advance(5_000);
        assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
        assertNoEffects();
        assertThat(view("L").holder()).isEqualTo(b);
    }

    @Test
    @DisplayName("acquiring again while already waiting for the same lock -> Rejected WAIT_FOR_RESPONSE")
    void acquireWhileWaiting() {
        long a = h.open();
        long b = h.open();
        locked(a, "L");
        queued(b, "L", 10_000);
        assertThat(code(h.apply(lock(b, "L", 10_000)))).isEqualTo(ErrorCode.WAIT_FOR_RESPONSE);
        assertThat(view("L").waiters()).hasSize(1);
    }

    static Stream<Arguments> badArguments() {
        return Stream.of(
                arguments("empty name", "", 0L),
                arguments("name longer than maxNameBytes", "n".repeat(Limits.defaults().maxNameBytes() + 1), 0L),
                arguments("negative timeout", "L", -1L),
                arguments("timeout above maxWaitMs", "L", Limits.defaults().maxWaitMs() + 1));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badArguments")
    @DisplayName("bad arguments -> Rejected INVALID_ARGUMENT, nothing created")
    void badArgumentsRejected(String what, String name, long timeout) {
        long a = h.open();
        assertThat(code(h.apply(lock(a, name, timeout)))).isEqualTo(ErrorCode.INVALID_ARGUMENT);
        assertThat(h.lookup(new Query.GetSummary()).locks()).isZero();
        assertThat(h.lookup(new Query.GetSummary()).lastFence()).isZero();
    }

    // ---- release ------------------------------------------------------------------------------

    @ParameterizedTest(name = "quoting fence: {0}")
    @ValueSource(booleans = {true, false})
    @DisplayName("unlock by the holder (with the current fence or with fence 0) -> UNLOCKED, the lock disappears")
    void unlockCurrent(boolean quoteFence) {
        long a = h.open();
        long f = locked(a, "L");
        assertThat(h.apply(unlock(a, "L", quoteFence ? f : 0))).isEqualTo(new LockReply(UNLOCKED, "L", f));
        assertThat(view("L")).isNull();
        assertThat(h.lookup(new Query.GetSession(a)).locksHeld()).isEmpty();
    }

    @Test
    @DisplayName("unlock with an older fence of the same holder -> STALE_FENCE, the lock stays held")
    void staleFenceSameSession() {
        long a = h.open();
        long f1 = locked(a, "L");
        h.apply(unlock(a, "L", f1));
        long f2 = locked(a, "L");
        assertThat(f2).isGreaterThan(f1);
        assertThat(code(h.apply(unlock(a, "L", f1)))).isEqualTo(ErrorCode.STALE_FENCE);
        assertThat(view("L").holder()).isEqualTo(a);
        assertThat(view("L").fence()).isEqualTo(f2);
        assertThat(h.apply(unlock(a, "L", f2))).isEqualTo(new LockReply(UNLOCKED, "L", f2));
    }

    @Test
    @DisplayName("a paused ex-holder quoting its old fence cannot unlock the new holder's grant")
    void staleFenceAfterHandOff() {
        long a = h.open();
        long b = h.open();
        long f1 = locked(a, "L");
        LockAcquire w = queued(b, "L", 10_000);
        end(End.EXPIRE, a);
        long f2 = fenceOfLastEntry();
        assertThat(h.takeEffects()).contains(new LockWaitEnded(b, w.requestId(), "L", LOCKED, f2));

        // the old holder's session is gone
        assertThat(code(h.apply(unlock(a, "L", f1)))).isEqualTo(ErrorCode.UNKNOWN_SESSION);
        // it comes back with a new session and quotes its old grant
        long a2 = h.open();
        assertThat(code(h.apply(unlock(a2, "L", f1)))).isEqualTo(ErrorCode.STALE_FENCE);
        // the new holder quoting the old grant is refused as well
        assertThat(code(h.apply(unlock(b, "L", f1)))).isEqualTo(ErrorCode.STALE_FENCE);
        assertThat(view("L").holder()).isEqualTo(b);
        assertThat(view("L").fence()).isEqualTo(f2);
        assertThat(h.apply(unlock(b, "L", f2))).isEqualTo(new LockReply(UNLOCKED, "L", f2));
    }

    @Test
    @DisplayName("another session quoting the holder's current fence does not unlock it")
    void nonHolderCannotUnlock() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        Result r = h.apply(unlock(b, "L", f));
        assertThat(r).satisfiesAnyOf(
                x -> assertThat(x).isEqualTo(new LockReply(NOT_HELD, "L", 0)),
                x -> assertThat(code(x)).isEqualTo(ErrorCode.STALE_FENCE));
        assertThat(view("L").holder()).isEqualTo(a);
        assertThat(view("L").fence()).isEqualTo(f);
    }

    @Test
    @DisplayName("unlock while waiting -> CANCELLED: the wait is gone, no TIMEOUT later, no hand-off to it")
    void unlockWhileWaitingCancels() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        LockAcquire w = queued(b, "L", 2_000);
        assertThat(h.apply(unlock(b, "L", 0))).isEqualTo(new LockReply(CANCELLED, "L", 0));
        // whoever waits for the acquire's outcome hears it ended
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(b, w.requestId(), "L", CANCELLED, 0));
        assertThat(h.apply(w)).as("the acquire's remembered answer").isEqualTo(new LockReply(CANCELLED, "L", 0));
        assertThat(view("L").waiters()).isEmpty();
        assertThat(h.lookup(new Query.GetSession(b)).lockWaits()).isEmpty();
        assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(Long.MAX_VALUE);
        h.advance(2_000);
        assertThat(h.tick().results()).containsExactly(new Result.WaitsExpired(0));
        assertNoEffects();
        assertThat(h.apply(unlock(a, "L", f))).isEqualTo(new LockReply(UNLOCKED, "L", f));
        assertNoEffects();
        assertThat(view("L")).isNull();
        // b may try again
        assertThat(status(h.apply(lock(b, "L", 0)))).isEqualTo(LOCKED);
    }

    @Test
    @DisplayName("unlock of a lock the session neither holds nor waits for -> NOT_HELD, nothing changes")
    void notHeld() {
        long a = h.open();
        long b = h.open();
        assertThat(h.apply(unlock(a, "L", 0))).isEqualTo(new LockReply(NOT_HELD, "L", 0));
        long f = locked(a, "L");
        assertThat(h.apply(unlock(b, "L", 0))).isEqualTo(new LockReply(NOT_HELD, "L", 0));
        assertThat(view("L").holder()).isEqualTo(a);
        assertThat(view("L").fence()).isEqualTo(f);
    }

    // ---- session end --------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(End.class)
    @DisplayName("session end hands a held lock to the next waiter (FIFO) with a new fence")
    void sessionEndHandsOn(End how) {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        long f1 = locked(a, "L");
        LockAcquire wb = queued(b, "L", 10_000);
        queued(c, "L", 10_000);
        Effect e = end(how, a);
        long f2 = fenceOfLastEntry();
        assertThat(f2).isGreaterThan(f1);
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(b, wb.requestId(), "L", LOCKED, f2), e);
        assertThat(view("L").holder()).isEqualTo(b);
        assertThat(view("L").fence()).isEqualTo(f2);
        assertThat(view("L").waiters()).extracting(View.LockWaiter::session).containsExactly(c);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(End.class)
    @DisplayName("session end drops the session's lock waits silently; later hand-offs skip it")
    void sessionEndDropsWaits(End how) {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        long f = locked(a, "L");
        queued(b, "L", 10_000);
        LockAcquire wc = queued(c, "L", 20_000);
        Effect e = end(how, b);
        assertThat(h.takeEffects()).containsExactly(e);
        assertThat(view("L").waiters()).extracting(View.LockWaiter::session).containsExactly(c);
        assertThat(h.lookup(new Query.NextDeadline())).isEqualTo(h.now() + 20_000);
        h.apply(unlock(a, "L", f));
        assertThat(h.takeEffects()).containsExactly(new LockWaitEnded(c, wc.requestId(), "L", LOCKED, fenceOfLastEntry()));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(End.class)
    @DisplayName("session end with no waiters frees the lock; the next grant has a greater fence")
    void sessionEndFreesLock(End how) {
        long a = h.open();
        long f1 = locked(a, "L");
        locked(a, "M");
        end(how, a);
        assertThat(view("L")).isNull();
        assertThat(view("M")).isNull();
        long f2 = locked(h.open(), "L");
        assertThat(f2).isGreaterThan(f1);
    }

    // ---- fences -------------------------------------------------------------------------------

    @Test
    @DisplayName("every grant's fence is greater than any fence issued before, across locks and pools, and names its entry")
    void fencesStrictlyIncreaseAcrossPrimitives() {
        long a = h.open();
        long b = h.open();
        List<Long> fences = new ArrayList<>();

        fences.add(grantFence(h.apply(lock(a, "L", 0))));
        assertThat(fences.get(0) >>> 16).isEqualTo(h.lastIndex());
        fences.add(grantFence(h.apply(new PoolAcquire(a, ++rid, "p", 2, 5, 0, false))));
        assertThat(fences.get(1) >>> 16).isEqualTo(h.lastIndex());
        fences.add(grantFence(h.apply(lock(a, "M", 0))));

        // several grants in one entry: still strictly increasing, all naming that entry
        Applied batch = h.entry(lock(b, "N", 0), new PoolAcquire(b, ++rid, "p", 2, 5, 0, true), lock(b, "O", 0));
        for (Result r : batch.results()) {
            long f = grantFence(r);
            assertThat(f >>> 16).isEqualTo(batch.index());
            fences.add(f);
        }

        // hand-offs of a lock and a pool slot in one entry (session end)
        LockAcquire wl = queued(b, "L", 10_000);
        PoolAcquire wp = new PoolAcquire(b, ++rid, "q", 1, 5, 10_000, false);
        h.apply(new PoolAcquire(a, ++rid, "q", 1, 5, 0, false));
        fences.add(h.lookup(new Query.GetPool("q")).holders().get(0).fence());
        assertThat(h.apply(wp)).isEqualTo(new PoolReply(Result.PoolStatus.QUEUED, "q", 0));
        h.takeEffects();
        end(End.CLOSE, a);
        for (Effect e : h.takeEffects()) {
            if (e instanceof LockWaitEnded l) {
                assertThat(l.requestId()).isEqualTo(wl.requestId());
                fences.add(l.fence());
            } else if (e instanceof Effect.PoolWaitEnded p) {
                assertThat(p.requestId()).isEqualTo(wp.requestId());
                fences.add(p.fence());
            }
        }
        assertThat(fences).hasSize(9);
        assertThat(fences).doesNotHaveDuplicates().isSorted();
        assertThat(fences).allMatch(f -> f > 0);
    }

    @Test
    @DisplayName("after snapshot and recovery: same results and effects as the original, fences keep increasing")
    void fencesAfterRecovery() {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        long fl = locked(a, "L");
        LockAcquire wb = queued(b, "L", 5_000);
        h.apply(new PoolAcquire(a, ++rid, "p", 1, 5, 0, false));
        PoolAcquire wp = new PoolAcquire(c, ++rid, "p", 1, 5, 5_000, false);
        h.apply(wp);
        h.takeEffects();
        long maxBefore = h.lookup(new Query.GetSummary()).lastFence();
        assertThat(maxBefore).isGreaterThanOrEqualTo(fl);

        CoordinationStateMachine copy = h.recoverCopy();
        assertThat(copy.lastApplied()).isEqualTo(h.lastIndex());
        assertThat(Harness.snapshotOf(copy)).isEqualTo(h.snapshot());

        // the same further entries on both: unlock (hand-off), a new lock, a pool release (hand-off),
        // then a lock wait that times out in the copy's own clock
        List<List<Command>> next = List.of(
                List.of(unlock(a, "L", fl)),
                List.of(lock(c, "Z", 0)),
                List.of(new PoolRelease(a, ++rid, null, 0)),
                List.of(lock(a, "Z", 1_000)),
                List.of(new ExpireWaits()));
        long[] advance = {100, 100, 100, 100, 1_000};
        List<Long> copyFences = new ArrayList<>();
        long index = h.lastIndex();
        for (int i = 0; i < next.size(); i++) {
            h.advance(advance[i]);
            Applied original = h.entry(next.get(i).toArray(new Command[0]));
            Applied recovered = copy.update(List.of(Entry.of(++index, h.now(), next.get(i)))).get(0);
            assertThat(recovered).as("entry %d", i).isEqualTo(original);
            for (Result r : recovered.results()) {
                if (r instanceof LockReply l && l.status() == LOCKED) {
                    copyFences.add(l.fence());
                }
            }
            for (Effect e : recovered.effects()) {
                if (e instanceof LockWaitEnded l && l.status() == LOCKED) {
                    copyFences.add(l.fence());
                } else if (e instanceof Effect.PoolWaitEnded p && p.status() == Result.PoolStatus.LOCKED) {
                    copyFences.add(p.fence());
                }
            }
        }
        h.takeEffects();
        assertThat(copyFences).hasSize(3);     // b's lock hand-off, c's new lock, c's pool hand-off
        assertThat(copyFences).isSorted().doesNotHaveDuplicates().allMatch(f -> f > maxBefore);
        assertThat(copy.lookup(new Query.GetLock("L")).holder()).isEqualTo(b);
        assertThat(copy.lookup(new Query.GetLock("L")).waiters()).isEmpty();
        assertThat(copy.lookup(new Query.GetLock("Z")).waiters()).isEmpty();
        assertThat(Harness.snapshotOf(copy)).isEqualTo(h.snapshot());
        assertThat(wb.requestId()).isPositive();
    }

    // ---- idempotency --------------------------------------------------------------------------

    @Test
    @DisplayName("a retried tryLock returns its first result and takes nothing again")
    void retryTryLock() {
        long a = h.open();
        LockAcquire l = lock(a, "L", 0);
        Result first = h.apply(l);
        long f = grantFence(first);
        h.apply(unlock(a, "L", f));
        assertThat(h.apply(l)).isEqualTo(first);
        assertThat(view("L")).isNull();
    }

    @Test
    @DisplayName("a retry after a QUEUED lock was granted returns LOCKED with the fence; after a timeout, TIMEOUT")
    void retryAfterWait() {
        long a = h.open();
        long b = h.open();
        long c = h.open();
        long f = locked(a, "L");
        LockAcquire wb = queued(b, "L", 10_000);
        LockAcquire wc = queued(c, "L", 1_000);
        assertThat(h.apply(wb)).isEqualTo(new LockReply(QUEUED, "L", 0));
        h.advance(1_000).tick();
        h.apply(unlock(a, "L", f));
        long f2 = fenceOfLastEntry();
        h.takeEffects();
        assertThat(h.apply(wb)).isEqualTo(new LockReply(LOCKED, "L", f2));
        assertThat(h.apply(wc)).isEqualTo(new LockReply(TIMEOUT, "L", 0));
        assertThat(view("L").holder()).isEqualTo(b);
        assertThat(view("L").waiters()).isEmpty();
        assertNoEffects();
    }

    @Test
    @DisplayName("a retried unlock returns UNLOCKED again and does not unlock the next holder")
    void retryUnlock() {
        long a = h.open();
        long b = h.open();
        long f = locked(a, "L");
        queued(b, "L", 10_000);
        LockRelease u = unlock(a, "L", f);
        assertThat(h.apply(u)).isEqualTo(new LockReply(UNLOCKED, "L", f));
        long f2 = fenceOfLastEntry();
        assertThat(h.apply(u)).isEqualTo(new LockReply(UNLOCKED, "L", f));
        assertThat(view("L").holder()).isEqualTo(b);
        assertThat(view("L").fence()).isEqualTo(f2);
    }

    @Test
    @DisplayName("locks and pool keys are separate namespaces")
    void separateNamespaces() {
        long a = h.open();
        long b = h.open();
        locked(a, "x");
        assertThat(h.apply(new PoolAcquire(b, ++rid, "x", 1, 1, 0, false))).isInstanceOf(PoolReply.class)
                .extracting(r -> ((PoolReply) r).status()).isEqualTo(Result.PoolStatus.LOCKED);
        assertThat(view("x").holder()).isEqualTo(a);
    }

    // ---- helpers --------------------------------------------------------------------------------

    private LockAcquire lock(long session, String name, long timeoutMs) {
        return new LockAcquire(session, ++rid, name, timeoutMs);
    }

    private LockRelease unlock(long session, String name, long fence) {
        return new LockRelease(session, ++rid, name, fence);
    }

    /** tryLock that must succeed; returns the fence. */
    private long locked(long session, String name) {
        Result r = h.apply(lock(session, name, 0));
        assertThat(r).isEqualTo(new LockReply(LOCKED, name, fenceOfLastEntry()));
        return fenceOfLastEntry();
    }

    private LockAcquire queued(long session, String name, long timeoutMs) {
        LockAcquire a = lock(session, name, timeoutMs);
        assertThat(h.apply(a)).isEqualTo(new LockReply(QUEUED, name, 0));
        return a;
    }

    private Effect end(End how, long session) {
        if (how == End.CLOSE) {
            assertThat(h.apply(new CloseSession(session, ++rid))).isEqualTo(new Result.SessionClosed(session));
        } else {
            assertThat(h.apply(new ExpireSessions(List.of(session)))).isEqualTo(new Result.SessionsExpired(List.of(session)));
        }
        return new Effect.SessionEnded(session, how == End.EXPIRE);
    }

    /** The fence of the first grant made by the last applied entry (a fence carries its entry's index). */
    private long fenceOfLastEntry() {
        return h.lastIndex() << 16;
    }

    private static long grantFence(Result r) {
        if (r instanceof LockReply l) {
            assertThat(l.status()).isEqualTo(LOCKED);
            return l.fence();
        }
        assertThat(r).isInstanceOf(PoolReply.class);
        assertThat(((PoolReply) r).status()).isEqualTo(Result.PoolStatus.LOCKED);
        return ((PoolReply) r).fence();
    }

    private static LockStatus status(Result r) {
        assertThat(r).isInstanceOf(LockReply.class);
        return ((LockReply) r).status();
    }

    private static ErrorCode code(Result r) {
        assertThat(r).isInstanceOf(Result.Rejected.class);
        return ((Result.Rejected) r).code();
    }

    private View.Lock view(String name) {
        return h.lookup(new Query.GetLock(name));
    }

    private void assertNoEffects() {
        assertThat(h.takeEffects()).isEmpty();
    }
}
