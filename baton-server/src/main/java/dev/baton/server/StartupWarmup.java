package dev.baton.server;

import org.rocksdb.NativeLibraryLoader;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Start-up work that depends on no option, done on a thread of its own while the main thread parses
 * the options and builds the metrics and the node; the main thread would otherwise do each step
 * itself, one after the other, when it first logs, opens the Raft log and opens a port. Where a core
 * is free (the JIT compilers use the other one only in part) this takes a few hundred milliseconds
 * off the time to ready. In order:
 *
 * <ol>
 *   <li>The logging backend (slf4j-simple reads its configuration and builds its date format: the
 *       JDK's locale and calendar data). {@link #awaitLogging()} waits for this step, so that no
 *       logger is asked for while it runs: slf4j would hand out stand-in loggers meanwhile.</li>
 *   <li>This machine's host name, resolved: SOFAJRaft's RPC layer asks the JVM for "pid@host" when it
 *       sets up its logging, and the JVM resolves the host name for that (through DNS where
 *       {@code /etc/hosts} does not name it). The JVM keeps the answer (5 s for the local host, 30 s
 *       for the name), so the node's own lookup finds it or waits for this one, never makes a
 *       second.</li>
 *   <li>RocksDB's JNI library (the Raft log): a 13 MB file copied out of the jar into the temporary
 *       directory and loaded, after RocksDB runs {@code ldd} to learn the C library; the node's own
 *       load then finds it loaded. It is the loader RocksDB itself calls, with the same directory
 *       ({@code $ROCKSDB_SHAREDLIB_DIR}), so where the library comes from does not change, and a
 *       failure here is left for the node's own load to report, as before.</li>
 *   <li>Netty's epoll transport (gRPC, the Raft port): its native library, copied out and loaded the
 *       same way; Netty records a failure and falls back to NIO, as it does without this.</li>
 * </ol>
 *
 * Nothing here logs or writes outside the temporary directory. The thread is a daemon, and whichever
 * thread comes second to a step finds it done or waits for it to finish (the loaders are
 * synchronized): no step runs twice.
 */
final class StartupWarmup {
    private static final AtomicBoolean STARTED = new AtomicBoolean();
    private static final CountDownLatch LOGGING = new CountDownLatch(1);

    private StartupWarmup() {
    }

    /**
     * Starts the work on a daemon thread and returns at once; the first call only (the node's
     * {@code main} calls it as early as it can, {@link ServerCommand#call()} for the starts through
     * {@code baton server}).
     */
    static void start() {
        if (STARTED.compareAndSet(false, true)) {
            Thread t = new Thread(StartupWarmup::run, "baton-startup-warmup");
            t.setDaemon(true);
            t.start();
        }
    }

    /** Starts the work if not yet started and waits until the logging backend is ready. */
    static void awaitLogging() throws InterruptedException {
        start();
        LOGGING.await();
    }

    private static void run() {
        try {
            org.slf4j.LoggerFactory.getILoggerFactory();
        } catch (Throwable e) {
            // The first logger the node asks for meets the same problem and reports it.
        } finally {
            LOGGING.countDown();
        }
        try {
            java.net.InetAddress.getLocalHost();
        } catch (Throwable e) {
            // The node's own lookup meets it again, as it would without this.
        }
        try {
            // What RocksDB.loadLibrary() does for the JNI library, without initializing the RocksDB
            // class here: were the load to fail on this thread, the node's own attempt would then
            // only see "Could not initialize class", not the reason.
            NativeLibraryLoader.getInstance().loadLibrary(System.getenv("ROCKSDB_SHAREDLIB_DIR"));
        } catch (Throwable e) {
            // The node's own load tries again and reports it.
        }
        try {
            io.netty.channel.epoll.Epoll.isAvailable();
        } catch (Throwable e) {
            // Netty keeps the reason and falls back to NIO, as it would without this.
        }
    }
}
