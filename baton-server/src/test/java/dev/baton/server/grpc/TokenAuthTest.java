package dev.baton.server.grpc;

import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.api.v1.StatusRequest;
import dev.baton.client.AccessDeniedException;
import dev.baton.client.BatonClient;
import dev.baton.client.BearerToken;
import dev.baton.server.TestWaits;
import dev.baton.server.raft.BatonNode;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.FunctionCounter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Bearer tokens on the gRPC API port of one real node: no token, an unknown one, each role against a
 * client call and the read-only and changing Admin calls, the refusal counters, the Java client, the
 * role table against the services the port really serves, and the reload of the token file.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenAuthTest {
    private static final String CLIENT_TOKEN = AuthTokens.newToken();
    private static final String READ_TOKEN = AuthTokens.newToken();
    private static final String ADMIN_TOKEN = AuthTokens.newToken();

    private Path tokenFile;
    private ApiServer server;
    private ManagedChannel channel;

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-tokens");
        tokenFile = dir.resolve("tokens");
        Files.writeString(tokenFile, fileText());
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withAuth(AuthTokens.load(tokenFile, 50))).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        channel = ManagedChannelBuilder.forTarget(server.apiEndpoint()).usePlaintext().build();
    }

    private static String fileText() {
        return "# test tokens\n\n"
                + AuthTokens.fileLine(CLIENT_TOKEN, "app", "client") + "\n"
                + AuthTokens.fileLine(READ_TOKEN, "monitor", "read") + "\n"
                + "  " + AuthTokens.fileLine(ADMIN_TOKEN, "ops", "admin") + "  \n";
    }

    @AfterAll
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }

    /** The channel, sending {@code token} (null: none). */
    private Channel as(String token) {
        return token == null ? channel : ClientInterceptors.intercept(channel, BearerToken.interceptor(token));
    }

    private long openSession(String token) {
        return retrying(() -> SessionsGrpc.newBlockingStub(as(token)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .open(OpenSessionRequest.newBuilder().setTtlMs(10_000).build()).getSession());
    }

    private Status.Code status(String token) {
        return codeOf(() -> AdminGrpc.newBlockingStub(as(token)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance()));
    }

    private Status.Code snapshot(String token) {
        return codeOf(() -> AdminGrpc.newBlockingStub(as(token)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .snapshot(SnapshotRequest.getDefaultInstance()));
    }

    private Status.Code backup(String token) {
        return codeOf(() -> {
            java.util.Iterator<dev.baton.api.v1.BackupChunk> chunks = AdminGrpc.newBlockingStub(as(token))
                    .withDeadlineAfter(30, TimeUnit.SECONDS).backup(dev.baton.api.v1.BackupRequest.getDefaultInstance());
            long bytes = 0;
            while (chunks.hasNext()) {
                bytes += chunks.next().getData().size();
            }
            return bytes;
        });
    }

    private static Status.Code codeOf(Supplier<?> call) {
        try {
            retrying(call);
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    /** Retries UNAVAILABLE (a new leader may refuse for a moment). */
    private static <T> T retrying(Supplier<T> call) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    throw new IllegalStateException(ie);
                }
            }
        }
    }

    private double refused(String reason) {
        FunctionCounter c = server.metrics().registry().find(ApiServer.AUTH_REFUSED_METRIC).tag("port", "api").tag("reason", reason)
                .functionCounter();
        assertThat(c).as("counter %s", reason).isNotNull();
        return c.count();
    }

    @Test
    void withoutATokenClientAndAdminCallsAreUnauthenticated() {
        double before = refused("unauthenticated");
        StatusRuntimeException e = (StatusRuntimeException) org.assertj.core.api.Assertions.catchThrowable(
                () -> openSession(null));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(e.getStatus().getDescription()).contains("a token is required");
        assertThat(status(null)).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(status(AuthTokens.newToken())).as("an unknown token").isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(refused("unauthenticated")).isEqualTo(before + 3);
    }

    @Test
    void aClientTokenAcquiresASlotButIsRefusedTheAdminService() {
        long s = openSession(CLIENT_TOKEN);
        assertThat(retrying(() -> PoolsGrpc.newBlockingStub(as(CLIENT_TOKEN)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .acquire(PoolAcquireRequest.newBuilder().setSession(s).setRequestId(1).setKey("k").setWorkers(1)
                        .setMaxQueue(1).build())).getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        double before = refused("permission_denied");
        StatusRuntimeException e = (StatusRuntimeException) org.assertj.core.api.Assertions.catchThrowable(
                () -> AdminGrpc.newBlockingStub(as(CLIENT_TOKEN)).status(StatusRequest.getDefaultInstance()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getStatus().getDescription()).contains("'app'").contains("'read'").contains("baton.v1.Admin/Status");
        assertThat(refused("permission_denied")).isEqualTo(before + 1);
    }

    @Test
    void aReadTokenSeesStatusAndDumpButCannotChangeNorActAsAClient() {
        assertThat(status(READ_TOKEN)).isEqualTo(Status.Code.OK);
        assertThat(codeOf(() -> AdminGrpc.newBlockingStub(as(READ_TOKEN)).dump(DumpRequest.getDefaultInstance())))
                .isEqualTo(Status.Code.OK);
        assertThat(snapshot(READ_TOKEN)).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(backup(READ_TOKEN)).as("a backup holds every tenant's state").isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(codeOf(() -> SessionsGrpc.newBlockingStub(as(READ_TOKEN))
                .open(OpenSessionRequest.newBuilder().setTtlMs(10_000).build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
    }

    @Test
    void anAdminTokenTakesASnapshotAndReadsButIsNoClient() {
        assertThat(snapshot(ADMIN_TOKEN)).isEqualTo(Status.Code.OK);
        assertThat(backup(ADMIN_TOKEN)).isEqualTo(Status.Code.OK);
        assertThat(status(ADMIN_TOKEN)).as("admin implies read").isEqualTo(Status.Code.OK);
        assertThat(codeOf(() -> SessionsGrpc.newBlockingStub(as(ADMIN_TOKEN))
                .open(OpenSessionRequest.newBuilder().setTtlMs(10_000).build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
    }

    @Test
    void theJavaClientSendsItsTokenAndFailsFastWithoutOne() {
        try (BatonClient c = BatonClient.builder().endpoints(server.apiEndpoint()).authToken(CLIENT_TOKEN).build()) {
            assertThat(c.pools().acquire("java-client", 1, 1, Duration.ZERO, false).status())
                    .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
        }
        // Not retried as if the node were unreachable: that would end in BatonUnavailableException.
        assertThatThrownBy(() -> BatonClient.builder().endpoints(server.apiEndpoint()).retryFor(Duration.ofSeconds(60))
                .build()).isInstanceOf(AccessDeniedException.class).hasMessageContaining("UNAUTHENTICATED");
        assertThatThrownBy(() -> BatonClient.builder().endpoints(server.apiEndpoint()).authToken(READ_TOKEN)
                .retryFor(Duration.ofSeconds(60)).build())
                .isInstanceOfSatisfying(AccessDeniedException.class,
                        e -> assertThat(e.statusCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    }

    @Test
    void everyMethodOfEveryServiceOnThePortButForwardHasARole() {
        Set<String> served = new HashSet<>();
        for (ServerServiceDefinition service : server.services()) {
            if (service.getServiceDescriptor().getName().startsWith("baton.internal.v1.")) {
                continue; // Forward and ForwardLink: members only, by the cluster secret
            }
            for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
                served.add(m.getMethodDescriptor().getFullMethodName());
            }
        }
        assertThat(served).as("methods served without a role in TokenAuth.REQUIRED_ROLES")
                .isSubsetOf(TokenAuth.REQUIRED_ROLES.keySet());
        assertThat(TokenAuth.REQUIRED_ROLES.keySet()).as("roles of methods not served").isSubsetOf(served);
        assertThat(served).contains("baton.v1.Admin/TransferLeader", "baton.v1.Sessions/KeepAlive");
    }

    @Test
    void aRewrittenFileIsTakenAndAMalformedOneKeepsTheTokensInUse() throws Exception {
        // A new token and its file line, as `baton token new` makes them.
        String newToken = AuthTokens.newToken();
        assertThat(status(newToken)).isEqualTo(Status.Code.UNAUTHENTICATED);
        Files.writeString(tokenFile, fileText() + AuthTokens.fileLine(newToken, "reloaded", "read") + "\n");
        TestWaits.await("the new token accepted", () -> status(newToken) == Status.Code.OK);

        Files.writeString(tokenFile, fileText() + "not a token line\n");
        server.tokenAuth().tokens().reloadNow(); // whether or not the timer got there first
        assertThat(status(newToken)).as("the malformed file was not taken").isEqualTo(Status.Code.OK);
        assertThat(status(READ_TOKEN)).isEqualTo(Status.Code.OK);

        Files.writeString(tokenFile, fileText()); // the new token withdrawn again
        TestWaits.await("the new token refused", () -> status(newToken) == Status.Code.UNAUTHENTICATED);
    }

    @Test
    void aTokenSupplierIsAskedAtEveryCallSoARotatedTokenIsUsedAtOnce() {
        java.util.concurrent.atomic.AtomicReference<String> current = new java.util.concurrent.atomic.AtomicReference<>(CLIENT_TOKEN);
        try (dev.baton.client.BatonClient c = dev.baton.client.BatonClient.builder().endpoints(server.apiEndpoint())
                .authToken(current::get).build()) {
            assertThat(c.pools().acquire("supplied", 1, 5, Duration.ZERO, false).status())
                    .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            current.set(AuthTokens.newToken()); // not in the file
            assertThatThrownBy(() -> c.pools().get("supplied")).isInstanceOfSatisfying(dev.baton.client.AccessDeniedException.class,
                    e -> assertThat(e.statusCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
            current.set(CLIENT_TOKEN);
            assertThat(c.pools().release("supplied").status()).isEqualTo(dev.baton.client.PoolStatus.RELEASED);
        }
    }
}
