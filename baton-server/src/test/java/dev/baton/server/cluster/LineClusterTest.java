package dev.baton.server.cluster;

import dev.baton.server.cluster.ProcessCluster.NodeProc;
import dev.baton.server.line.LineClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PoolCounter door on a 3-node cluster of real {@code baton server} processes: keys are
 * cluster-wide whichever node a connection reaches, and a node that dies (kill -9) takes its
 * connections with it; their slots are released by session expiry and reach a waiter on another
 * node. The hand-over time is printed, not asserted: timing never decides a test.
 */
class LineClusterTest {
    private static final long TTL_MS = 3_000;

    @TempDir
    Path tmp;

    @Test
    void clientsOnDifferentNodesShareAKeyAndADeadNodesSlotPassesToAWaiterElsewhere() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3, "--session-ttl", Long.toString(TTL_MS)).startAll()) {
            NodeProc leader = c.awaitLeader(60_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            List<NodeProc> followers = c.nodes().stream().filter(n -> n != leader).toList();
            NodeProc f1 = followers.get(0);
            NodeProc f2 = followers.get(1);
            c.awaitStatus(f1);
            c.awaitStatus(f2);
            try (LineClient a = new LineClient(f1.linePort);
                 LineClient b = new LineClient(f2.linePort);
                 LineClient l = new LineClient(leader.linePort)) {
                assertThat(a.call("ACQ4ME shared 1 5 60")).isEqualTo("LOCKED");
                b.send("ACQ4ME shared 1 5 60");
                b.assertNothingPending();
                l.send("ACQ4ANY shared 1 5 60");
                l.assertNothingPending();
                assertThat(a.call("ACQ4ME shared 1 5 0")).isEqualTo("TIMEOUT"); // held, seen from every node
                assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
                // poolcounterd's order across three connections, now across three nodes
                assertThat(l.read()).isEqualTo("DONE");
                assertThat(b.read()).isEqualTo("LOCKED");
                assertThat(a.call("STATS processing_workers")).isEqualTo("processing_workers: 1");

                l.send("ACQ4ME shared 1 5 60");
                l.assertNothingPending();
                long killed = System.nanoTime();
                c.kill(f2); // b's node, holding the slot
                assertThat(b.closedByServer()).as("the dead node's connection is gone").isTrue();
                assertThat(l.read()).isEqualTo("LOCKED");
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                System.out.println("[LineClusterTest] slot of a killed node's client reached a waiter on another node"
                        + " after " + ms + " ms (session TTL " + TTL_MS + " ms)");
                assertThat(a.call("ACQ4ME shared 1 5 0")).isEqualTo("TIMEOUT");
                assertThat(l.call("RELEASE")).isEqualTo("RELEASED");
                assertThat(a.call("ACQ4ME shared 1 5 0")).isEqualTo("LOCKED");
            }
        }
    }
}
