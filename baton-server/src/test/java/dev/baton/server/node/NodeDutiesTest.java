package dev.baton.server.node;

import dev.baton.core.command.Command;
import dev.baton.core.command.Result;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.testing.ManualTimer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The leader's wait tick sleeps until the earliest wait deadline (at most 500 ms) instead of waking
 * every 20 ms, and an applied entry that brings a deadline before the planned tick moves the tick
 * forward. The timer here runs nothing by itself: the test runs each planned tick by hand and reads
 * the delay it was planned with, so nothing depends on timing.
 */
class NodeDutiesTest {
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
    void theDelayFollowsTheEarliestDeadline() {
        assertThat(NodeDuties.waitTickDelayMs(false, false, 1_000, 0)).isEqualTo(NodeDuties.IDLE_WAIT_TICK_MS);
        assertThat(NodeDuties.waitTickDelayMs(true, false, Long.MAX_VALUE, 1_000)).isEqualTo(NodeDuties.IDLE_WAIT_TICK_MS);
        assertThat(NodeDuties.waitTickDelayMs(true, false, 1_120, 1_000)).isEqualTo(120);
        assertThat(NodeDuties.waitTickDelayMs(true, false, 9_000, 1_000)).isEqualTo(NodeDuties.IDLE_WAIT_TICK_MS);
        assertThat(NodeDuties.waitTickDelayMs(true, false, 1_000, 1_000)).isEqualTo(NodeDuties.WAIT_TICK_MS);
        assertThat(NodeDuties.waitTickDelayMs(true, true, 5_000, 1_000)).isEqualTo(NodeDuties.WAIT_TICK_MS);
    }

    @Test
    void anIdleLeaderSleepsAndANewWaitBringsTheTickForward() throws Exception {
        int port = dev.baton.server.TestPorts.free();
        node = new BatonNode(BatonNode.Options.defaults(dir.resolve("data")).withPort(port));
        node.start();
        assertThat(node.waitForLeader(Duration.ofSeconds(30))).isPresent();
        // The duties' clock is the test's: an hour ahead while the idle tick plans, so its plan is later
        // than the deadline of the wait below however long the steps in between take.
        long[] clusterTime = {node.clusterTime() + 3_600_000};
        ManualTimer timer = new ManualTimer();
        NodeDuties duties = new NodeDuties(node, null, () -> clusterTime[0], "n1", "127.0.0.1:1",
                UnaryOperator.identity());
        duties.start(timer);
        assertThat(timer.lastDelayMs()).isZero(); // the first look is at once

        timer.runLast(); // no wait anywhere: sleep long
        assertThat(timer.lastDelayMs()).isEqualTo(NodeDuties.IDLE_WAIT_TICK_MS);
        ManualTimer.Task idle = timer.last();

        // a wait with a 200 ms timeout, in the cluster time of its entry
        long a = ((Result.SessionOpened) node.submit(new Command.OpenSession(null, 60_000)).get()).session();
        long b = ((Result.SessionOpened) node.submit(new Command.OpenSession(null, 60_000)).get()).session();
        node.submit(new Command.PoolAcquire(a, 1, "k", 1, 5, 0, false)).get();
        node.submit(new Command.PoolAcquire(b, 1, "k", 1, 5, 200, false)).get();
        long deadline = node.readLocal(new dev.baton.core.command.Query.NextDeadline());
        assertThat(deadline).isNotEqualTo(Long.MAX_VALUE);

        clusterTime[0] = deadline - 200; // the moment the wait was queued, as this node's duties see it
        duties.afterApply(); // what the apply thread does after each entry
        assertThat(idle.cancelled).isTrue();
        assertThat(timer.lastDelayMs()).isEqualTo(200);

        duties.afterApply(); // a later entry with no earlier deadline leaves the plan alone
        assertThat(timer.tasks).hasSize(4); // start's tick, its idle successor, the moved tick; plus the announce job

        clusterTime[0] = deadline + 1; // the tick comes when the deadline has passed: expire, look again soon
        timer.runLast();
        assertThat(timer.lastDelayMs()).isEqualTo(NodeDuties.WAIT_TICK_MS);
    }
}
