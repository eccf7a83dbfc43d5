package dev.baton.server;

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

    /** A port for a server a test starts: see {@link TestPorts}. */
    public static int freePort() {
        return TestPorts.free();
    }
}
