package dev.baton.core.testing;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.*;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.*;
import dev.baton.core.command.TargetView;
import dev.baton.core.command.ClaimedItem;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;

/**
 * What the fuzz tests share: a per-input allocation budget (a decoder must never allocate more than
 * a small multiple of its input, whatever a length prefix says) and seed values of every kind.
 */
public final class FuzzSupport {
    private FuzzSupport() {}

    /** Bytes a decoder may allocate for an input of {@code n} bytes: linear in n, with a fixed allowance. */
    public static long allocationBudget(int n) {
        return 128 * 1024 + 256L * n;
    }

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /**
     * Runs {@code decode} and fails if it allocated more than {@link #allocationBudget} for an input
     * of {@code inputBytes}, so that a length prefix that makes a decoder reserve memory it never
     * fills is a finding even when the heap is big enough. A run over the budget is measured again
     * before failing: the first run of a code path also loads and initialises classes.
     */
    public static <T, E extends Exception> T withinBudget(int inputBytes, Decoder<T, E> decode) throws E {
        long used = allocatedBy(decode);
        if (used > allocationBudget(inputBytes)) {
            used = allocatedBy(decode);
            if (used > allocationBudget(inputBytes)) {
                throw new AssertionError("decoding " + inputBytes + " bytes allocated " + used
                        + " bytes, over the budget of " + allocationBudget(inputBytes));
            }
        }
        return decode.decode();
    }

    private static long allocatedBy(Decoder<?, ?> decode) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        try {
            decode.decode();
        } catch (Exception documentedOrNot) {
            // the caller's own run below reports it
        }
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    /** A decoding step that may throw its documented checked exception. */
    @FunctionalInterface
    public interface Decoder<T, E extends Exception> {
        T decode() throws E;
    }

    /** At least one command of every kind, with values at the edges of their encodings. */
    public static List<Command> sampleCommands() {
        Limits small = Limits.defaults().toBuilder().maxSessions(3).maxPayloadBytes(1024).build();
        return List.of(
                new OpenSession("tok-1", 10_000),
                new OpenSession(null, -1),
                new CloseSession(7, 1),
                new ExpireSessions(List.of(1L, 2L, Long.MAX_VALUE, -1L)),
                new ExpireWaits(),
                new SetLimits(small),
                new AnnounceNode("127.0.0.1:8101", "n1", "127.0.0.1:7530"),
                new AnnounceNode("127.0.0.1:8102", null, ""),
                new PoolAcquire(1, 2, "wiki:page:ä", 2, 10, 30_000, false),
                new PoolAcquire(1, 0, "", Integer.MIN_VALUE, Integer.MAX_VALUE, Long.MIN_VALUE, true),
                new PoolRelease(1, 3, null, 0),
                new PoolRelease(1, 4, "k", 99),
                new LockAcquire(2, 1, "lock", 5_000),
                new LockRelease(2, 2, "lock", 12),
                new DispatchInit(3, 1, "group", Map.of("a", "Alpha", "b", "Beta"), new DispatchSettings(1, 2, 3)),
                new DispatchInit(0, 0, "g2", Map.of(), null),
                new DispatchAdvance(3, 2, "group", 100),
                new DispatchSelect(3, 3, "group"),
                new DispatchLock(3, 4, "group", "a"),
                new DispatchRelease(3, 5, "group", "a", 7, 90),
                new DispatchSetDisabled(3, 6, "group", "b", true),
                new EventBegin(4, 1, "ev"),
                new EventComplete(4, 2, "ev"),
                new QueueEnqueue(5, 1, "q", "item", Bytes.utf8("payload"), List.of("ev", "ev2")),
                new QueueEnqueue(5, 2, "q", "empty", Bytes.EMPTY, List.of()),
                new QueueClaim(5, 3, "q", 10),
                new QueueDone(5, 4, "q", "item", 3),
                new QueueRetry(5, 5, "q", "item", 4));
    }

    /** At least one result of every kind. */
    public static List<Result> sampleResults() {
        return List.of(
                new Rejected(ErrorCode.LIMIT_EXCEEDED, "too many"),
                new SessionOpened(9, 10_000, true, 129),
                new SessionClosed(9),
                new SessionsExpired(List.of(1L, 5L)),
                new WaitsExpired(3),
                new LimitsSet(Limits.defaults()),
                new NodeAnnounced("127.0.0.1:8101", false),
                new NodeAnnounced(null, true),
                new PoolReply(PoolStatus.LOCKED, "k", 4),
                new PoolReply(PoolStatus.NOT_LOCKED, null, 0),
                new LockReply(LockStatus.ALREADY_HELD, "lock", 2),
                new DispatchReply(DispatchStatus.SELECTED, new TargetView("g", "a", "Alpha", 3, -5, false, 9, 11), 0),
                new DispatchReply(DispatchStatus.NONE, null, 42),
                new EventReply(EventStatus.BEGUN, "ev"),
                new QueueReply(QueueStatus.CLAIMED, List.of(new ClaimedItem("q", "i", Bytes.utf8("p"), 5, 2))),
                new QueueReply(QueueStatus.DONE, List.of()));
    }
}
