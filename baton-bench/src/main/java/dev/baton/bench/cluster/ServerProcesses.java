package dev.baton.bench.cluster;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A cluster of real {@code baton server} processes on loopback for the benchmarks: free ports, a temp
 * dir per node (data, its own {@code java.io.tmpdir} for RocksDB's native library, {@code out.log}),
 * durable (the server's default: the Raft log is fsynced). Every process is stopped on {@link #close()}
 * (SIGTERM, then SIGKILL after 15 s) and, as a safety net, killed by a shutdown hook of this JVM. Only processes started here are ever killed.
 */
final class ServerProcesses implements AutoCloseable {
    static final class Node {
        final String id;
        final int raftPort;
        final int apiPort;
        final Path dir;
        /** The PoolCounter line port ({@code --line-port}), or 0 for none ({@code --no-line}). */
        int linePort;
        Process process;
        ManagedChannel channel;
        /** Why the last status poll failed, for error reports (a node may be up but refuse the poll). */
        volatile String lastStatusError = "";

        Node(String id, int raftPort, int apiPort, Path dir) {
            this.id = id;
            this.raftPort = raftPort;
            this.apiPort = apiPort;
            this.dir = dir;
        }

        String raft() {
            return "127.0.0.1:" + raftPort;
        }

        String api() {
            return "127.0.0.1:" + apiPort;
        }

        boolean alive() {
            return process != null && process.isAlive();
        }

        long pid() {
            return process == null ? -1 : process.pid();
        }

        Path log() {
            return dir.resolve("out.log");
        }
    }

    /**
     * The JVM options of a node as {@code bin/baton server} starts it: the flags of the release's
     * {@code conf/jvm.options} (a test checks they are the same), less {@code -XX:+ExitOnOutOfMemoryError},
     * which {@link #command} always adds. The benchmarks measure the server users run. It matters: on
     * the benchmarks' VM, a pre-touched 1 GiB heap in 4 KiB pages kept the kernel's memory monitor
     * ({@code kdamond}, DAMON's proactive reclaim) busy for about 5 % of a CPU in bursts of 3-10 ms that
     * stalled the nodes' threads; with the shipped transparent huge pages it took about 1 % (BENCHMARKS.md).
     */
    static final String SHIPPED_JVM = "-Xms1g -Xmx1g -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages -XX:+UseG1GC";

    private final Path root;
    private final String classpath;
    private final List<String> jvmArgs;
    private final List<String> serverArgs;
    private final List<Node> nodes = new ArrayList<>();
    private final Thread hook;
    /** Certificates and token file of a {@link #secured()} cluster, else null. */
    private Path securityDir;
    /** The bearer token clients must send to a {@link #secured()} cluster, else null. */
    private String authToken;

    /**
     * @param classpath  classpath holding {@code dev.baton.server.ServerCommand} (e.g. the shaded {@code baton.jar})
     * @param jvmArgs    JVM options of each server, space-separated; {@code {id}} becomes the node id
     * @param serverArgs extra {@code baton server} options, space-separated
     */
    ServerProcesses(int n, String classpath, String jvmArgs, String serverArgs) throws IOException {
        this.root = Files.createTempDirectory("baton-bench-");
        this.classpath = classpath;
        this.jvmArgs = split(jvmArgs);
        this.serverArgs = split(serverArgs);
        for (int i = 1; i <= n; i++) {
            nodes.add(new Node("n" + i, Machine.freePort(), Machine.freePort(), root.resolve("n" + i)));
        }
        this.hook = new Thread(this::killAll, "baton-bench-kill-servers");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    private static List<String> split(String s) {
        return s == null || s.isBlank() ? List.of() : Arrays.asList(s.trim().split("\\s+"));
    }

    List<Node> nodes() {
        return nodes;
    }

    Path root() {
        return root;
    }

    /**
     * Gives every node a free line port, passed as {@code --line-port} when it starts. Without this call
     * the nodes run with {@code --no-line} (they would all try the default port 7531).
     */
    ServerProcesses withLinePorts() {
        for (Node n : nodes) {
            n.linePort = Machine.freePort();
        }
        return this;
    }

    /**
     * Secures the cluster as docs/security.md describes it, with throw-away material made now in the
     * cluster's dir: TLS on every API port (a certificate per node from an API CA, which is also the CA
     * the members check when they forward to the leader), mutual TLS on the Raft port (a certificate per
     * node from a separate members' CA, as docs/limits.md advises) and a token file with one token (roles
     * client and read: the load and the status polls here) that every API call must carry. Clients
     * then need {@link #apiCaFile()} and {@link #authToken()}. Call before {@link #startAll()}.
     */
    ServerProcesses secured() throws IOException {
        Path dir = root.resolve("security");
        Files.createDirectories(dir);
        BenchCertificates.ca(dir, "api-ca");
        BenchCertificates.ca(dir, "members-ca");
        for (Node n : nodes) {
            BenchCertificates.leaf(dir, "api-ca", n.id + "-api");
            BenchCertificates.leaf(dir, "members-ca", n.id + "-peer");
        }
        String token = BenchCertificates.newToken();
        Files.writeString(dir.resolve("tokens"), "# baton-bench: the load generator and its status polls\n"
                + BenchCertificates.tokenLine(token, "bench", "client,read") + "\n");
        securityDir = dir;
        authToken = token;
        return this;
    }

    boolean isSecured() {
        return securityDir != null;
    }

    /** The CA (PEM) that signed the API certificates of a {@link #secured()} cluster, else null. */
    Path apiCaFile() {
        return securityDir == null ? null : securityDir.resolve("api-ca.pem");
    }

    /** The bearer token of a {@link #secured()} cluster, else null. */
    String authToken() {
        return authToken;
    }

    List<String> apiEndpoints() {
        return nodes.stream().map(Node::api).collect(Collectors.toList());
    }

    String peers() {
        return nodes.stream().map(n -> n.id + "=" + n.raft()).collect(Collectors.joining(","));
    }

    /** The secret every node shares (members-only forwarding), written once in the cluster's directory. */
    Path clusterSecretFile() {
        Path f = root.resolve("cluster.secret");
        try {
            if (!Files.exists(f)) {
                byte[] b = new byte[32];
                new java.security.SecureRandom().nextBytes(b);
                Files.writeString(f, java.util.Base64.getEncoder().encodeToString(b) + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return f;
    }

    List<String> command(Node n) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:+ExitOnOutOfMemoryError"); // as ./baton: an out-of-memory node ends, it does not linger
        for (String arg : jvmArgs) {
            cmd.add(arg.replace("{id}", n.id)); // e.g. -agentpath:...libasyncProfiler.so=start,...,file=/tmp/{id}.collapsed
        }
        cmd.add("-Djava.io.tmpdir=" + n.dir.resolve("jtmp"));
        cmd.addAll(List.of("-cp", classpath, "dev.baton.server.ServerCommand",
                "--node-id", n.id, "--data-dir", n.dir.resolve("data").toString(),
                "--raft-port", Integer.toString(n.raftPort), "--api-port", Integer.toString(n.apiPort)));
        if (nodes.size() > 1) {
            cmd.addAll(List.of("--peers", peers(), "--cluster-secret-file", clusterSecretFile().toString()));
        }
        if (n.linePort > 0) {
            cmd.addAll(List.of("--line-port", Integer.toString(n.linePort)));
        } else {
            cmd.add("--no-line");
        }
        cmd.add("--no-http"); // benchmarks scrape nothing; and several nodes would want 7532
        if (securityDir != null) {
            String d = securityDir.toString() + "/";
            cmd.addAll(List.of("--tls-cert-file", d + n.id + "-api.pem", "--tls-key-file", d + n.id + "-api.key",
                    "--tls-ca-file", d + "api-ca.pem",
                    "--peer-tls-cert-file", d + n.id + "-peer.pem", "--peer-tls-key-file", d + n.id + "-peer.key",
                    "--peer-tls-ca-file", d + "members-ca.pem",
                    "--auth-token-file", d + "tokens"));
        }
        cmd.addAll(serverArgs);
        return cmd;
    }

    ServerProcesses startAll() {
        for (Node n : nodes) {
            start(n);
        }
        return this;
    }

    /**
     * After {@link #startAll()}, waits until the cluster serves: a leader within 60 s (failing at once if
     * a node exits), every node agreeing on it within 30 s, and the line ports (if any) open; then a
     * second for the leader's start-up writes (limits, address announcements).
     */
    ServerProcesses awaitServing() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (awaitLeader(1000).isEmpty()) {
            if (nodes.stream().anyMatch(n -> !n.alive())) {
                throw new IllegalStateException("a Baton server exited while starting:\n" + logs(30));
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("no Baton leader within 60 s (last status errors: "
                        + nodes.stream().map(n -> n.id + ": " + n.lastStatusError).collect(Collectors.joining("; "))
                        + "):\n" + logs(30));
            }
        }
        if (!awaitSettled(0, 30_000)) {
            throw new IllegalStateException("the Baton cluster did not settle within 30 s:\n" + logs(30));
        }
        for (Node n : nodes) {
            if (n.linePort > 0) {
                Daemon.awaitPort("127.0.0.1", n.linePort, 30_000, n::alive, () -> logs(30));
            }
        }
        Machine.sleep(1000);
        return this;
    }

    /** The line ports' addresses (after {@link #withLinePorts()}). */
    List<InetSocketAddress> lineAddresses() {
        return nodes.stream().map(n -> InetSocketAddress.createUnresolved("127.0.0.1", n.linePort))
                .collect(Collectors.toList());
    }

    void start(Node n) {
        try {
            Files.createDirectories(n.dir.resolve("jtmp"));
            n.process = new ProcessBuilder(command(n)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(n.log().toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SIGKILL (kill -9) and wait for the process to be gone. */
    void kill(Node n) throws InterruptedException {
        if (n.process != null) {
            n.process.destroyForcibly();
            n.process.waitFor(30, TimeUnit.SECONDS);
        }
        if (n.channel != null) {
            n.channel.shutdownNow();
            n.channel = null;
        }
    }

    /**
     * Sends a signal ({@code STOP}, {@code CONT}) to the node's process with {@code kill -<sig>}: a
     * SIGSTOPped server answers nothing and sends no heartbeat, as a long GC pause or a frozen VM would.
     */
    void signal(Node n, String sig) throws IOException, InterruptedException {
        if (n.process == null || !n.process.isAlive()) {
            return;
        }
        Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(n.pid())).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("kill -" + sig + " " + n.pid() + " failed");
        }
    }

    /** This node's status, or empty if it does not answer within {@code deadlineMs}. */
    Optional<StatusResponse> status(Node n, long deadlineMs) {
        if (!n.alive()) {
            return Optional.empty();
        }
        try {
            if (n.channel == null) {
                n.channel = channel(n);
            }
            return Optional.of(AdminGrpc.newBlockingStub(n.channel).withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                    .status(StatusRequest.getDefaultInstance()));
        } catch (RuntimeException e) {
            n.lastStatusError = String.valueOf(e);
            // A node polled before it listens leaves the channel in gRPC's reconnect back-off, which grows
            // to tens of seconds: a slow start (a loaded machine, TLS set-up) could then outlast the wait
            // for a leader. On loopback a connection attempt at every poll costs nothing.
            if (n.channel != null) {
                n.channel.resetConnectBackoff();
            }
            return Optional.empty();
        }
    }

    /** A channel to the node's API port: plaintext, or TLS with the token if the cluster is {@link #secured()}. */
    private ManagedChannel channel(Node n) {
        if (securityDir == null) {
            return ManagedChannelBuilder.forTarget(n.api()).usePlaintext().build();
        }
        try {
            Metadata bearer = new Metadata();
            bearer.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + authToken);
            return Grpc.newChannelBuilder(n.api(), TlsChannelCredentials.newBuilder()
                            .trustManager(apiCaFile().toFile()).build())
                    .intercept(MetadataUtils.newAttachHeadersInterceptor(bearer)).build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The live node that says it leads (and knows its own API address), waiting up to {@code timeoutMs}. */
    Optional<Node> awaitLeader(long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        do {
            for (Node n : nodes) {
                Optional<StatusResponse> st = status(n, 1000);
                if (st.isPresent() && st.get().getIsLeader() && !st.get().getLeaderApiAddress().isEmpty()) {
                    return Optional.of(n);
                }
            }
            Machine.sleep(20);
        } while (System.nanoTime() < deadline);
        return Optional.empty();
    }

    /**
     * Waits until every node is alive, healthy, agrees on the leader and has applied at least
     * {@code minApplied}: a settled cluster between fail-over trials.
     */
    boolean awaitSettled(long minApplied, long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        do {
            String leader = null;
            boolean ok = true;
            for (Node n : nodes) {
                Optional<StatusResponse> st = status(n, 1000);
                if (st.isEmpty() || !st.get().getFailure().isEmpty() || st.get().getLeaderRaftAddress().isEmpty()
                        || st.get().getAppliedIndex() < minApplied
                        || (leader != null && !leader.equals(st.get().getLeaderRaftAddress()))) {
                    ok = false;
                    break;
                }
                leader = st.get().getLeaderRaftAddress();
            }
            if (ok) {
                return true;
            }
            Machine.sleep(50);
        } while (System.nanoTime() < deadline);
        return false;
    }

    /** The last lines of every node's log, for error reports. */
    String logs(int lines) {
        StringBuilder b = new StringBuilder();
        for (Node n : nodes) {
            try {
                List<String> all = Files.exists(n.log()) ? Files.readAllLines(n.log()) : List.of();
                b.append("---- ").append(n.id).append(" (").append(n.log()).append(")\n");
                all.subList(Math.max(0, all.size() - lines), all.size()).forEach(l -> b.append(l).append('\n'));
            } catch (IOException e) {
                b.append(e).append('\n');
            }
        }
        return b.toString();
    }

    /** SIGTERM to every live node (so that e.g. a JFR recording is dumped), then SIGKILL after 15 s. */
    private void stopAll() {
        for (Node n : nodes) {
            if (n.process != null && n.process.isAlive()) {
                try {
                    signal(n, "CONT"); // a node a fail-over trial paused would ignore SIGTERM
                } catch (IOException e) {
                    // SIGKILL below still ends it
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // SIGKILL below still ends it
                }
                n.process.destroy();
            }
        }
        for (Node n : nodes) {
            if (n.process != null) {
                try {
                    n.process.waitFor(15, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        killAll();
    }

    private void killAll() {
        for (Node n : nodes) {
            if (n.process != null && n.process.isAlive()) {
                n.process.destroyForcibly();
                try {
                    n.process.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** Kills every process, and deletes the temp dir unless {@code keep}. */
    void close(boolean keep) {
        stopAll();
        for (Node n : nodes) {
            if (n.channel != null) {
                n.channel.shutdownNow();
            }
        }
        if (!keep) {
            Machine.deleteTree(root);
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
    }

    @Override
    public void close() {
        close(false);
    }
}
