package dev.baton.server.cluster;

import dev.baton.server.cluster.ProcessCluster.NodeProc;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A grant that a node cut off from the cluster learns only after its client's session has expired
 * must not reach that client: by then the slot is someone else's.
 *
 * <p>The steps, on 3 real {@code baton server} processes with line sessions of 2 s: a line client on
 * the leader holds key {@code stale} (1 worker, at most 2 holders and waiters); a line client on a
 * follower waits for it (its wait is in the log: a third acquire is told {@code QUEUE_FULL}); the follower is cut off
 * from its peers ({@link Isolation}); the holder releases, so the leader grants the slot to the
 * waiter's session; nobody renews that session (its node is cut off), so the leader expires it and
 * the slot is free again; a new client on the leader is granted it ({@code LOCKED}) and keeps it.
 * Then the follower is healed and applies what it missed, in order: the grant, then the expiry. What
 * the waiting client reads first must not be {@code LOCKED} (two holders of a one-worker key), but
 * {@code ERROR SESSION_LOST}.
 *
 * <p>Today the line door tells the client {@code LOCKED} as soon as its node applies the grant, and
 * {@code ERROR SESSION_LOST} a moment later when it applies the expiry: this test fails, which is how
 * {@code bench/faults.sh} found it ({@code FaultClusterTest}'s leader cut off for longer than the
 * session TTL: "key 2 has 3 holders, workers 2"). See docs/limits.md, "A node cut off for longer than
 * a session's TTL". Disabled until the doors keep a lease of their own (what that takes is there too).
 */
@Disabled("reproduces a known over-grant (docs/limits.md, \"A node cut off for longer than a session's TTL\"); "
        + "enable with the fix")
class StaleGrantAfterCutOffTest {
    private static final long GENEROUS_MS = 180_000;

    @TempDir
    Path tmp;

    @Test
    void aGrantLearnedAfterTheSessionExpiredIsNotTold() throws Exception {
        String reason = Isolation.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "SKIPPED: cannot isolate a node here: " + reason);
        ProcessCluster c = new ProcessCluster(tmp, 3, "--session-ttl", "2000");
        Isolation iso = null;
        try {
            iso = Isolation.open(c);
            c.startAll();
            NodeProc leader = await("a leader", () -> c.nodes().stream().filter(n -> leads(c, n)).findFirst());
            NodeProc follower = c.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
            await("every node to know the leader", () -> c.nodes().stream()
                    .allMatch(n -> c.status(n, 10_000).map(s -> s.getLeaderRaftAddress().equals(leader.raft())).orElse(false))
                    ? Optional.of(true) : Optional.empty());

            try (Line holder = new Line(leader.linePort); Line waiter = new Line(follower.linePort)) {
                assertThat(holder.ask("ACQ4ME stale 1 2 60")).isEqualTo("LOCKED");
                waiter.send("ACQ4ME stale 1 2 60");
                // maxqueue 2 counts the holder and the waiter; a probe that does not wait (timeout 0)
                // is told TIMEOUT until the waiter's acquire is in the log, QUEUE_FULL after
                await("the waiter's acquire in the log", () -> {
                    try (Line probe = new Line(leader.linePort)) {
                        return "QUEUE_FULL".equals(probe.ask("ACQ4ME stale 1 2 0")) ? Optional.of(true) : Optional.empty();
                    }
                });

                iso.isolate(c, follower);
                try (Line next = new Line(leader.linePort)) {
                    assertThat(holder.ask("RELEASE")).isEqualTo("RELEASED"); // the slot goes to the waiter's session
                    // LOCKED once the leader has expired the waiter's session (nobody renews it) and freed the slot
                    assertThat(next.ask("ACQ4ME stale 1 2 60")).isEqualTo("LOCKED");
                    iso.heal();
                    String told = waiter.read();
                    assertThat(told).as("what the cut-off waiter hears while %s holds the key's only slot",
                            "a client on the leader").isNotEqualTo("LOCKED").isEqualTo("ERROR SESSION_LOST");
                }
            }
        } finally {
            c.close(); // first: a user with processes cannot be removed
            if (iso != null) {
                iso.close();
            }
        }
    }

    private static boolean leads(ProcessCluster c, NodeProc n) {
        return c.status(n, 10_000).map(s -> s.getIsLeader() && !s.getLeaderApiAddress().isEmpty()).orElse(false);
    }

    private interface Probe<T> {
        Optional<T> get() throws IOException;
    }

    private static <T> T await(String what, Probe<T> cond) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GENEROUS_MS);
        while (true) {
            Optional<T> v = cond.get();
            if (v.isPresent()) {
                return v.get();
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError(what + ": not within " + GENEROUS_MS + " ms");
            }
            Thread.sleep(50);
        }
    }

    /** A PoolCounter line connection. */
    private static final class Line implements AutoCloseable {
        private final Socket socket = new Socket();
        private final BufferedReader in;

        Line(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            socket.setSoTimeout((int) GENEROUS_MS);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
        }

        void send(String line) throws IOException {
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
        }

        String read() throws IOException {
            return in.readLine();
        }

        String ask(String line) throws IOException {
            send(line);
            return read();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
