package dev.baton.server.line;

import dev.baton.server.ServerCommand;
import dev.baton.server.NodeJvm;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.metrics.BatonMetrics;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The line door's bounds over raw sockets against a real node: a client that pipelines
 * and never reads is paused, not buffered; connections over the per-address cap are refused while
 * other addresses are served; idle and incomplete-line timeouts close with an error line; a
 * connection holding or waiting for a slot is never closed by the idle timer. Limits and timeouts
 * are small here so that no test needs thousands of sockets or long waits; timing never decides an
 * outcome (a timeout is awaited, never expected at an instant).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LineBoundsTest {
    private static final int MAX_PER_ADDRESS = 3;

    /** Default timeouts and buffer bound; a small per-address cap. */
    private ApiServer capped;
    /** Idle and partial-line timeouts of one second. */
    private ApiServer timed;
    private final List<LineClient> clients = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        capped = LineProtocolTest.startServer(Files.createTempDirectory("baton-line-bounds"),
                LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0).withMaxConnectionsPerAddress(MAX_PER_ADDRESS));
        timed = LineProtocolTest.startServer(Files.createTempDirectory("baton-line-timeouts"),
                LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0).withTimeouts(1_000, 1_000));
    }

    @AfterEach
    void closeClients() {
        clients.forEach(LineClient::close);
        clients.clear();
    }

    @AfterAll
    void stop() {
        for (ApiServer s : new ApiServer[] {capped, timed}) {
            if (s != null) {
                s.close();
            }
        }
    }

    private LineClient client(ApiServer s) {
        return track(new LineClient(s.lineDoor().port()));
    }

    private LineClient track(LineClient c) {
        clients.add(c);
        return c;
    }

    // ---- back-pressure ---------------------------------------------------------------------------

    /**
     * Today's main executes every pipelined STATS FULL at once and queues its ~700-byte reply in
     * direct memory: 300 000 lines are ~200 MB held for a client that does not read (1 M lines ran a
     * node out of direct memory). Now the connection stops being read once its unsent replies pass
     * the bound; the lines wait in the client's socket, and every reply still arrives, in order.
     */
    @Test
    void aClientThatPipelinesAndNeverReadsIsPausedAndLaterGetsEveryReplyInOrder() throws Exception {
        LineDoor door = capped.lineDoor();
        int bound = door.config().maxBufferedBytes();
        int lines = 300_000;
        long pausesBefore = door.backPressurePauses();
        long directBefore = PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", door.port()), LineClient.READ_TIMEOUT_MS);
            s.setSoTimeout(LineClient.READ_TIMEOUT_MS);
            AtomicReference<Throwable> writeFailure = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
                    for (int i = 0; i < lines; i++) {
                        out.write(line(i));
                    }
                    out.flush();
                } catch (Throwable t) {
                    writeFailure.set(t);
                }
            }, "pipelining-writer");
            writer.setDaemon(true);
            writer.start();

            TestWaits.await("the node to stop reading the connection", () -> door.pausedConnections() == 1);
            // However long the client does not read, the node holds no more for it than the bound
            // (plus the reply that crossed it) and no more read-ahead than one socket read. (While the
            // kernel's socket buffers grow, the connection is read again now and then, until they are full.)
            for (int k = 0; k < 30; k++) {
                assertThat(door.unsentBytes()).isLessThanOrEqualTo(bound + 2_048L);
                assertThat(door.readAheadBytes())
                        .isLessThanOrEqualTo((long) LineDoor.MAX_READ_BYTES + door.config().maxLineBytes());
                Thread.sleep(50);
            }
            TestWaits.await("the node to stop reading the connection", () -> door.pausedConnections() == 1);
            assertThat(PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory() - directBefore)
                    .as("direct memory taken while the client does not read")
                    .isLessThan(48L << 20);
            assertThat(door.backPressurePauses()).isGreaterThan(pausesBefore);

            // Now it reads: every reply, in order. release_mismatch counts the RELEASEs before each STATS.
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1),
                    64 * 1024);
            long base = -1;
            int releases = 0;
            for (int i = 0; i < lines; i++) {
                if (isRelease(i)) {
                    assertThat(in.readLine()).as("reply %d", i).isEqualTo("NOT_LOCKED");
                    releases++;
                    continue;
                }
                String first = in.readLine();
                assertThat(first).as("reply %d", i).startsWith("uptime: ");
                String mismatch = null;
                for (String l = in.readLine(); !l.isEmpty(); l = in.readLine()) {
                    if (l.startsWith("release_mismatch: ")) {
                        mismatch = l;
                    }
                }
                long m = Long.parseLong(mismatch.substring("release_mismatch: ".length()));
                if (base < 0) {
                    base = m;
                }
                assertThat(m).as("release_mismatch in reply %d", i).isEqualTo(base + releases);
            }
            writer.join(LineClient.READ_TIMEOUT_MS);
            assertThat(writeFailure.get()).isNull();
            TestWaits.await("the connection to be read again", () -> door.pausedConnections() == 0);
            s.getOutputStream().write("STATS UPTIME\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(in.readLine()).startsWith("uptime: "); // nothing more was pending
        }
    }

    private static boolean isRelease(int i) {
        return i % 1000 == 999;
    }

    private static final byte[] STATS_FULL = "STATS FULL\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RELEASE = "RELEASE\n".getBytes(StandardCharsets.US_ASCII);

    private static byte[] line(int i) {
        return isRelease(i) ? RELEASE : STATS_FULL;
    }

    // ---- per-address cap -------------------------------------------------------------------------

    @Test
    void connectionsOverThePerAddressCapAreRefusedWhileOtherAddressesAreServed() throws Exception {
        LineDoor door = capped.lineDoor();
        TestWaits.await("earlier tests' connections to be gone", () -> door.connections() == 0);
        long refusedBefore = door.refusedPerAddress();
        List<LineClient> idle = new ArrayList<>();
        for (int i = 0; i < MAX_PER_ADDRESS; i++) {
            LineClient c = client(capped);
            assertThat(c.call("STATS UPTIME")).startsWith("uptime: ");
            idle.add(c);
        }
        LineClient over = client(capped);
        assertThat(over.read()).isEqualTo("ERROR TOO_MANY_CONNECTIONS_FROM_ADDRESS");
        assertThat(over.closedByServer()).isTrue();
        assertThat(door.refusedPerAddress()).isEqualTo(refusedBefore + 1);
        String scrape = new BatonMetrics(capped.node(), "n1", BatonMetrics.Limits.DEFAULTS, () -> door).registry().scrape();
        assertThat(scrape).containsPattern("baton_line_connections_refused_total\\{node=\"n1\",reason=\"max_per_address\",?} "
                + (refusedBefore + 1) + "\\.0")
                .contains("baton_line_connections_closed_total{node=\"n1\",reason=\"idle\"")
                .contains("baton_line_backpressure_pauses_total{").contains("baton_line_connections_paused{")
                .contains("baton_line_unsent_bytes{");

        // Another client host is served meanwhile.
        LineClient other = track(new LineClient("127.0.0.1", door.port(), "127.0.0.2"));
        assertThat(other.call("ACQ4ME bounds-other-host 1 1 0")).isEqualTo("LOCKED");
        assertThat(other.call("STATS connect_errors")).startsWith("connect_errors: ");
        assertThat(other.call("RELEASE")).isEqualTo("RELEASED");

        // A connection closing frees its place.
        idle.get(0).close();
        TestWaits.await("the closed connection to be gone", () -> door.connections() == MAX_PER_ADDRESS);
        LineClient again = client(capped);
        assertThat(again.call("ACQ4ME bounds-again 1 1 0")).isEqualTo("LOCKED");
        assertThat(door.refusedPerAddress()).isEqualTo(refusedBefore + 1);
    }

    // ---- timeouts --------------------------------------------------------------------------------

    @Test
    void anIdleConnectionIsClosedWithAnErrorLine() throws Exception {
        long before = timed.lineDoor().closedIdle();
        LineClient c = client(timed);
        assertThat(c.call("STATS UPTIME")).startsWith("uptime: ");
        assertThat(c.read()).isEqualTo("ERROR IDLE_TIMEOUT");
        assertThat(c.closedByServer()).isTrue();
        TestWaits.await("the close to be counted", () -> timed.lineDoor().closedIdle() > before);
    }

    @Test
    void anIncompleteLineIsClosedWithAnErrorLineNotAsIdle() throws Exception {
        long idleBefore = timed.lineDoor().closedIdle();
        long before = timed.lineDoor().closedPartialLine();
        LineClient c = client(timed);
        c.sendRaw("ACQ4ME half-a-li");
        assertThat(c.read()).isEqualTo("ERROR LINE_TIMEOUT");
        assertThat(c.closedByServer()).isTrue();
        assertThat(timed.lineDoor().closedPartialLine()).isEqualTo(before + 1);
        assertThat(timed.lineDoor().closedIdle()).isEqualTo(idleBefore);
    }

    @Test
    void connectionsThatHoldOrWaitForASlotAreNotClosedByTheIdleTimer() throws Exception {
        int port = timed.lineDoor().port();
        LineClient holder = connectAnd(port, "ACQ4ME bounds-long-render 1 5 0", "LOCKED");
        LineClient waiter = connectAnd(port, "ACQ4ME bounds-long-render 1 5 600", null);
        LineClient watcher = client(timed);
        TestWaits.await("the waiter to be queued",
                () -> watcher.call("STATS waiting_workers").equals("waiting_workers: 1"));
        // An idle connection opened after both has been closed: they have been idle longer than it.
        LineClient probe = client(timed);
        assertThat(probe.read()).isEqualTo("ERROR IDLE_TIMEOUT");
        assertThat(holder.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(waiter.read()).isEqualTo("LOCKED");
        assertThat(waiter.call("RELEASE")).isEqualTo("RELEASED");
    }

    // ---- options -------------------------------------------------------------------------------------

    @Test
    void badBoundsOnTheCommandLineAreRefusedNamingTheOption() throws Exception {
        assertThat(serverWith("--line-max-buffered-bytes", "10")).contains("--line-max-buffered-bytes) must be at least 1024, got 10");
        assertThat(serverWith("--line-idle-timeout-ms", "-1")).contains("--line-idle-timeout-ms");
        assertThat(serverWith("--line-partial-line-timeout-ms", "-5")).contains("--line-partial-line-timeout-ms");
        assertThat(serverWith("--line-max-connections-per-address", "0"))
                .contains("--line-max-connections-per-address) must be positive");
    }

    /** Runs {@code baton server} with the options; it must exit with 2 at once. Returns its output. */
    private static String serverWith(String... options) throws Exception {
        Path dir = Files.createTempDirectory("baton-line-options");
        List<String> cmd = new ArrayList<>(NodeJvm.java());
        cmd.addAll(List.of(
                "-cp", System.getProperty("java.class.path"), ServerCommand.class.getName(),
                "--data-dir", dir.resolve("data").toString(), "--raft-port", Integer.toString(TestWaits.freePort()),
                "--api-port", "0", "--line-port", "0", "--no-http"));
        cmd.addAll(List.of(options));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("exit of baton server %s: %s", List.of(options), out).isEqualTo(2);
        return out;
    }

    /**
     * Connects and sends {@code line}, expecting {@code reply} (or none, for a wait). On a machine so
     * loaded that a whole idle timeout passes between connect and send, the door rightly closes the
     * connection first: then it tries again, so that the timing cannot decide the test.
     */
    private LineClient connectAnd(int port, String line, String reply) throws IOException {
        for (int attempt = 0; ; attempt++) {
            LineClient c = track(new LineClient(port));
            if (reply == null) {
                c.send(line);
                return c;
            }
            String r = c.call(line);
            if (r.equals(reply)) {
                return c;
            }
            assertThat(r).isEqualTo("ERROR IDLE_TIMEOUT");
            assertThat(attempt).isLessThan(5);
        }
    }
}
