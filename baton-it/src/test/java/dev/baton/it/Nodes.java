package dev.baton.it;

import dev.baton.client.BatonClient;
import dev.baton.server.TestPorts;
import dev.baton.server.http.HttpDoor;
import dev.baton.server.node.ApiServer;
import dev.baton.server.grpc.ClusterSecret;
import dev.baton.server.raft.BatonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

/**
 * Real Baton nodes inside the test JVM: SOFAJRaft with its on-disk log (fsync on), gRPC on loopback
 * ports, each node in its own temp directory. One node, or three forming a cluster. For the client
 * facades' tests; fault tests with separate processes live in {@code baton-server}.
 */
public final class Nodes implements AutoCloseable {
    /** The cluster secret of the three-node clusters (a single node makes up its own). */
    public static final ClusterSecret SECRET = ClusterSecret.of("baton-it-cluster-secret-0123456789");

    private final Path root;
    private final List<ApiServer> servers = new ArrayList<>();

    private Nodes(Path root) {
        this.root = root;
    }

    /** One node, leader once this returns. */
    public static Nodes single() {
        return start(1);
    }

    /** Three nodes forming one cluster, a leader elected once this returns. */
    public static Nodes three() {
        return start(3, false);
    }

    /** Three nodes as {@link #three()}, each also serving its HTTP port (any free port: {@code httpDoor().port()}). */
    public static Nodes threeWithHttp() {
        return start(3, true);
    }

    private static Nodes start(int n) {
        return start(n, false);
    }

    private static Nodes start(int n, boolean http) {
        // A free port can be handed out twice, or taken between the check and SOFAJRaft's bind (it
        // then fails with "NodeManager add ... failed"): start again on other ports.
        for (int attempt = 1; ; attempt++) {
            try {
                return startOnce(n, http);
            } catch (IllegalStateException e) {
                if (attempt == 3 || !String.valueOf(e.getMessage()).contains("cannot start Raft node")) {
                    throw e;
                }
            }
        }
    }

    private static Nodes startOnce(int n, boolean http) {
        Nodes nodes = null;
        try {
            nodes = new Nodes(Files.createTempDirectory("baton-it-"));
            List<Integer> raftPorts = new ArrayList<>();
            while (raftPorts.size() < n) {
                int p = freePort();
                if (!raftPorts.contains(p)) {
                    raftPorts.add(p);
                }
            }
            List<String> peers = raftPorts.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.toList());
            for (int i = 0; i < n; i++) {
                BatonNode.Options o = BatonNode.Options.defaults(nodes.root.resolve("n" + (i + 1)))
                        .withPort(raftPorts.get(i));
                if (n > 1) {
                    o = o.withPeers(peers);
                }
                o = new BatonNode.Options("n" + (i + 1), o.groupId(), o.dataDir(), o.host(), o.port(), o.peers(),
                        o.electionTimeoutMs(), o.snapshotIntervalSecs(), o.sync());
                ApiServer.Config c = new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity(),
                        false, null, http ? HttpDoor.Config.defaults("127.0.0.1", 0) : null, n > 1 ? SECRET : null);
                nodes.servers.add(new ApiServer(c).start());
            }
            nodes.awaitLeader(Duration.ofSeconds(60));
            return nodes;
        } catch (IllegalStateException e) {
            if (nodes != null) {
                for (ApiServer s : nodes.servers) {
                    s.close();
                }
            }
            throw e;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Waits until some node leads and accepts writes; returns it. */
    public ApiServer awaitLeader(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<ApiServer> l = servers.stream().filter(s -> s.node().isLeader()).findFirst();
            if (l.isPresent()) {
                return l.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no leader within " + timeout);
    }

    public List<ApiServer> servers() {
        return servers;
    }

    /** Every node's gRPC endpoint, {@code host:port}. */
    public List<String> endpoints() {
        return servers.stream().map(ApiServer::apiEndpoint).collect(Collectors.toList());
    }

    /** A client of every node, retrying through fail-overs for up to 30 s. */
    public BatonClient client() {
        return BatonClient.builder().endpoints(endpoints().toArray(String[]::new))
                .retryFor(Duration.ofSeconds(30)).build();
    }

    /** A client builder for every node, to add callbacks or a TTL. */
    public BatonClient.Builder clientBuilder() {
        return BatonClient.builder().endpoints(endpoints().toArray(String[]::new)).retryFor(Duration.ofSeconds(30));
    }

    /** Stops one node (as a crash would, minus the kill: its sockets close, its log stays). */
    public void stop(ApiServer s) {
        s.close();
    }

    /** From this module's block of ports (its pom), so no outgoing connection or other test JVM takes it. */
    static int freePort() {
        return TestPorts.free();
    }

    @Override
    public void close() {
        for (ApiServer s : servers) {
            s.close();
        }
    }
}
