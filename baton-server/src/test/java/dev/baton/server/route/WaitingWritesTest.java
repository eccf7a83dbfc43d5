package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Result;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A wait whose outcome this node never sees (its effect folded into an installed snapshot) still
 * ends: past its timeout plus the grace period, the same request is proposed again and the core's
 * remembered answer is the outcome. The waits here are {@link WaitingWrites#track tracked}: nothing
 * feeds them the apply stream, so only that reconciliation can end them.
 */
class WaitingWritesTest {
    private ApiServer server;
    private ScheduledExecutorService thread;
    private WaitingWrites waits;

    @BeforeEach
    void start(@TempDir Path dir) throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(60))).isPresent();
        thread = Executors.newSingleThreadScheduledExecutor();
        waits = new WaitingWrites(server.router(), thread);
    }

    @AfterEach
    void stop() throws Exception {
        if (thread != null) {
            thread.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
    }

    private long openSession(String token) throws Exception {
        Result r = TestWaits.get(server.router().write(new Command.OpenSession(token, 60_000)));
        return ((Result.SessionOpened) r).session();
    }

    private Result write(Command.ClientCommand c) throws Exception {
        return TestWaits.get(server.router().write(c));
    }

    private static Result.PoolStatus status(Result r) {
        return ((Result.PoolReply) r).status();
    }

    /** A holder of "k", and a second session's acquire of "k" that waits {@code timeoutMs}, answered QUEUED. */
    private Command.PoolAcquire queuedBehindAHolder(long timeoutMs) throws Exception {
        long holder = openSession("holder");
        assertThat(status(write(new Command.PoolAcquire(holder, 1, "k", 1, 5, 0, false)))).isEqualTo(Result.PoolStatus.LOCKED);
        long waiter = openSession("waiter");
        Command.PoolAcquire waiting = new Command.PoolAcquire(waiter, 1, "k", 1, 5, timeoutMs, false);
        assertThat(status(write(waiting))).isEqualTo(Result.PoolStatus.QUEUED);
        return waiting;
    }

    @Test
    void aWaitWhoseOutcomeIsNeverSeenLearnsItByProposingTheSameRequestAgain() throws Exception {
        Command.PoolAcquire waiting = queuedBehindAHolder(200);
        WaitingWrites.Wait w = waits.track(thread);
        thread.execute(() -> w.queued(waiting));
        // The wait times out on the cluster after 200 ms; this node learns it past the grace period.
        Result outcome = w.outcome().get(WaitingWrites.RECONCILE_GRACE_MS + 30_000, TimeUnit.MILLISECONDS);
        assertThat(status(outcome)).isEqualTo(Result.PoolStatus.TIMEOUT);
    }

    @Test
    void aWaitWhoseSessionEndedUnseenFailsAsAnUnknownSession() throws Exception {
        Command.PoolAcquire waiting = queuedBehindAHolder(60_000);
        assertThat(write(new Command.CloseSession(waiting.session(), 2))).isInstanceOf(Result.SessionClosed.class);
        WaitingWrites.Wait w = waits.track(thread);
        // As if the wait had been 200 ms long: it is reconciled then, and its session is gone.
        Command.PoolAcquire shortened = new Command.PoolAcquire(waiting.session(), waiting.requestId(), waiting.key(),
                waiting.workers(), waiting.maxQueue(), 200, waiting.forAnyone());
        thread.execute(() -> w.queued(shortened));
        assertThatThrownBy(() -> w.outcome().join()).isInstanceOf(CompletionException.class)
                .cause().isInstanceOf(BatonException.class)
                .satisfies(e -> assertThat(((BatonException) e).batonCode()).isEqualTo("UNKNOWN_SESSION"));
    }

    @Test
    void anOutcomeSeenFirstIsTheOutcomeAndNothingIsProposedAgain() throws Exception {
        Command.PoolAcquire waiting = queuedBehindAHolder(200);
        WaitingWrites.Wait w = waits.track(thread);
        Result.PoolReply seen = new Result.PoolReply(Result.PoolStatus.LOCKED, "k", 42);
        thread.submit(() -> {
            w.queued(waiting);
            w.complete(seen);
        }).get(30, TimeUnit.SECONDS);
        // SOFAJRaft's applied index is updated after the answers of an entry are handed out: wait until
        // it covers the acquire's own entry, else the log read below starts at that entry.
        TestWaits.await("the applied index at the commit index",
                () -> server.node().lastAppliedIndex() >= server.node().commitIndex());
        long from = server.node().lastAppliedIndex() + 1;
        // Past the moment it would have been reconciled (the wait's timeout plus the grace period).
        Thread.sleep(200 + WaitingWrites.RECONCILE_GRACE_MS + 1_000);
        assertThat(w.outcome().join()).isSameAs(seen);
        List<Command> since = new ArrayList<>();
        for (long i = from; i <= server.node().lastAppliedIndex(); i++) {
            since.addAll(server.node().committedCommands(i));
        }
        assertThat(since).doesNotContain(waiting);
    }

    @Test
    void anAnswerThatIsFinalAtOnceIsTheOutcomeAndNotACancellation() {
        WaitingWrites.Wait w = waits.track(thread);
        Result.PoolReply granted = new Result.PoolReply(Result.PoolStatus.LOCKED, "k", 7);
        w.answeredAtOnce(granted);
        // Completed, not cancelled: no exception is made (and no stack trace filled in) per grant.
        assertThat(w.outcome()).isCompletedWithValue(granted);
        w.cancel();
        assertThat(w.outcome()).isCompletedWithValue(granted);
    }

    @Test
    void anAcquireGrantedAtOnceThroughWriteLeavesNoWaitRegistered() throws Exception {
        long session = openSession("at-once");
        List<Runnable> onCancel = new ArrayList<>();
        Result r = TestWaits.get(waits.write(new Command.PoolAcquire(session, 1, "free", 1, 5, 60_000, false),
                Caller.TRUSTED, false, onCancel::add));
        assertThat(status(r)).isEqualTo(Result.PoolStatus.LOCKED);
        assertThat(waits.registered()).isZero();
        assertThat(onCancel).hasSize(1);
        onCancel.get(0).run(); // the caller giving up afterwards changes nothing
        assertThat(waits.registered()).isZero();
    }
}
