package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.testing.ManualTimer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The lease scans sleep until something is due (at most {@link LeaseKeeper#IDLE_TICK_MS}) instead of
 * waking 10 times a second on a leader and 5 on a follower, and what makes a scan due sooner brings the
 * tick forward. The timer runs nothing by itself and the keeper's clock is the test's: each planned
 * tick is run by hand and its delay read, so nothing depends on timing.
 */
class LeaseKeeperTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @TempDir
    Path dir;

    private BatonNode node;

    @AfterEach
    void close() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void theDelayFollowsWhatIsDue() {
        long now = 1_000_000 * MS;
        long reconciledJustNow = now;
        // a follower only forwards, and keep-alives bring their own tick: the slow safety net
        assertThat(LeaseKeeper.tickDelayMs(false, false, now + 50 * MS, reconciledJustNow, now)).isEqualTo(LeaseKeeper.IDLE_TICK_MS);
        // a leader with no lease
        assertThat(LeaseKeeper.tickDelayMs(true, false, Long.MAX_VALUE, reconciledJustNow, now)).isEqualTo(LeaseKeeper.IDLE_TICK_MS);
        // ... whose reconciliation is due in 300 ms
        long reconciledLongAgo = now - (LeaseKeeper.RECONCILE_MS - 300) * MS;
        assertThat(LeaseKeeper.tickDelayMs(true, false, Long.MAX_VALUE, reconciledLongAgo, now)).isEqualTo(300);
        // the first lease runs out in 250 ms: look just after
        assertThat(LeaseKeeper.tickDelayMs(true, false, now + 250 * MS, reconciledJustNow, now)).isEqualTo(251);
        // one already out (its expiry could not be proposed yet): soon, but never a spin
        assertThat(LeaseKeeper.tickDelayMs(true, false, now - 5 * MS, reconciledJustNow, now)).isEqualTo(LeaseKeeper.SCAN_FLOOR_MS);
        // an expiry on its way: the old scan rate until it is applied
        assertThat(LeaseKeeper.tickDelayMs(true, true, now + 9_000 * MS, reconciledJustNow, now)).isEqualTo(LeaseKeeper.EXPIRY_SCAN_MS);
    }

    @Test
    void anIdleLeaderSleepsAndAShortLeaseBringsTheScanForwardAndExpires() throws Exception {
        node = startedNode();
        long[] nanos = {System.nanoTime()};
        ManualTimer timer = new ManualTimer();
        LeaseKeeper keeper = new LeaseKeeper(node, () -> nanos[0]);
        keeper.start(timer);
        assertThat(timer.lastDelayMs()).isEqualTo(LeaseKeeper.EXPIRY_SCAN_MS);

        timer.runLast(); // finds that this node leads, tracks no lease: sleeps long
        assertThat(timer.lastDelayMs()).isEqualTo(LeaseKeeper.IDLE_TICK_MS);
        ManualTimer.Task idle = timer.last();

        // a session with a 300 ms TTL (the limits allow it here), applied by the leader; the router
        // tells the keeper, as here
        node.submit(new Command.SetLimits(Limits.defaults().toBuilder().minSessionTtlMs(100).build())).get();
        long s = ((Result.SessionOpened) node.submit(new Command.OpenSession(null, 300)).get()).session();
        keeper.opened(s, 300);
        assertThat(idle.cancelled).isTrue();
        assertThat(timer.lastDelayMs()).isEqualTo(301);

        keeper.touch(s); // a keep-alive only moves the lease later: the plan stays
        assertThat(timer.tasks).hasSize(3);

        nanos[0] += 301 * MS; // nothing heard for longer than the TTL
        timer.runLast();
        waitUntil(() -> node.readLocal(new Query.ListSessionLeases()).isEmpty());
        // The keeper counts the expiry when the command's answer comes back, which is after the
        // state it reads above is published.
        waitUntil(() -> keeper.expiredTotal() >= 1);
        assertThat(keeper.expiredTotal()).isEqualTo(1);
        assertThat(keeper.tracked()).isZero();
        assertThat(timer.lastDelayMs()).isIn(LeaseKeeper.EXPIRY_SCAN_MS, LeaseKeeper.IDLE_TICK_MS);
    }

    @Test
    void aFollowerSleepsUntilAKeepAliveWaitsToBeForwarded() {
        int port = freePort();
        node = new BatonNode(BatonNode.Options.defaults(dir.resolve("follower")).withPort(port)); // not started: leads nothing
        long[] nanos = {System.nanoTime()};
        ManualTimer timer = new ManualTimer();
        LeaseKeeper keeper = new LeaseKeeper(node, () -> nanos[0]);
        keeper.start(timer);
        timer.runLast();
        assertThat(timer.lastDelayMs()).isEqualTo(LeaseKeeper.IDLE_TICK_MS);

        ManualTimer.Task idle = timer.last();

        nanos[0] += 300 * MS; // longer than the forwarding interval since the last round: forward at once
        keeper.keepAlive(7);
        assertThat(idle.cancelled).isTrue();
        assertThat(timer.lastDelayMs()).isZero();

        timer.runLast(); // no leader to forward to: kept, and tried again after the forwarding interval
        assertThat(timer.lastDelayMs()).isEqualTo(LeaseKeeper.FORWARD_EVERY_MS);
        int planned = timer.tasks.size();

        keeper.keepAlive(8); // more while a round is planned: the plan stays
        assertThat(timer.tasks).hasSize(planned);
    }

    // ---- what a door may tell -------------------------------------------------------------------

    /** A keeper on a node that does not lead (it forwards keep-alives), with the test's clock and a 1 s election timeout. */
    private LeaseKeeper followerKeeper(long[] nanos) {
        node = new BatonNode(BatonNode.Options.defaults(dir.resolve("f")).withPort(freePort())); // not started
        return new LeaseKeeper(node, () -> nanos[0], 1_000);
    }

    @Test
    void aGrantMayBeToldOnlyWhileTheLeadersAcknowledgementIsYoungerThanTheTtlLessTheMargin() {
        long[] nanos = {1_000_000 * MS};
        LeaseKeeper keeper = followerKeeper(nanos);
        assertThat(keeper.fresh(5, 10_000)).as("never acknowledged").isFalse();

        keeper.acknowledged(5, nanos[0]);
        keeper.acknowledged(5, nanos[0] - 5_000 * MS); // an older answer arriving late moves nothing back
        // TTL 10 s, margin 2 election timeouts = 2 s
        nanos[0] += 7_999 * MS;
        assertThat(keeper.fresh(5, 10_000)).isTrue();
        nanos[0] += MS;
        assertThat(keeper.fresh(5, 10_000)).isFalse();
        // a TTL of 2 s: the margin is capped at half of it
        assertThat(keeper.freshForNanos(2_000)).isEqualTo(1_000 * MS);
        assertThat(keeper.freshForNanos(1_000)).isEqualTo(500 * MS);
    }

    @Test
    void aHeldGrantIsToldOnceAnAcknowledgementMakesItFresh() {
        long[] nanos = {1_000_000 * MS};
        LeaseKeeper keeper = followerKeeper(nanos);
        keeper.acknowledged(5, nanos[0]);
        nanos[0] += 60_000 * MS; // cut off for a minute
        assertThat(keeper.whenFresh(6, 10_000)).as("a session never acknowledged here").isNotDone();
        CompletableFuture<Boolean> told = keeper.whenFresh(5, 10_000);
        assertThat(told).isNotDone();
        assertThat(keeper.grantsHeld()).isEqualTo(2);

        keeper.acknowledged(5, nanos[0] - 9_000 * MS); // an answer to a request sent long ago: still too old
        assertThat(told).isNotDone();
        keeper.acknowledged(5, nanos[0] - 10 * MS);
        assertThat(told).isCompletedWithValue(true);
        assertThat(keeper.fresh(5, 10_000)).isTrue();
        assertThat(keeper.grantsHeld()).isEqualTo(1);
        assertThat(keeper.grantsHeldTotal()).isEqualTo(2);
        assertThat(keeper.whenFresh(5, 10_000)).as("fresh: at once").isCompletedWithValue(true);
        assertThat(keeper.grantsHeldTotal()).isEqualTo(2);
    }

    @Test
    void aKeepAliveIsAcknowledgedOnlyOnceTheLeaderAcknowledgedARenewalSentAfterItArrived() {
        long[] nanos = {1_000_000 * MS};
        LeaseKeeper keeper = followerKeeper(nanos);
        keeper.acknowledged(5, nanos[0]); // fresh for grants, but from before the keep-alive
        nanos[0] += 10 * MS;
        long arrived = nanos[0];
        CompletableFuture<Boolean> ack = keeper.whenAcknowledgedSince(5, arrived);
        assertThat(ack).isNotDone();
        assertThat(keeper.grantsHeld()).as("no grant").isZero();
        keeper.acknowledged(5, arrived - MS); // a batch that left before the keep-alive came
        assertThat(ack).isNotDone();
        nanos[0] += 150 * MS;
        keeper.acknowledged(5, arrived + 100 * MS); // the batch that carried it
        assertThat(ack).isCompletedWithValue(true);
    }

    @Test
    void aHeldGrantOfASessionThatIsGoneIsNeverTold() {
        long[] nanos = {1_000_000 * MS};
        LeaseKeeper keeper = followerKeeper(nanos);
        keeper.acknowledged(5, nanos[0]);
        nanos[0] += 60_000 * MS;
        CompletableFuture<Boolean> told = keeper.whenFresh(5, 10_000);
        CompletableFuture<Boolean> ack = keeper.whenAcknowledgedSince(5, nanos[0]);
        assertThat(keeper.grantsHeld()).as("a keep-alive's acknowledgement is no grant").isEqualTo(1);

        keeper.ended(5); // its expiry applied here (or the leader said it is gone: gone)
        assertThat(told).isCompletedWithValue(false);
        assertThat(ack).isCompletedWithValue(false);
        assertThat(keeper.grantsHeld()).isZero();
        assertThat(keeper.grantsNotTold()).isEqualTo(1);
        // a grant of it learnt a moment later (the effects race the answers) is not held for ever
        assertThat(keeper.whenFresh(5, 10_000)).isCompletedWithValue(false);
        keeper.acknowledged(5, nanos[0]); // nor does a late acknowledgement bring it back
        assertThat(keeper.whenFresh(5, 10_000)).isCompletedWithValue(true);
    }

    @Test
    void onTheLeaderARenewalIsAcknowledgedOnceAQuorumConfirmsItLeadsAndAHeldGrantAsksForOne() throws Exception {
        node = startedNode();
        long[] nanos = {System.nanoTime()};
        LeaseKeeper keeper = new LeaseKeeper(node, () -> nanos[0], 1_000);
        keeper.leaderStarted();
        long s = ((Result.SessionOpened) node.submit(new Command.OpenSession(null, 10_000)).get()).session();
        keeper.opened(s, 10_000);
        keeper.keepAlive(s);
        assertThat(keeper.fresh(s, 10_000)).as("renewed, not yet confirmed").isFalse();
        keeper.forward(); // the round: a ReadIndex, then the acknowledgement as of the round's start
        waitUntil(() -> keeper.fresh(s, 10_000));

        nanos[0] += 60_000 * MS; // nothing heard for a minute
        assertThat(keeper.fresh(s, 10_000)).isFalse();
        CompletableFuture<Boolean> told = keeper.whenFresh(s, 10_000);
        assertThat(told).as("held until the next round").isNotDone();
        keeper.forward();
        assertThat(told.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(keeper.whenFresh(4242, 10_000)).as("a session this leader does not know").isNotDone();
        keeper.forward();
        assertThat(keeper.fresh(4242, 10_000)).isFalse();
    }

    private BatonNode startedNode() throws InterruptedException {
        BatonNode n = new BatonNode(BatonNode.Options.defaults(dir.resolve("data")).withPort(freePort()));
        n.start();
        assertThat(n.waitForLeader(Duration.ofSeconds(30))).isPresent();
        return n;
    }

    private static int freePort() {
        return dev.baton.server.TestPorts.free();
    }

    private static void waitUntil(java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!done.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within 30 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
