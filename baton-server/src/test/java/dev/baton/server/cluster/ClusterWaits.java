package dev.baton.server.cluster;

import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Waiting in tests of server processes: generously, since three JVMs starting on a loaded 2-core box
 * take their time, and never for speed (a wait that ends in time decides nothing by its length).
 */
final class ClusterWaits {
    /** How long a process-cluster test waits for anything before it fails. */
    static final long GENEROUS_MS = 180_000;

    private ClusterWaits() {
    }

    /**
     * Polls {@code cond} every 50 ms until it has a value, for up to {@link #GENEROUS_MS}; then fails
     * saying what was awaited and {@code details} (say, where the nodes' logs are).
     */
    static <T> T await(String what, Supplier<Optional<T>> cond, Supplier<String> details) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GENEROUS_MS);
        while (true) {
            Optional<T> v = cond.get();
            if (v.isPresent()) {
                return v.get();
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError(what + ": not within " + GENEROUS_MS + " ms " + details.get());
            }
            Thread.sleep(50);
        }
    }
}
