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

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
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

    private BatonNode startedNode() throws InterruptedException {
        BatonNode n = new BatonNode(BatonNode.Options.defaults(dir.resolve("data")).withPort(freePort()));
        n.start();
        assertThat(n.waitForLeader(Duration.ofSeconds(30))).isPresent();
        return n;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void waitUntil(java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!done.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within 30 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
