package dev.baton.server.cluster;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolHolder;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionLease;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.client.AccessDeniedException;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.client.BearerToken;
import dev.baton.server.TlsFiles;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.line.LineClient;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Security, on real {@code baton server} processes: one 3-node cluster for the class with
 * TLS on the API port, mutual TLS on the Raft port (its own CA), a token file and a PoolCounter
 * port allow-list of 127.0.0.1 only ({@link SecuredCluster}). Every refusal is checked twice: the
 * call fails with the expected code, and the cluster's state is as before (no new session, the
 * guarded pool's slot still held by its owner, the members unchanged), read with an admin token.
 *
 * <p>Waits are generous (a loaded 2-core box may take a minute to elect a leader); how long
 * something takes never decides a test, only whether it happens.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SecurityProcessTest {
    /** Up to this long for the cluster to start, and for a reload to be seen. */
    private static final long GENEROUS_MS = 120_000;
    private static final String GUARDED = "guarded";

    @TempDir
    static Path tmp;

    private SecuredCluster security;
    private ProcessCluster cluster;
    /** The admin token's client (roles client and admin): holds the guarded pool's slot, reads the state. */
    private BatonClient ops;

    @BeforeAll
    void startTheSecuredCluster() throws Exception {
        security = SecuredCluster.create(tmp.resolve("security"));
        // Reloads every half second, so that a rotation is seen soon (the waits below do not depend on it).
        cluster = new ProcessCluster(tmp.resolve("cluster"), 3, "--no-http", "--line-allow", "127.0.0.1/32",
                "--tls-reload-interval-ms", "500", "--auth-reload-interval-ms", "500").secured(security);
        cluster.startAll();
        cluster.awaitLeader(GENEROUS_MS).orElseThrow(() -> new AssertionError("no leader\n" + cluster.logs()));
        ops = security.client(cluster.apiEndpoints(), security.adminToken()).sessionTtl(Duration.ofSeconds(60))
                .retryFor(Duration.ofSeconds(60)).build();
        assertThat(ops.pools().acquire(GUARDED, 1, 5, Duration.ZERO, false).status()).isEqualTo(dev.baton.client.PoolStatus.LOCKED);
    }

    @AfterAll
    void stopTheCluster() {
        if (ops != null) {
            ops.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    // ---- the state a refused call must leave alone ------------------------------------------------

    /** The sessions, the guarded pool's holders and the members, as the admin token reads them. */
    private record State(Set<Long> sessions, List<dev.baton.client.PoolHolder> guardedHolders, List<String> members) {}

    private State state() {
        return new State(
                ops.sessions().list().stream().map(dev.baton.client.SessionLease::session).collect(Collectors.toSet()),
                ops.pools().get(GUARDED).holders(),
                ops.cluster().status().members().stream().map(m -> m.raftAddress()).sorted().toList());
    }

    /**
     * Nothing a refused call could have done happened: no session was opened (sessions of earlier
     * tests may have ended meanwhile, so "no new one" rather than "the same"), the guarded slot is
     * still the admin client's, and the members are the same.
     */
    private void assertUnchangedSince(State before) {
        State after = state();
        assertThat(after.sessions()).as("sessions").isSubsetOf(before.sessions()).contains(ops.sessionId());
        assertThat(after.guardedHolders()).as("holders of %s", GUARDED).isEqualTo(before.guardedHolders())
                .singleElement().satisfies(h -> assertThat(h.session()).isEqualTo(ops.sessionId()));
        assertThat(after.members()).as("members").isEqualTo(before.members()).hasSize(3);
    }

    // ---- helpers --------------------------------------------------------------------------------

    private ProcessCluster.NodeProc n1() {
        return cluster.node(0);
    }

    /** The three members (not a node another test added). */
    private List<ProcessCluster.NodeProc> members() {
        return cluster.nodes().subList(0, 3);
    }

    private static ManagedChannel channel(ProcessCluster.NodeProc n, ChannelCredentials credentials) {
        return Grpc.newChannelBuilder(n.api(), credentials).build();
    }

    private static Channel withToken(Channel ch, String token) {
        return token == null ? ch : ClientInterceptors.intercept(ch, BearerToken.interceptor(token));
    }

    private static ChannelCredentials trusting(TlsFiles.Ca ca) throws IOException {
        return TlsChannelCredentials.newBuilder().trustManager(ca.cert().toFile()).build();
    }

    /** The gRPC code a call failed with (fails the test if it did not fail). */
    private static Status.Code refusal(Supplier<?> call) {
        try {
            Object reply = call.get();
            throw new AssertionError("not refused: answered " + reply);
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    /**
     * What an attacker on this channel would try: open a session, and release the admin client's
     * slot of the guarded pool (its session id is no secret: sessions are listed).
     */
    private List<Status.Code> attackRefusals(Channel ch) {
        return List.of(
                refusal(() -> SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS)
                        .open(OpenSessionRequest.newBuilder().setTtlMs(60_000).build())),
                refusal(() -> PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS)
                        .release(PoolReleaseRequest.newBuilder().setSession(ops.sessionId()).setRequestId(1_000_001)
                                .setKey(GUARDED).build())));
    }

    private static StatusResponse status(ProcessCluster.NodeProc n, ChannelCredentials credentials, String token) {
        ManagedChannel ch = channel(n, credentials);
        try {
            return AdminGrpc.newBlockingStub(withToken(ch, token)).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .status(StatusRequest.getDefaultInstance());
        } finally {
            ch.shutdownNow();
        }
    }

    /** Polls {@code condition} (a fresh connection each time) until it holds, up to {@link #GENEROUS_MS}. */
    private void await(String what, Supplier<Boolean> condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GENEROUS_MS);
        while (!condition.get()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " not seen within " + GENEROUS_MS + " ms\n" + cluster.logs());
            }
            Thread.sleep(200);
        }
    }

    private static boolean answers(Supplier<?> call) {
        try {
            call.get();
            return true;
        } catch (StatusRuntimeException e) {
            return false;
        }
    }

    // ---- TLS on the API port --------------------------------------------------------------------

    @Test
    void aPlaintextClientIsRefusedAndChangesNothing() throws Exception {
        State before = state();
        ManagedChannel plain = channel(n1(), InsecureChannelCredentials.create());
        try {
            // with a valid token: the port speaks TLS only, whatever the call carries
            assertThat(attackRefusals(withToken(plain, security.clientToken())))
                    .containsOnly(Status.Code.UNAVAILABLE);
        } finally {
            plain.shutdownNow();
        }
        assertThatThrownBy(() -> BatonClient.builder().endpoints(n1().api()).authToken(security.clientToken())
                .retryFor(Duration.ofSeconds(2)).build())
                .as("the Java client without tls(...)").isInstanceOf(BatonException.class);
        assertUnchangedSince(before);
    }

    @Test
    void aClientTrustingAnotherCaIsRefusedAndChangesNothing() throws Exception {
        TlsFiles.Ca otherCa = security.files().ca("other-api-ca");
        State before = state();
        ManagedChannel ch = channel(n1(), trusting(otherCa));
        try {
            assertThat(attackRefusals(withToken(ch, security.clientToken()))).containsOnly(Status.Code.UNAVAILABLE);
        } finally {
            ch.shutdownNow();
        }
        assertThatThrownBy(() -> BatonClient.builder().endpoints(cluster.apiEndpoints()).tls(otherCa.cert())
                .authToken(security.clientToken()).retryFor(Duration.ofSeconds(2)).build())
                .as("the Java client trusting another CA").isInstanceOf(BatonException.class);
        assertUnchangedSince(before);
    }

    // ---- tokens ---------------------------------------------------------------------------------

    @Test
    void callsWithoutATokenOrWithAnUnknownOneAreUnauthenticatedAndChangeNothing() throws Exception {
        State before = state();
        for (ProcessCluster.NodeProc n : members()) { // the leader and the followers alike
            ManagedChannel ch = channel(n, security.channelCredentials());
            try {
                assertThat(attackRefusals(ch)).as("no token, %s", n.id).containsOnly(Status.Code.UNAUTHENTICATED);
                assertThat(attackRefusals(withToken(ch, AuthTokens.newToken()))).as("unknown token, %s", n.id)
                        .containsOnly(Status.Code.UNAUTHENTICATED);
            } finally {
                ch.shutdownNow();
            }
        }
        assertThatThrownBy(() -> security.client(cluster.apiEndpoints(), AuthTokens.newToken()).build())
                .as("the Java client with an unknown token").isInstanceOfSatisfying(AccessDeniedException.class,
                        e -> assertThat(e.statusCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
        assertUnchangedSince(before);
    }

    @Test
    void aClientTokenMayNotCallAdminMethodsFromTheJavaClient() throws Exception {
        ProcessCluster.NodeProc someMember = cluster.node(2);
        try (BatonClient app = security.client(cluster.apiEndpoints(), security.clientToken()).build()) {
            State before = state();
            assertThatThrownBy(() -> app.cluster().snapshot()).isInstanceOfSatisfying(AccessDeniedException.class,
                    e -> assertThat(e.statusCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
            assertThatThrownBy(() -> app.cluster().removeMember(someMember.raft()))
                    .isInstanceOfSatisfying(AccessDeniedException.class,
                            e -> assertThat(e.statusCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
            assertThatThrownBy(() -> app.cluster().transferLeader(someMember.raft()))
                    .isInstanceOfSatisfying(AccessDeniedException.class,
                            e -> assertThat(e.statusCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
            assertUnchangedSince(before);
        }
    }

    @Test
    void aTokenAddedToTheFileIsAcceptedAndARemovedOneRefusedWithoutARestart() throws Exception {
        List<Long> pids = members().stream().map(n -> n.process.pid()).toList();
        String rotated = AuthTokens.newToken();
        ChannelCredentials tls = security.channelCredentials();
        for (ProcessCluster.NodeProc n : members()) {
            assertThat(refusal(() -> status(n, tls, rotated))).as("before, %s", n.id)
                    .isEqualTo(Status.Code.UNAUTHENTICATED);
        }
        try {
            security.useExtraTokenLines(List.of(AuthTokens.fileLine(rotated, "rotated", "read")));
            for (ProcessCluster.NodeProc n : members()) { // each node reloads on its own
                await("the added token accepted by " + n.id, () -> answers(() -> status(n, tls, rotated)));
            }
        } finally {
            security.useExtraTokenLines(List.of());
        }
        for (ProcessCluster.NodeProc n : members()) {
            await("the removed token refused by " + n.id, () -> {
                try {
                    status(n, tls, rotated);
                    return false;
                } catch (StatusRuntimeException e) {
                    assertThat(e.getStatus().getCode()).as("%s", e).isEqualTo(Status.Code.UNAUTHENTICATED);
                    return true;
                }
            });
            assertThat(status(n, tls, security.adminToken())).as("the tokens that stayed, %s", n.id).isNotNull();
        }
        assertThat(members().stream().map(n -> n.process.pid()).toList()).as("no node restarted").isEqualTo(pids);
        assertThat(members()).allMatch(ProcessCluster.NodeProc::alive);
    }

    // ---- API certificate rotation -----------------------------------------------------------------

    @Test
    void aRotatedApiCertificateIsServedWithoutARestart() throws Exception {
        ProcessCluster.NodeProc n = n1();
        long pid = n.process.pid();
        TlsFiles.Ca newCa = security.files().ca("api-ca-2");
        TlsFiles.Leaf rotated = security.files().node(newCa, "baton-node-rotated");
        ChannelCredentials newOnly = trusting(newCa);
        ChannelCredentials oldOnly = trusting(security.apiCa());
        assertThat(refusal(() -> status(n, newOnly, security.adminToken()))).as("before the rotation")
                .isEqualTo(Status.Code.UNAVAILABLE);
        try {
            // as docs/security.md says: the members' CA file holds both CAs while certificates move
            security.useApiCas(security.apiCa(), newCa);
            security.useApiCertificate(n.id, rotated);
            await(n.id + " serving the new certificate to a client trusting only the new CA",
                    () -> answers(() -> status(n, newOnly, security.adminToken())));
            assertThat(refusal(() -> status(n, oldOnly, security.adminToken()))).as("the old CA's client")
                    .isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(n.process.pid()).as("not restarted").isEqualTo(pid);
            assertThat(n.alive()).isTrue();
        } finally {
            // back to the class's certificate, for the other tests' clients
            security.useApiCertificate(n.id, security.apiLeaf());
            await(n.id + " serving its first certificate again",
                    () -> answers(() -> status(n, oldOnly, security.adminToken())));
            security.useApiCas(security.apiCa());
        }
    }

    // ---- mutual TLS on the Raft port ----------------------------------------------------------------

    /**
     * Opens a TLS connection to {@code port} presenting {@code leaf} and waits up to {@code waitMs}
     * for the server's verdict: true if the connection stays open (nothing to read: the server took
     * the certificate and waits for Raft frames), false if the server refused it (a TLS alert, or
     * closing). With TLS 1.3 a refused client certificate shows on the first read, not in the
     * handshake. A slow server can only make a connection look accepted, so the waits for a refusal
     * are long.
     */
    private static boolean raftPortAccepts(int port, TlsFiles.Leaf leaf, int waitMs) throws Exception {
        io.grpc.util.AdvancedTlsX509KeyManager keys = new io.grpc.util.AdvancedTlsX509KeyManager();
        keys.updateIdentityCredentials(leaf.cert().toFile(), leaf.key().toFile());
        // the server's identity is not what is tested here
        X509TrustManager trustAll = io.grpc.util.AdvancedTlsX509TrustManager.newBuilder()
                .setVerification(io.grpc.util.AdvancedTlsX509TrustManager.Verification.INSECURELY_SKIP_ALL_VERIFICATION)
                .build();
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(new javax.net.ssl.KeyManager[] {keys}, new javax.net.ssl.TrustManager[] {trustAll}, null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(waitMs);
            try {
                s.startHandshake();
                return s.getInputStream().read() != -1;
            } catch (SocketTimeoutException e) {
                return true;
            } catch (SSLException | SocketException e) {
                return false;
            }
        }
    }

    @Test
    void aProcessWithAnotherCasRaftCertificateGetsNoRaftTrafficThroughAndChangesNothing() throws Exception {
        TlsFiles.Ca foreignCa = security.files().ca("foreign-members-ca");
        TlsFiles.Leaf intruderCert = security.files().node(foreignCa, "intruder");
        // All probes at once: an accepted one lasts its whole wait, and one after another they were
        // most of this test's time. Each probe has its own connection and the same wait as alone.
        List<ProcessCluster.NodeProc> nodes = members();
        java.util.concurrent.ExecutorService probes = java.util.concurrent.Executors.newFixedThreadPool(2 * nodes.size());
        try {
            List<java.util.concurrent.Future<Boolean>> member = new ArrayList<>();
            List<java.util.concurrent.Future<Boolean>> foreign = new ArrayList<>();
            for (ProcessCluster.NodeProc n : nodes) {
                member.add(probes.submit(() -> raftPortAccepts(n.raftPort, security.peerLeaf(), 5_000)));
                foreign.add(probes.submit(() -> raftPortAccepts(n.raftPort, intruderCert, 60_000)));
            }
            for (int i = 0; i < nodes.size(); i++) {
                String id = nodes.get(i).id;
                assertThat(member.get(i).get()).as("%s, a member's certificate", id).isTrue();
                assertThat(foreign.get(i).get()).as("%s, another CA's certificate", id).isFalse();
            }
        } finally {
            probes.shutdownNow();
        }

        // A whole node with the other CA's certificate that claims to be a member (--peers lists the
        // three and itself): it would take part in elections and ask for the log if it got through.
        State before = state();
        ProcessCluster.NodeProc intruder = cluster.add();
        security.usePeerCertificate(intruder.id, intruderCert);
        // the Raft engine's connection errors, which Baton's log level hides, are what shows its attempts
        intruder.args.addAll(List.of("--engine-log", "warn"));
        cluster.start(intruder);
        try {
            await("the intruder answering", () -> cluster.status(intruder).isPresent());
            StatusResponse first = cluster.awaitStatus(intruder);
            assertThat(first.getMembersList()).as("it thinks it is one of four").hasSize(4);
            // Its Raft connections to the members fail at the handshake: wait until it has tried
            // (its elections start every election timeout, about 1 s) and its engine said why.
            await("the intruder's TLS failures in its log", () -> {
                try {
                    String log = Files.readString(intruder.log());
                    return log.contains("SSLException") || log.contains("SSLHandshakeException")
                            || log.contains("javax.net.ssl");
                } catch (IOException e) {
                    return false;
                }
            });
            StatusResponse st = cluster.status(intruder, 20_000).orElseThrow();
            assertThat(st.getLeaderRaftAddress()).as("the intruder knows no leader").isEmpty();
            assertThat(st.getAppliedIndex()).as("the intruder got no entries").isZero();
            assertThat(st.getIsLeader()).isFalse();
            assertUnchangedSince(before);
            assertThat(state().members()).doesNotContain(intruder.raft());
            // and the cluster still writes
            assertThat(ops.pools().acquire("after-the-intruder", 1, 5, Duration.ZERO, false).status())
                    .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            assertThat(ops.pools().release("after-the-intruder").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        } finally {
            cluster.kill(intruder);
        }
    }

    // ---- the PoolCounter port's allow-list ----------------------------------------------------------

    @Test
    void aLineConnectionFromOutsideTheAllowListGetsAnErrorAndIsClosedOneFromInsideWorks() throws Exception {
        int port = n1().linePort;
        State before = state();
        try (LineClient outsider = new LineClient("127.0.0.1", port, "127.0.0.2")) {
            assertThat(outsider.read()).isEqualTo("ERROR NOT_ALLOWED");
            assertThat(outsider.closedByServer()).isTrue();
        }
        assertUnchangedSince(before);
        try (LineClient member = new LineClient("127.0.0.1", port)) {
            assertThat(member.call("ACQ4ME line-allowed 1 1 0")).isEqualTo("LOCKED");
            assertThat(member.call("RELEASE")).isEqualTo("RELEASED");
        }
    }

    // ---- key prefixes per token -----------------------------------------------------------------------

    @Test
    void aTokenLimitedToAPrefixIsDeniedAPoolOutsideItAndTheOtherPoolGetsNoHolder() throws Exception {
        String tenantA = AuthTokens.newToken();
        try {
            security.useExtraTokenLines(List.of(AuthTokens.fileLine(tenantA, "tenant-a", "client", "a:")));
            for (ProcessCluster.NodeProc n : members()) { // each node reloads on its own
                await("the tenant's token accepted by " + n.id, () -> {
                    try (BatonClient probe = security.client(List.of(n.api()), tenantA)
                            .retryFor(Duration.ofSeconds(5)).build()) {
                        return probe.sessionAlive();
                    } catch (AccessDeniedException e) {
                        return false;
                    }
                });
            }
            try (BatonClient tenant = security.client(cluster.apiEndpoints(), tenantA).build()) {
                assertThatThrownBy(() -> tenant.pools().acquire("b:x", 1, 5, Duration.ZERO, false))
                        .isInstanceOfSatisfying(AccessDeniedException.class,
                                e -> assertThat(e.statusCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
                assertThat(ops.pools().get("b:x").holders()).as("b:x's holders").isEmpty();
                assertThat(tenant.pools().acquire("a:x", 1, 5, Duration.ZERO, false).status())
                        .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
                assertThat(ops.pools().get("a:x").holders()).singleElement()
                        .satisfies(h -> assertThat(h.session()).isEqualTo(tenant.sessionId()));
            }
        } finally {
            security.useExtraTokenLines(List.of());
        }
    }
}
