package dev.baton.server.cluster;

import dev.baton.server.cluster.ProcessCluster.NodeProc;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Cuts one node of a {@link ProcessCluster} off from its peers on loopback, where every packet
 * leaves from 127.0.0.1: each node runs as its own system user ({@code baton-t1}, {@code baton-t2},
 * ...) and an iptables chain ({@value #CHAIN}, jumped to from OUTPUT) drops, by packet owner
 * ({@code -m owner --uid-owner}), what the isolated node sends to the other nodes' Raft and API
 * ports and what they send to its own. The test JVM's traffic (clients, status polls) is not
 * touched, so clients keep reaching every node. Needs root, {@code iptables} with the owner match
 * and {@code setpriv}; {@link #unavailableReason()} says what is missing.
 *
 * <p>Clean-up: {@link #close()} removes the chain and the users this class created; a chain left
 * behind by a killed run is removed by the next {@link #open}.
 *
 * <p>The chain and the users are the machine's, and the test JVMs (surefire forks) run side by side:
 * an {@code Isolation} holds a file lock ({@link #LOCK}) from {@link #open} to {@link #close}, and
 * the probe of {@link #unavailableReason()} takes it too, so only one test cuts nodes off at a time.
 */
final class Isolation implements AutoCloseable {
    static final String CHAIN = "BATON-FAULTS";
    private static final String USER_PREFIX = "baton-t";

    private static final Path LOCK = Path.of(System.getProperty("java.io.tmpdir"), "baton-isolation.lock");

    private final List<String> createdUsers = new ArrayList<>();
    private final FileLock lock;

    private Isolation(FileLock lock) {
        this.lock = lock;
    }

    /** Waits for the machine-wide lock (another test JVM may hold it for a whole test). */
    private static FileLock lockMachineWide() throws IOException {
        FileChannel ch = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            return ch.lock();
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static void unlock(FileLock lock) {
        try {
            lock.release();
            lock.channel().close();
        } catch (IOException e) {
            // closing the channel releases it in any case
        }
    }

    /** Null if isolation can run here, else why not (for the skip message). */
    static String unavailableReason() {
        try {
            if (!"0".equals(run(List.of("id", "-u")).trim())) {
                return "not root (needs iptables and per-node system users)";
            }
            for (String tool : List.of("iptables", "setpriv", "useradd")) {
                if (tryRun(List.of("sh", "-c", "command -v " + tool)).isEmpty()) {
                    return tool + " not found (./test installs iptables when it runs as root)";
                }
            }
            // The owner match must work for locally sent packets.
            FileLock probing = lockMachineWide();
            try {
                return probe();
            } finally {
                unlock(probing);
            }
        } catch (IOException e) {
            return "cannot run the tools: " + e.getMessage();
        }
    }

    private static String probe() {
        tryRun(List.of("iptables", "-D", "OUTPUT", "-j", CHAIN + "-PROBE"));
        tryRun(List.of("iptables", "-F", CHAIN + "-PROBE"));
        tryRun(List.of("iptables", "-X", CHAIN + "-PROBE"));
        if (tryRun(List.of("iptables", "-N", CHAIN + "-PROBE")).isEmpty()) {
            return "iptables cannot create a chain here";
        }
        try {
            if (tryRun(List.of("iptables", "-A", CHAIN + "-PROBE", "-o", "lo", "-p", "tcp", "--dport", "9",
                    "-m", "owner", "--uid-owner", "65534", "-j", "DROP")).isEmpty()) {
                return "iptables has no owner match (-m owner) here";
            }
        } finally {
            tryRun(List.of("iptables", "-F", CHAIN + "-PROBE"));
            tryRun(List.of("iptables", "-X", CHAIN + "-PROBE"));
        }
        return null;
    }

    /**
     * Creates the users {@code baton-t1..n} if missing, makes every node of {@code c} run as one
     * (from its start), and an empty {@value #CHAIN} chain jumped to from OUTPUT (removing one left
     * behind first).
     */
    static Isolation open(ProcessCluster c) throws IOException {
        Isolation iso = new Isolation(lockMachineWide());
        try {
            iso.setUp(c);
        } catch (IOException | RuntimeException e) {
            iso.close();
            throw e;
        }
        return iso;
    }

    private void setUp(ProcessCluster c) throws IOException {
        removeChain();
        run(List.of("iptables", "-N", CHAIN));
        run(List.of("iptables", "-I", "OUTPUT", "-j", CHAIN));
        for (int i = 0; i < c.nodes().size(); i++) {
            String user = USER_PREFIX + (i + 1);
            if (tryRun(List.of("id", "-u", user)).isEmpty()) {
                run(List.of("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user));
                createdUsers.add(user);
            }
            c.runAs(c.node(i), user);
        }
    }

    /** Drops every packet between {@code victim} and the other nodes' Raft and API ports, both ways. */
    void isolate(ProcessCluster c, NodeProc victim) throws IOException {
        for (NodeProc other : c.nodes()) {
            if (other == victim) {
                continue;
            }
            for (int port : new int[] {other.raftPort, other.apiPort}) {
                drop(victim.user, port);
            }
            for (int port : new int[] {victim.raftPort, victim.apiPort}) {
                drop(other.user, port);
            }
        }
    }

    private static void drop(String user, int port) throws IOException {
        run(List.of("iptables", "-A", CHAIN, "-o", "lo", "-p", "tcp", "--dport", Integer.toString(port),
                "-m", "owner", "--uid-owner", user, "-j", "DROP"));
    }

    /** Removes every rule: the network is whole again. */
    void heal() throws IOException {
        run(List.of("iptables", "-F", CHAIN));
    }

    /** The rules now in place, for failure messages. */
    String rules() {
        return tryRun(List.of("iptables", "-S", CHAIN)).orElse("(cannot list " + CHAIN + ")");
    }

    private static void removeChain() {
        // -D removes one jump per call; a crashed run may have left more than one.
        for (int i = 0; i < 10 && tryRun(List.of("iptables", "-D", "OUTPUT", "-j", CHAIN)).isPresent(); i++) {
            // removed one
        }
        tryRun(List.of("iptables", "-F", CHAIN));
        tryRun(List.of("iptables", "-X", CHAIN));
    }

    @Override
    public void close() {
        if (!lock.isValid()) {
            return;
        }
        try {
            removeChain();
            for (String user : createdUsers) {
                tryRun(List.of("userdel", user));
            }
            createdUsers.clear();
        } finally {
            unlock(lock);
        }
    }

    private static Optional<String> tryRun(List<String> cmd) {
        try {
            return Optional.of(run(cmd));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Runs a command; its output, or IOException with the output if it fails. */
    private static String run(List<String> cmd) throws IOException {
        Path out = Files.createTempFile("baton-iso", ".out");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": no exit within 60 s");
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + text.trim());
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
