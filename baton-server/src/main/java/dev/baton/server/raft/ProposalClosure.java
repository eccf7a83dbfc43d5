package dev.baton.server.raft;

import com.alipay.sofa.jraft.Closure;
import com.alipay.sofa.jraft.Status;
import com.alipay.sofa.jraft.error.RaftError;
import dev.baton.core.sm.Applied;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/**
 * The closure of one proposed entry. On the proposing leader, the state machine completes it with
 * the entry's {@link Applied}; SOFAJRaft runs it with an error status if the entry is refused or
 * its fate becomes unknown here (leadership lost, node stopped, state machine halted).
 */
final class ProposalClosure implements Closure {
    private final CompletableFuture<Applied> future = new CompletableFuture<>();
    private final Supplier<Optional<String>> leaderHint;
    private long appendedNanos;
    private LongConsumer commitLatency;

    ProposalClosure(Supplier<Optional<String>> leaderHint) {
        this.leaderHint = leaderHint;
    }

    /** The entry was handed to Raft now: {@code sink} hears the nanoseconds until it is applied here. */
    void appended(long nanos, LongConsumer sink) {
        appendedNanos = nanos;
        commitLatency = sink;
    }

    CompletableFuture<Applied> future() {
        return future;
    }

    /** Called by the state machine, on the apply thread, once the entry is applied. */
    void applied(Applied applied) {
        LongConsumer sink = commitLatency;
        if (sink != null) {
            sink.accept(System.nanoTime() - appendedNanos);
        }
        future.complete(applied);
    }

    @Override
    public void run(Status status) {
        if (status.isOk()) {
            // Only entries that reach the state machine are completed with a result; an OK run without
            // one would be an engine contract change, not something to hide.
            if (!future.isDone()) {
                future.completeExceptionally(new IllegalStateException("entry finished without being applied"));
            }
        } else {
            future.completeExceptionally(failure(status, leaderHint));
        }
    }

    static RaftOperationException failure(Status status, Supplier<Optional<String>> leaderHint) {
        RaftError e = status.getRaftError();
        String code = e == null ? "E" + status.getCode() : e.name();
        if (e == RaftError.EPERM) {
            return new NotLeaderException(leaderHint.get(), String.valueOf(status.getErrorMsg()));
        }
        return new RaftOperationException(code, String.valueOf(status.getErrorMsg()));
    }
}
