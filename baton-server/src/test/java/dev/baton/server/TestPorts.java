package dev.baton.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ports for the servers the tests start. A test picks a port, lets it go, and hands it to a server
 * (often another process) that binds it later; in between, anything else on the machine may take it.
 * Asking the kernel for "any free port" (bind to 0) draws from its ephemeral range, which every
 * outgoing connection and every other test JVM draws from too, so with two test JVMs side by side a
 * node was seen to find its port taken.
 *
 * <p>So a test JVM that surefire numbered ({@code baton.test.fork}, from {@code surefire.forkNumber})
 * takes its ports from a block of its own below the ephemeral range: no outgoing connection and no
 * other fork uses that block, and within the JVM each port is handed out once before the block wraps.
 * Every port is still checked by binding it on all addresses. baton-server's two test JVMs have
 * blocks 1 and 2; baton-cli and baton-it, which reuse these helpers and may run beside another
 * module's tests, have blocks 3 and 4 (their poms). That is every block there is room for: a later
 * module's tests share one of them only if they never run beside its owner. Without a fork number (an IDE), or where the kernel's ephemeral range leaves
 * no room, it asks the kernel as before, never handing out the same port twice in one JVM.
 */
public final class TestPorts {
    /** Ports per fork; four forks fit between {@link #FIRST} and the usual ephemeral range (32768). */
    static final int BLOCK_SIZE = 3_000;
    static final int FIRST = 20_000;
    private static final int MAX_FORKS = 4;

    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger NEXT = new AtomicInteger();
    private static final int[] BLOCK = block(System.getProperty("baton.test.fork"), ephemeralRange());

    private TestPorts() {}

    /** A port no server is bound to right now, not handed out before by this JVM (until its block wraps). */
    public static int free() {
        if (BLOCK != null) {
            for (int tries = 0; tries < BLOCK_SIZE; tries++) {
                int port = BLOCK[0] + Math.floorMod(NEXT.getAndIncrement(), BLOCK_SIZE);
                if (bindable(port)) {
                    return port;
                }
            }
        }
        while (true) {
            try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * The block {first, end} of fork {@code fork} (1-based), or null without a fork number or if the
     * block would overlap the ephemeral range {@code ephemeral} ({low, high}, or null if unknown).
     */
    static int[] block(String fork, int[] ephemeral) {
        if (fork == null || fork.isBlank() || ephemeral == null) {
            return null;
        }
        int k;
        try {
            k = Integer.parseInt(fork.trim());
        } catch (NumberFormatException e) {
            return null;
        }
        int first = FIRST + Math.floorMod(k - 1, MAX_FORKS) * BLOCK_SIZE;
        int end = first + BLOCK_SIZE;
        boolean overlaps = first <= ephemeral[1] && ephemeral[0] < end;
        return overlaps ? null : new int[] {first, end};
    }

    /** The kernel's ephemeral port range (Linux), or null where it cannot be read. */
    static int[] ephemeralRange() {
        // A stream, not Files.readString: /proc files report size 0, and readString returned only
        // the first character of this one.
        try (var in = Files.newInputStream(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
            String[] f = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim().split("\\s+");
            return new int[] {Integer.parseInt(f[0]), Integer.parseInt(f[1])};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // a port in TIME_WAIT is fine: the servers bind with SO_REUSEADDR too
            s.bind(new InetSocketAddress(port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
