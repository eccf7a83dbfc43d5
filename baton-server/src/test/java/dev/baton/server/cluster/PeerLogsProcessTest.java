package dev.baton.server.cluster;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A peer that is down for a while shows in the leader's log as one line when it goes and one when
 * it comes back, with no stack traces from the engine's retries in between (SOFAJRaft and bolt used
 * to log one every 100-500 ms).
 */
class PeerLogsProcessTest {
    @TempDir
    Path tmp;

    @Test
    void aPeerDownForAWhileIsOneLineWhenItGoesAndOneWhenItComesBack() throws Exception {
        // A longer election timeout keeps one leader throughout on a loaded machine (the lines are the leader's).
        try (ProcessCluster c = new ProcessCluster(tmp, 3, "--election-timeout-ms", "3000").startAll()) {
            ProcessCluster.NodeProc leader = c.awaitLeader(300_000).orElseThrow(() -> new AssertionError(c.logs()));
            ProcessCluster.NodeProc down = c.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
            for (ProcessCluster.NodeProc n : c.nodes()) { // all three up before one goes
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
                while (c.status(n).isEmpty()) {
                    assertThat(System.nanoTime() < deadline).as("%s answers\n%s", n.id, c.logs()).isTrue();
                    Thread.sleep(200);
                }
            }
            String who = "peer " + down.id + " (" + down.raft() + ")";

            // Only what is logged from the kill on counts (a peer slow to start may have been reported too).
            int before = Files.readAllLines(leader.log()).size();
            c.kill(down);
            awaitLine(leader, l -> l.contains(who + " unreachable"), c);
            // Down for a while: the engine retries every election timeout (1 s) meanwhile, during this
            // pause and during the JVM start of the restart that follows (several seconds more).
            Thread.sleep(4_000);
            c.start(down);
            awaitLine(leader, l -> l.contains(who + " reachable again after"), c);
            Thread.sleep(3_000); // anything logged right after the peer came back

            assertThat(leader.process.isAlive()).isTrue();
            List<String> all = Files.readAllLines(leader.log());
            List<String> log = all.subList(before, all.size());
            assertThat(log).as("the leader's log").filteredOn(l -> l.contains(who + " unreachable")).hasSize(1)
                    .allSatisfy(l -> assertThat(l).contains("WARN").contains("connection refused"));
            assertThat(log).as("the leader's log").filteredOn(l -> l.contains(who + " reachable again")).hasSize(1)
                    .allSatisfy(l -> assertThat(l).containsPattern("after \\d+ failed attempts? over [0-9.]+ s"));
            assertThat(log).as("no stack traces in the leader's log")
                    .noneMatch(l -> l.contains("\tat ") || l.contains("Exception"));
            assertThat(log).as("the leader's log: Baton's lines only").allSatisfy(l ->
                    assertThat(l.startsWith("baton server: ") || l.contains(" WARN PeerWatch - ")).as(l).isTrue());
        }
    }

    /** Waits (generously: a loaded machine) until the node's log has a line matching {@code p}. */
    private static void awaitLine(ProcessCluster.NodeProc n, Predicate<String> p, ProcessCluster c)
            throws InterruptedException, IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (System.nanoTime() < deadline) {
            if (Files.exists(n.log()) && Files.readAllLines(n.log()).stream().anyMatch(p)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no such line in " + n.id + "'s log\n" + c.logs());
    }
}
