package dev.baton.server.raft;

import com.alipay.sofa.jraft.option.CliOptions;
import com.alipay.sofa.jraft.rpc.CliRequests.GetLeaderRequest;
import com.alipay.sofa.jraft.rpc.CliRequests.GetLeaderResponse;
import com.alipay.sofa.jraft.rpc.impl.cli.CliClientServiceImpl;
import com.alipay.sofa.jraft.util.Endpoint;
import com.google.protobuf.Message;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Mutual TLS on the Raft port: three nodes in one JVM over bolt on loopback, each with a
 * certificate of the members' CA, elect a leader and replicate; the Raft port's membership handlers
 * (here {@code GetLeader}, served next to {@code AddPeer}, {@code ResetPeer} and the rest) answer a
 * client with a member's certificate, and nobody else: not a plaintext client, not one whose
 * certificate another CA signed. Certificates are made with the {@code openssl} command (skipped,
 * saying so, where it is missing; {@code ./test} installs it).
 */
class PeerTlsTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path certs;
    @TempDir
    Path dir;

    private final List<BatonNode> nodes = new ArrayList<>();
    private final List<CliClientServiceImpl> clis = new ArrayList<>();
    private final List<PeerTls> closeLater = new ArrayList<>();

    @BeforeAll
    static void makeCertificates() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")),
                "openssl is not installed (Debian package openssl; ./test installs it): peer TLS tests skipped");
        TestCertificates.ca(certs, "members-ca");
        TestCertificates.ca(certs, "other-ca");
        for (String n : List.of("n1", "n2", "n3")) {
            TestCertificates.leaf(certs, "members-ca", n);
        }
        TestCertificates.leaf(certs, "other-ca", "intruder");
    }

    @AfterEach
    void closeAll() {
        clis.forEach(CliClientServiceImpl::shutdown);
        nodes.forEach(BatonNode::close);
        closeLater.forEach(PeerTls::close);
    }

    private static PeerTls.Config tls(String leaf, String ca) {
        return new PeerTls.Config(certs.resolve(leaf + ".pem"), certs.resolve(leaf + ".key"), certs.resolve(ca + ".pem"), 60_000);
    }

    private List<String> startCluster() {
        List<String> peers = new ArrayList<>();
        int[] ports = new int[3];
        for (int i = 0; i < 3; i++) {
            ports[i] = TestCertificates.freePort();
            peers.add("127.0.0.1:" + ports[i]);
        }
        for (int i = 0; i < 3; i++) {
            String id = "n" + (i + 1);
            BatonNode.Options o = new BatonNode.Options(id, "baton", dir.resolve(id), "127.0.0.1", ports[i], peers,
                    1000, 0, true).withPeerTls(tls(id, "members-ca"));
            nodes.add(new BatonNode(o, new CoordinationStateMachine(), EffectListener.NONE, System::currentTimeMillis).start());
        }
        return peers;
    }

    private Applied onLeader(dev.baton.core.command.Command c) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            for (BatonNode n : nodes) {
                if (n.isLeader()) {
                    try {
                        return n.propose(c).get(20, TimeUnit.SECONDS);
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof RaftOperationException) || System.nanoTime() > deadline) {
                            throw e;
                        }
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no leader accepted a write within " + WAIT);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void membersWithCertificatesOfTheirCaElectALeaderAndReplicate() throws Exception {
        startCluster();
        long s = ((Result.SessionOpened) onLeader(new OpenSession("c", 60_000)).results().get(0)).session();
        Applied locked = onLeader(new PoolAcquire(s, 1, "k", 1, 5, 0, false));
        for (BatonNode n : nodes) {
            assertThat(n.waitForLeader(WAIT)).isPresent();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (n.readLocal(new Query.GetSummary()).lastIndex() < locked.index()) {
                assertThat(System.nanoTime()).as(n.options().nodeId() + " applies the entry over TLS").isLessThan(deadline);
                Thread.sleep(20);
            }
            assertThat(n.readLocal(new Query.GetPool("k")).holders()).hasSize(1);
        }
    }

    @Test
    void theRaftPortAnswersOnlyAClientWithAMembersCertificate() throws Exception {
        List<String> peers = startCluster();
        onLeader(new OpenSession("c", 60_000)); // a leader is known
        Endpoint target = new Endpoint("127.0.0.1", Integer.parseInt(peers.get(0).substring(peers.get(0).lastIndexOf(':') + 1)));

        assertThat(getLeader(cli(tls("n1", "members-ca")), target)).as("a member's certificate").isNotEmpty();
        assertThatThrownBy(() -> getLeader(cli(tls("intruder", "members-ca")), target))
                .as("a certificate another CA signed").isInstanceOf(Exception.class);
        assertThatThrownBy(() -> getLeader(cli(null), target)).as("no TLS").isInstanceOf(Exception.class);
    }

    @Test
    void aMissingOrUnusableFileIsAnErrorThatNamesItsOption() throws Exception {
        assertThatThrownBy(() -> PeerTls.Config.of(certs.resolve("n1.pem"), null, certs.resolve("members-ca.pem"), 60_000))
                .hasMessageContaining("--peer-tls-key-file");
        assertThatThrownBy(() -> PeerTls.Config.of(certs.resolve("n1.pem"), certs.resolve("n1.key"), certs.resolve("nope.pem"), 60_000))
                .hasMessageContaining("--peer-tls-ca-file").hasMessageContaining("nope.pem");
        assertThat(PeerTls.Config.of(null, null, null, 60_000)).isNull();
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
        assertThatThrownBy(() -> PeerTls.check(new PeerTls.Config(garbage, certs.resolve("n1.key"), certs.resolve("members-ca.pem"), 60_000)))
                .hasMessageContaining("--peer-tls-cert-file");
        assertThatThrownBy(() -> PeerTls.check(new PeerTls.Config(certs.resolve("n1.pem"), certs.resolve("n1.key"), garbage, 60_000)))
                .hasMessageContaining("--peer-tls-ca-file");
        PeerTls.check(tls("n1", "members-ca"));
    }

    @Test
    void newCertificateFilesAreServedWithoutARestart() throws Exception {
        Path rot = Files.createDirectories(dir.resolve("rotating"));
        for (String f : List.of("n1.pem", "n1.key")) {
            Files.copy(certs.resolve(f), rot.resolve(f));
        }
        PeerTls.Config config = new PeerTls.Config(rot.resolve("n1.pem"), rot.resolve("n1.key"),
                certs.resolve("members-ca.pem"), 100);
        int port = TestCertificates.freePort();
        BatonNode.Options o = new BatonNode.Options("n1", "baton", dir.resolve("single"), "127.0.0.1", port,
                List.of(), 1000, 0, true).withPeerTls(config);
        nodes.add(new BatonNode(o, new CoordinationStateMachine(), EffectListener.NONE, System::currentTimeMillis).start());
        assertThat(TestCertificates.servedSubject(port, certs, "n2")).isEqualTo("CN=n1");

        // A new key and certificate of the same CA (another subject), key first, as the docs say.
        TestCertificates.leaf(certs, "members-ca", "n1-next");
        Files.copy(certs.resolve("n1-next.key"), rot.resolve("n1.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(certs.resolve("n1-next.pem"), rot.resolve("n1.pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        long deadline = System.nanoTime() + WAIT.toNanos();
        String served;
        while (!(served = TestCertificates.servedSubject(port, certs, "n2")).equals("CN=n1-next")) {
            assertThat(System.nanoTime()).as("the new certificate is served; still " + served).isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    /** A SOFAJRaft CLI client (what {@code AddPeer}, {@code ResetPeer} ... go through); {@code tls} null: plaintext. */
    private CliClientServiceImpl cli(PeerTls.Config tls) {
        CliOptions options = new CliOptions();
        options.setTimeoutMs(3_000);
        options.setMaxRetry(0);
        if (tls != null) {
            PeerTls started = PeerTls.start(tls, "cli");
            closeLater.add(started);
            BatonBoltRpcFactory.register(options, started.clientHandlers());
        }
        CliClientServiceImpl cli = new CliClientServiceImpl();
        try {
            assertThat(cli.init(options)).isTrue();
        } finally {
            BatonBoltRpcFactory.unregister(options);
        }
        clis.add(cli);
        return cli;
    }

    private static String getLeader(CliClientServiceImpl cli, Endpoint target) throws Exception {
        GetLeaderRequest req = GetLeaderRequest.newBuilder().setGroupId("baton").build();
        Message m = cli.getLeader(target, req, null).get(20, TimeUnit.SECONDS);
        if (m instanceof GetLeaderResponse r) {
            return r.getLeaderId();
        }
        throw new IOException("no leader in the answer: " + m);
    }
}
