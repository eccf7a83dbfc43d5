package dev.baton.server.cluster;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.server.ServerCommand;
import dev.baton.server.NodeJvm;
import io.grpc.ManagedChannel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A Baton cluster of real {@code baton server} processes on loopback (free ports, a temp dir per
 * node, each JVM with its own {@code java.io.tmpdir} because RocksDB extracts its native library
 * there and {@code kill -9} leaves it behind). Nodes can be killed (SIGKILL), stopped (SIGTERM),
 * restarted on their data, or wiped and restarted.
 */
final class ProcessCluster implements AutoCloseable {
    static final class NodeProc {
        final String id;
        final int raftPort;
        final int apiPort;
        final int linePort;
        final int httpPort;
        final Path dir;
        Process process;
        ManagedChannel channel;
        boolean join;
        /** The system user the process runs as (see {@link #runAs}), or null for this JVM's own. */
        String user;
        /** Extra environment of the node's process (e.g. LD_PRELOAD of libfaketime), set before start. */
        final Map<String, String> env = new LinkedHashMap<>();
        /** Extra options of this node's {@code baton server} only (after the cluster's), set before start. */
        final List<String> args = new ArrayList<>();
        /** Started by the test and not killed or stopped since: it should be alive. */
        volatile boolean running;

        NodeProc(String id, int raftPort, int apiPort, Path dir) {
            this.id = id;
            this.raftPort = raftPort;
            this.apiPort = apiPort;
            this.linePort = freePort();
            this.httpPort = freePort();
            this.dir = dir;
        }

        String raft() {
            return "127.0.0.1:" + raftPort;
        }

        String api() {
            return "127.0.0.1:" + apiPort;
        }

        /** Base URL of the node's HTTP port (metrics, admin API, dashboard). */
        String http() {
            return "http://127.0.0.1:" + httpPort;
        }

        boolean alive() {
            return process != null && process.isAlive();
        }

        /**
         * Fails at once if the node's process ended although the test started it and has not killed
         * or stopped it since (say, a port taken between the test's choice and the bind): no wait on
         * this node can succeed any more, and the 180 s it would take to find out help no one.
         */
        void failIfExitedOnItsOwn(ProcessCluster cluster) {
            if (running && process != null && !process.isAlive()) {
                running = false;
                throw new AssertionError(id + " exited on its own with code " + process.exitValue()
                        + " while the test waited on it\n" + cluster.logs());
            }
        }

        Path log() {
            return dir.resolve("out.log");
        }
    }

    private final Path root;
    private final List<NodeProc> nodes = new ArrayList<>();
    private final List<String> extraArgs;
    /** How {@link #status} connects to the nodes (TLS when their API port has it). */
    private io.grpc.ChannelCredentials credentials = io.grpc.InsecureChannelCredentials.create();
    /** API TLS, Raft mutual TLS and tokens for every node, or null for a plain cluster. */
    private SecuredCluster security;

    /** A cluster of {@code n} nodes (not started). */
    ProcessCluster(Path root, int n, String... extraArgs) {
        this.root = root;
        this.extraArgs = List.of(extraArgs);
        for (int i = 1; i <= n; i++) {
            nodes.add(new NodeProc("n" + i, freePort(), freePort(), root.resolve("n" + i)));
        }
    }

    /** A free port, distinct from every other this JVM's tests were given. */
    static int freePort() {
        return dev.baton.server.TestWaits.freePort();
    }

    /** Connect to the nodes' API ports with these credentials (e.g. TLS), from now on. */
    ProcessCluster withChannelCredentials(io.grpc.ChannelCredentials c) {
        this.credentials = c;
        return this;
    }

    /**
     * Starts every node (from now on) with API TLS, Raft mutual TLS and a token file, and asks the
     * nodes' status over TLS with {@code security}'s admin token. Plain clusters do not call this.
     */
    ProcessCluster secured(SecuredCluster security) {
        this.security = security;
        this.credentials = security.channelCredentials();
        return this;
    }

    /** The security of the nodes, or null for a plain cluster. */
    SecuredCluster security() {
        return security;
    }

    List<NodeProc> nodes() {
        return nodes;
    }

    NodeProc node(int i) {
        return nodes.get(i);
    }

    List<String> apiEndpoints() {
        return nodes.stream().map(NodeProc::api).collect(Collectors.toList());
    }

    String peers() {
        return nodes.stream().map(n -> n.id + "=" + n.raft()).collect(Collectors.joining(","));
    }

    ProcessCluster startAll() {
        for (NodeProc n : nodes) {
            start(n);
        }
        return this;
    }

    /** A new node started with {@code --join}: not a member until the leader adds it. */
    NodeProc startJoining() {
        NodeProc n = add();
        n.join = true;
        start(n);
        return n;
    }

    /**
     * A new node (not started): from now on it is in the {@code --peers} of every node started, itself
     * included, so it claims to be a member when it starts.
     */
    NodeProc add() {
        NodeProc n = new NodeProc("n" + (nodes.size() + 1), freePort(), freePort(), root.resolve("n" + (nodes.size() + 1)));
        nodes.add(n);
        return n;
    }

    /** The secret every node of this cluster shares (members-only forwarding), written once. */
    Path clusterSecretFile() throws IOException {
        Path f = root.resolve("cluster.secret");
        if (!Files.exists(f)) {
            byte[] b = new byte[32];
            new java.security.SecureRandom().nextBytes(b);
            Files.writeString(f, java.util.Base64.getEncoder().encodeToString(b) + "\n");
        }
        return f;
    }

    /**
     * Runs the node's process as system user {@code user} (from its next start), so that firewall
     * rules can tell its packets from the other nodes' on loopback ({@code iptables -m owner}). The
     * process keeps CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (ambient), so it still reads the class
     * path and writes its directory wherever they are; only its uid differs. Needs root and setpriv.
     */
    void runAs(NodeProc n, String user) {
        n.user = user;
    }

    /** Sends {@code kill -<sig>} (e.g. STOP, CONT) to the node's process. */
    void signal(NodeProc n, String sig) throws IOException, InterruptedException {
        if (n.process == null || !n.process.isAlive()) {
            return;
        }
        Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(n.process.pid())).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("kill -" + sig + " " + n.process.pid() + " failed");
        }
    }

    void start(NodeProc n) {
        try {
            Files.createDirectories(n.dir.resolve("jtmp"));
            List<String> cmd = new ArrayList<>();
            if (n.user != null) {
                // The JDK checks paths with access(2), which ignores the capabilities of a non-root
                // user: the node's own directory must be its, and the test's root traversable.
                Files.setPosixFilePermissions(root, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
                Process chown = new ProcessBuilder("chown", "-R", n.user + ":" + n.user, n.dir.toString())
                        .inheritIO().start();
                if (chown.waitFor() != 0) {
                    throw new IOException("chown -R " + n.user + " " + n.dir + " failed");
                }
                cmd.addAll(List.of("setpriv", "--reuid", n.user, "--regid", n.user, "--clear-groups",
                        "--inh-caps", "+dac_override,+dac_read_search", "--ambient-caps", "+dac_override,+dac_read_search"));
            }
            cmd.addAll(NodeJvm.java());
            cmd.addAll(List.of(
                    "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.io.tmpdir=" + n.dir.resolve("jtmp"),
                    "-cp", System.getProperty("java.class.path"), ServerCommand.class.getName(),
                    "--node-id", n.id, "--data-dir", n.dir.resolve("data").toString(),
                    "--raft-port", Integer.toString(n.raftPort), "--api-port", Integer.toString(n.apiPort),
                    "--line-port", Integer.toString(n.linePort), "--http-port", Integer.toString(n.httpPort)));
            if (nodes.size() > 1) {
                cmd.addAll(List.of("--peers", peers(), "--cluster-secret-file", clusterSecretFile().toString()));
            }
            if (n.join) {
                cmd.add("--join");
            }
            if (security != null) {
                cmd.addAll(security.serverArgs(n.id));
            }
            cmd.addAll(extraArgs);
            cmd.addAll(n.args);
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(n.env);
            n.process = pb.redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(n.log().toFile())).start();
            n.running = true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting " + n.id, e);
        }
    }

    /** SIGKILL: no shutdown hook, nothing flushed beyond what was fsynced. */
    void kill(NodeProc n) throws InterruptedException {
        n.running = false;
        if (n.process != null) {
            n.process.destroyForcibly();
            n.process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** SIGTERM and wait for a clean exit. */
    void stop(NodeProc n) throws InterruptedException {
        n.running = false;
        if (n.process != null && n.process.isAlive()) {
            n.process.toHandle().destroy();
            if (!n.process.waitFor(60, TimeUnit.SECONDS)) {
                n.process.destroyForcibly();
                n.process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** Deletes the node's data directory (the node must be stopped). */
    void wipe(NodeProc n) throws IOException {
        Path data = n.dir.resolve("data");
        if (Files.exists(data)) {
            try (Stream<Path> s = Files.walk(data)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                    Files.delete(p);
                }
            }
        }
    }

    /** The node's status, or empty if it does not answer. */
    Optional<StatusResponse> status(NodeProc n) {
        return status(n, 2_000);
    }

    /** The node's status, or empty if it does not answer within {@code deadlineMs}. */
    Optional<StatusResponse> status(NodeProc n, long deadlineMs) {
        if (!n.alive()) {
            return Optional.empty();
        }
        try {
            if (n.channel == null) {
                n.channel = io.grpc.Grpc.newChannelBuilder(n.api(), credentials).build();
            }
            AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(n.channel);
            if (security != null) {
                admin = admin.withInterceptors(dev.baton.client.BearerToken.interceptor(security.adminToken()));
            }
            return Optional.of(admin.withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                    .status(StatusRequest.getDefaultInstance()));
        } catch (RuntimeException e) {
            // Connect again on the next call: gRPC's back-off between failed connects grows to 2
            // minutes, so a node whose JVM took long to listen (a loaded box) would be seen late.
            if (n.channel != null) {
                n.channel.resetConnectBackoff();
            }
            return Optional.empty();
        }
    }

    /**
     * The node's status, waiting up to 120 s for it to answer: a node may still be starting its JVM,
     * and on a loaded 2-core box (load average 19) one took over 30 s to.
     */
    StatusResponse awaitStatus(NodeProc n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            Optional<StatusResponse> st = status(n);
            if (st.isPresent()) {
                return st.get();
            }
            n.failIfExitedOnItsOwn(this);
            if (System.nanoTime() > deadline) {
                throw new AssertionError(n.id + " does not answer status\n" + logs());
            }
            Thread.sleep(50);
        }
    }

    /** A live node that knows the leader and is not it. */
    NodeProc awaitFollower() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            for (NodeProc n : nodes) {
                Optional<StatusResponse> st = status(n);
                if (st.isPresent() && !st.get().getIsLeader() && !st.get().getLeaderRaftAddress().isEmpty()) {
                    return n;
                }
                n.failIfExitedOnItsOwn(this);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no follower\n" + logs());
            }
            Thread.sleep(50);
        }
    }

    /** The live node that says it leads and accepts writes, waiting up to {@code timeoutMs}. */
    Optional<NodeProc> awaitLeader(long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        do {
            for (NodeProc n : nodes) {
                Optional<StatusResponse> st = status(n);
                if (st.isPresent() && st.get().getIsLeader() && !st.get().getLeaderApiAddress().isEmpty()) {
                    return Optional.of(n);
                }
                n.failIfExitedOnItsOwn(this);
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        return Optional.empty();
    }

    String logs() {
        StringBuilder b = new StringBuilder();
        for (NodeProc n : nodes) {
            try {
                List<String> lines = Files.exists(n.log()) ? Files.readAllLines(n.log()) : List.of();
                b.append("---- ").append(n.id).append(" (last lines)\n");
                lines.subList(Math.max(0, lines.size() - 30), lines.size()).forEach(l -> b.append(l).append('\n'));
            } catch (IOException e) {
                b.append(e).append('\n');
            }
        }
        return b.toString();
    }

    @Override
    public void close() {
        for (NodeProc n : nodes) {
            if (n.channel != null) {
                n.channel.shutdownNow();
            }
            try {
                kill(n);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                n.process.destroyForcibly(); // still no orphan server left behind
            }
        }
    }
}
