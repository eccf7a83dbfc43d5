package dev.baton.core.pool;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Effect.PoolWaitEnded;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.View;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.baton.core.command.Result.PoolStatus.DONE;
import static dev.baton.core.command.Result.PoolStatus.LOCKED;
import static dev.baton.core.command.Result.PoolStatus.NOT_LOCKED;
import static dev.baton.core.command.Result.PoolStatus.QUEUED;
import static dev.baton.core.command.Result.PoolStatus.QUEUE_FULL;
import static dev.baton.core.command.Result.PoolStatus.RELEASED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * The five transcripts verified against a built poolcounterd (docs/design.md), replayed on
 * the core state machine. C1..C3 are sessions (poolcounterd connections); a delayed poolcounterd
 * reply is a {@code QUEUED} result followed by an {@link PoolWaitEnded} effect. poolcounterd's
 * timeouts are whole seconds, Baton's are milliseconds.
 *
 * <p>Every reply and every effect is asserted exactly, including fences: a grant's fence carries
 * the log index of the entry that granted it (docs/design.md, rule 4; {@code Tx.nextFence}: the
 * first grant of entry {@code i} gets {@code i << 16}).
 */
class PoolTranscriptsTest {
    private static final long SECOND = 1_000;

    private Harness h;
    private long rid;

    @BeforeEach
    void setUp() {
        h = new Harness();
        rid = 0;
    }

    @Test
    @DisplayName("#1 C1 ACQ4ME k 1 5 10; C2 ACQ4ANY k 1 5 10; C1 disconnects -> C2 LOCKED (not DONE), C2 RELEASE -> RELEASED")
    void transcript1_holderDisconnectHandsSlotToAnyWaiter() {
        long c1 = h.open();
        long c2 = h.open();

        PoolAcquire a1 = me(c1, "k", 1, 5, 10 * SECOND);
        Result r1 = h.apply(a1);
        long f1 = fenceOfLastEntry();
        assertThat(r1).isEqualTo(new PoolReply(LOCKED, "k", f1));
        assertNoEffects();

        PoolAcquire a2 = any(c2, "k", 1, 5, 10 * SECOND);
        assertThat(h.apply(a2)).isEqualTo(new PoolReply(QUEUED, "k", 0));
        assertNoEffects();

        assertThat(h.apply(new CloseSession(c1, ++rid))).isEqualTo(new Result.SessionClosed(c1));
        long f2 = fenceOfLastEntry();
        assertThat(f2).isGreaterThan(f1);
        assertThat(h.takeEffects()).containsExactly(
                new PoolWaitEnded(c2, a2.requestId(), "k", LOCKED, f2),
                new Effect.SessionEnded(c1, false));
        assertThat(pool("k").holders()).containsExactly(new View.PoolHolder(c2, f2, h.now()));
        assertThat(pool("k").waiting()).isZero();

        // C2 now holds the slot (LOCKED, not DONE), so it must RELEASE it
        assertThat(h.apply(release(c2))).isEqualTo(new PoolReply(RELEASED, "k", f2));
        assertNoEffects();
        assertThat(pool("k")).isNull();
    }

    @Test
    @DisplayName("#2 C1 ACQ4ME j; C3 ACQ4ANY j; C2 ACQ4ME j; C1 RELEASE -> C1 RELEASED, C3 DONE, C2 LOCKED")
    void transcript2_releaseSendsDoneToAnyAndLockedToMe() {
        long c1 = h.open();
        long c2 = h.open();
        long c3 = h.open();

        Result r1 = h.apply(me(c1, "j", 1, 5, 10 * SECOND));
        long f1 = fenceOfLastEntry();
        assertThat(r1).isEqualTo(new PoolReply(LOCKED, "j", f1));

        PoolAcquire a3 = any(c3, "j", 1, 5, 10 * SECOND);
        assertThat(h.apply(a3)).isEqualTo(new PoolReply(QUEUED, "j", 0));
        PoolAcquire a2 = me(c2, "j", 1, 5, 10 * SECOND);
        assertThat(h.apply(a2)).isEqualTo(new PoolReply(QUEUED, "j", 0));
        assertNoEffects();

        assertThat(h.apply(release(c1))).isEqualTo(new PoolReply(RELEASED, "j", f1));
        long f2 = fenceOfLastEntry();
        assertThat(h.takeEffects()).containsExactly(
                new PoolWaitEnded(c3, a3.requestId(), "j", DONE, 0),
                new PoolWaitEnded(c2, a2.requestId(), "j", LOCKED, f2));

        // DONE leaves C3 holding nothing: no RELEASE needed
        assertThat(slots(c3)).isEmpty();
        assertThat(h.apply(release(c3))).isEqualTo(new PoolReply(NOT_LOCKED, null, 0));
        assertThat(pool("j").holders()).containsExactly(new View.PoolHolder(c2, f2, h.now()));
        assertThat(pool("j").waiting()).isZero();
        assertNoEffects();
    }

    @Test
    @DisplayName("#3 C1, C2 ACQ4ME w 2 5 10 (both LOCKED); C3 ACQ4ANY w 2 5 10; C1 RELEASE -> C3 DONE although C2 still works")
    void transcript3_doneAlthoughAnotherHolderStillWorks() {
        long c1 = h.open();
        long c2 = h.open();
        long c3 = h.open();

        Result r1 = h.apply(me(c1, "w", 2, 5, 10 * SECOND));
        long f1 = fenceOfLastEntry();
        assertThat(r1).isEqualTo(new PoolReply(LOCKED, "w", f1));
        Result r2 = h.apply(me(c2, "w", 2, 5, 10 * SECOND));
        long f2 = fenceOfLastEntry();
        assertThat(r2).isEqualTo(new PoolReply(LOCKED, "w", f2));
        assertThat(f2).isGreaterThan(f1);

        PoolAcquire a3 = any(c3, "w", 2, 5, 10 * SECOND);
        assertThat(h.apply(a3)).isEqualTo(new PoolReply(QUEUED, "w", 0));
        assertNoEffects();

        assertThat(h.apply(release(c1))).isEqualTo(new PoolReply(RELEASED, "w", f1));
        assertThat(h.takeEffects()).containsExactly(new PoolWaitEnded(c3, a3.requestId(), "w", DONE, 0));

        View.Pool w = pool("w");
        assertThat(w.processing()).isEqualTo(1);
        assertThat(w.waiting()).isZero();
        assertThat(w.holders()).extracting(View.PoolHolder::session, View.PoolHolder::fence)
                .containsExactly(tuple(c2, f2));
        assertThat(slots(c3)).isEmpty();
    }

    @Test
    @DisplayName("#4 C1 ACQ4ME q 1 2 10 (LOCKED); C2 same (waits); C3 same -> QUEUE_FULL (maxqueue counts holder + waiter)")
    void transcript4_queueFullCountsHolderAndWaiter() {
        long c1 = h.open();
        long c2 = h.open();
        long c3 = h.open();

        Result r1 = h.apply(me(c1, "q", 1, 2, 10 * SECOND));
        long f1 = fenceOfLastEntry();
        assertThat(r1).isEqualTo(new PoolReply(LOCKED, "q", f1));
        assertThat(h.apply(me(c2, "q", 1, 2, 10 * SECOND))).isEqualTo(new PoolReply(QUEUED, "q", 0));
        assertThat(h.apply(me(c3, "q", 1, 2, 10 * SECOND))).isEqualTo(new PoolReply(QUEUE_FULL, "q", 0));
        assertNoEffects();

        assertThat(slots(c3)).isEmpty();
        View.Pool q = pool("q");
        assertThat(q.processing()).isEqualTo(1);
        assertThat(q.waiting()).isEqualTo(1);
        assertThat(q.waiters()).extracting(View.PoolWaiter::session).containsExactly(c2);
    }

    @Test
    @DisplayName("#5 C1 ACQ4ME e 1 5 0 (LOCKED); C2 ACQ4ME e 2 5 0 -> LOCKED (limit taken from each request)")
    void transcript5_workersTakenFromEachRequest() {
        long c1 = h.open();
        long c2 = h.open();

        Result r1 = h.apply(me(c1, "e", 1, 5, 0));
        long f1 = fenceOfLastEntry();
        assertThat(r1).isEqualTo(new PoolReply(LOCKED, "e", f1));
        Result r2 = h.apply(me(c2, "e", 2, 5, 0));
        long f2 = fenceOfLastEntry();
        assertThat(r2).isEqualTo(new PoolReply(LOCKED, "e", f2));
        assertNoEffects();

        assertThat(pool("e").processing()).isEqualTo(2);
        assertThat(pool("e").holders()).extracting(View.PoolHolder::session).containsExactly(c1, c2);
    }

    // ---- helpers --------------------------------------------------------------------------------

    private PoolAcquire me(long session, String key, int workers, int maxQueue, long timeoutMs) {
        return new PoolAcquire(session, ++rid, key, workers, maxQueue, timeoutMs, false);
    }

    private PoolAcquire any(long session, String key, int workers, int maxQueue, long timeoutMs) {
        return new PoolAcquire(session, ++rid, key, workers, maxQueue, timeoutMs, true);
    }

    private Command release(long session) {
        return new PoolRelease(session, ++rid, null, 0);
    }

    /** The fence of the first grant made by the last applied entry. */
    private long fenceOfLastEntry() {
        return h.lastIndex() << 16;
    }

    private View.Pool pool(String key) {
        return h.lookup(new Query.GetPool(key));
    }

    private List<View.PoolSlot> slots(long session) {
        return h.lookup(new Query.GetSession(session)).slots();
    }

    private void assertNoEffects() {
        assertThat(h.takeEffects()).isEmpty();
    }
}
