package dev.baton.server.raft;

import com.alipay.remoting.InvokeCallback;
import com.alipay.remoting.RejectedExecutionPolicy;
import com.alipay.remoting.RejectionProcessableInvokeCallback;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * A bolt call's callback that runs a follower's successful answer to {@code AppendEntries} on the
 * thread that read it (bolt's client I/O thread, see {@link BatonBoltRpcFactory#answerOnIoThread()}),
 * and hands every other outcome to the executor the caller named, as bolt itself would.
 *
 * <p>Why: SOFAJRaft names a thread per follower ({@code Append-Entries-Thread-Send}) for the answers
 * to its replication calls, so every answer that counts an entry toward its commit woke that thread
 * first: one wake-up on every write's path, and another for the event loop when that thread sent the
 * follower's next entries. Run on the I/O thread, the answer commits (SOFAJRaft hands the apply to its
 * own queue without waiting) and the next entries are written to the connection from its own event loop.
 *
 * <p>Why only a success: the answers that make the replicator back off or step down (a failed call, a
 * timeout, a refusal, a higher term, an error) lead SOFAJRaft into paths that may block or re-enter,
 * such as connecting anew, stepping the node down under its lock, or running a callback at once from
 * the thread that holds the replicator's lock (its {@code ThreadId} lock is not re-entrant). They keep
 * the caller's executor. A success only takes the replicator's lock, moves the commit point, and sends
 * what follows over the connection the answer came on. Answers to other calls (votes, snapshots,
 * read-index) keep the caller's executor too. Reordering between the two threads is harmless: the
 * replicator orders its answers by sequence number and drops those of an earlier state.
 */
final class ReplicationAnswerOnIoThread implements InvokeCallback {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationAnswerOnIoThread.class);

    private final InvokeCallback caller;

    private ReplicationAnswerOnIoThread(InvokeCallback caller) {
        this.caller = caller;
    }

    /** {@code caller}, or (if it names an executor) the callback that runs its successes where they are read. */
    static InvokeCallback wrap(InvokeCallback caller) {
        return caller == null || caller.getExecutor() == null ? caller : new ReplicationAnswerOnIoThread(caller);
    }

    /** A follower's answer that its log now holds the entries (or the heartbeat's term), without an error. */
    static boolean isSuccessfulReplication(Object answer) {
        return answer instanceof AppendEntriesResponse r && r.getSuccess() && !r.hasErrorResponse();
    }

    @Override
    public void onResponse(Object result) {
        if (isSuccessfulReplication(result)) {
            caller.onResponse(result);
        } else {
            handOver(() -> caller.onResponse(result));
        }
    }

    @Override
    public void onException(Throwable e) {
        handOver(() -> caller.onException(e));
    }

    /** None: bolt runs this callback where it has the answer; this one decides where the caller's runs. */
    @Override
    public Executor getExecutor() {
        return null;
    }

    /** To the caller's executor; if it refuses (its node is stopping), what the caller's policy says, as bolt does. */
    private void handOver(Runnable task) {
        try {
            caller.getExecutor().execute(task);
        } catch (RejectedExecutionException e) {
            RejectedExecutionPolicy policy = caller instanceof RejectionProcessableInvokeCallback r
                    ? r.rejectedExecutionPolicy() : RejectedExecutionPolicy.DISCARD;
            switch (policy) {
                case CALLER_RUNS -> task.run();
                case CALLER_HANDLE_EXCEPTION -> caller.onException(e);
                default -> LOG.warn("Raft RPC answer dropped: its executor refused it ({})", e.toString());
            }
        }
    }
}
