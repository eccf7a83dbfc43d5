package dev.baton.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Bounded waits for the server's tests. Conditions are polled up to a generous bound, so how long
 * something takes never decides a test (only whether it happens at all).
 */
public final class TestWaits {
    public static final Duration WAIT = Duration.ofSeconds(20);

    private TestWaits() {}

    /** The future's value, waiting up to {@link #WAIT}. */
    public static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Polls until {@code condition} holds; fails naming {@code what} after {@link #WAIT}. */
    public static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    /** Every port handed out in this JVM: the kernel may offer a port again once its probe socket is closed. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A port free on loopback right now and never handed out before in this JVM, so that the ports of
     * the nodes of one test are distinct (seen: one node's HTTP port was another's Raft port).
     */
    public static int freePort() {
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
}
