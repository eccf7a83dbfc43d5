package dev.baton.server.cluster;

import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.server.TlsFiles;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three {@code baton server} processes whose API ports speak mutual TLS only
 * ({@code --tls-cert-file}, {@code --tls-key-file}, {@code --tls-client-ca-file}; the members' CA
 * defaults to the client CA): a client of a follower opens a session and gets a pool slot, writes
 * the follower can only have made by forwarding them to the leader over TLS, presenting its own
 * certificate.
 */
class TlsClusterProcessTest {
    @TempDir
    Path tmp;

    @Test
    void aClientOfAFollowerGetsASlotThroughTheTlsForwardingLink() throws Exception {
        TlsFiles files = new TlsFiles(tmp.resolve("certs"));
        TlsFiles.Ca ca = files.ca("baton-cluster-ca");
        TlsFiles.Leaf node = files.node(ca, "baton-node");
        TlsFiles.Leaf app = files.client(ca, "app");
        ChannelCredentials credentials = TlsChannelCredentials.newBuilder().trustManager(ca.cert().toFile())
                .keyManager(app.cert().toFile(), app.key().toFile()).build();
        try (ProcessCluster c = new ProcessCluster(tmp.resolve("cluster"), 3, "--no-line", "--no-http",
                "--election-timeout-ms", "3000",
                "--tls-cert-file", node.cert().toString(), "--tls-key-file", node.key().toString(),
                "--tls-client-ca-file", ca.cert().toString())) {
            c.withChannelCredentials(credentials).startAll();
            c.awaitLeader(120_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            ProcessCluster.NodeProc follower = c.awaitFollower();
            ManagedChannel ch = Grpc.newChannelBuilder(follower.api(), credentials).build();
            try {
                long session = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (session == 0) {
                    try { // until the follower knows where the leader's API is
                        session = SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                                .open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build()).getSession();
                    } catch (StatusRuntimeException e) {
                        assertThat(e.getStatus().getCode()).as("%s\n%s", e, c.logs()).isEqualTo(Status.Code.UNAVAILABLE);
                        assertThat(System.nanoTime()).as("forwarding from %s: %s\n%s", follower.id, e, c.logs())
                                .isLessThan(deadline);
                        Thread.sleep(100);
                    }
                }
                var reply = PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .acquire(PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1).setKey("tls")
                                .setWorkers(1).setMaxQueue(1).build());
                assertThat(reply.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
                assertThat(c.status(follower).orElseThrow().getIsLeader()).as("still a follower").isFalse();
            } finally {
                ch.shutdownNow();
            }
            for (ProcessCluster.NodeProc n : c.nodes()) {
                assertThat(java.nio.file.Files.readString(n.log())).as("%s says it serves TLS", n.id)
                        .contains("(TLS: certificate CN=baton-node");
            }
        }
    }
}
