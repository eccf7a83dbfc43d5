package dev.baton.bench.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * One server process of another system (poolcounterd, redis-server, a ZooKeeper or etcd member),
 * started for a comparison and stopped after it: output to {@code out.log} in its directory, stopped
 * with SIGTERM, then SIGKILL after 15 s, and killed by a shutdown hook of this JVM as a safety net.
 * Only the process started here is ever signalled.
 */
final class Daemon implements AutoCloseable {
    final String name;
    final Path dir;
    private final List<String> command;
    private Process process;
    private final Thread hook;

    Daemon(String name, Path dir, List<String> command) {
        this.name = name;
        this.dir = dir;
        this.command = List.copyOf(command);
        this.hook = new Thread(this::kill, "kill-" + name);
    }

    Path log() {
        return dir.resolve("out.log");
    }

    List<String> command() {
        return command;
    }

    Daemon start() {
        try {
            Files.createDirectories(dir);
            process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name + ": " + String.join(" ", command), e);
        }
        Runtime.getRuntime().addShutdownHook(hook);
        return this;
    }

    long pid() {
        return process == null ? -1 : process.pid();
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    /** Waits until something accepts connections on the port, failing early if the process exits. */
    void awaitPort(String host, int port, long timeoutMs) {
        awaitPort(host, port, timeoutMs, this::alive, () -> name + ": " + tail(20));
    }

    /**
     * Waits until something accepts connections on {@code host:port}, failing early when {@code alive}
     * turns false; {@code about} says more in the failure.
     */
    static void awaitPort(String host, int port, long timeoutMs, BooleanSupplier alive, Supplier<String> about) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true) {
            if (!alive.getAsBoolean()) {
                throw new IllegalStateException("the server of " + host + ":" + port + " exited; " + about.get());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 1000);
                return;
            } catch (IOException e) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("nothing listens on " + host + ":" + port + " after " + timeoutMs
                            + " ms; " + about.get());
                }
                Machine.sleep(100);
            }
        }
    }

    /** The last lines of the log. */
    String tail(int lines) {
        try {
            List<String> all = Files.exists(log()) ? Files.readAllLines(log()) : List.of();
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** SIGKILL, and wait for the process to be gone. */
    void kill() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** SIGTERM, SIGKILL after 15 s. */
    @Override
    public void close() {
        if (process == null) {
            return;
        }
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    kill();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                kill();
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
    }
}
