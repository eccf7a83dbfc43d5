package dev.baton.server.grpc;

import dev.baton.server.security.AuthTokens;

import dev.baton.api.v1.PoolsGrpc;
import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The interceptor by itself: the handler runs with the caller in {@link TokenAuth#PRINCIPAL}; a
 * member's cluster secret stands for a token; a method without a role is refused to everybody.
 */
class TokenAuthInterceptorTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("the-shared-cluster-secret-0123456789");

    @Test
    void theHandlerSeesThePrincipalAndAMemberNeedsNoToken(@TempDir Path dir) throws Exception {
        String token = AuthTokens.newToken();
        Path f = dir.resolve("tokens");
        Files.writeString(f, AuthTokens.fileLine(token, "app", "client") + "\n");
        TokenAuth auth = new TokenAuth(AuthTokens.load(f, 10_000), SECRET);

        Metadata withToken = new Metadata();
        withToken.put(TokenAuth.AUTHORIZATION, "Bearer " + token);
        assertThat(principalSeen(auth, PoolsGrpc.getAcquireMethod(), withToken).name()).isEqualTo("app");

        Metadata member = new Metadata();
        member.put(ClusterSecret.HEADER, "the-shared-cluster-secret-0123456789".getBytes(StandardCharsets.UTF_8));
        assertThat(principalSeen(auth, PoolsGrpc.getAcquireMethod(), member)).isSameAs(TokenAuth.MEMBER);
        assertThat(TokenAuth.MEMBER.roles()).containsExactlyInAnyOrder(Role.values());

        Metadata otherSecret = new Metadata();
        otherSecret.put(ClusterSecret.HEADER, "another-cluster-secret-9876543210".getBytes(StandardCharsets.UTF_8));
        RecordingCall<?, ?> refused = call(auth, PoolsGrpc.getAcquireMethod(), otherSecret, new AtomicReference<>());
        assertThat(refused.closed.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void aMethodWithoutARoleIsRefusedEvenToAMember(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("tokens");
        Files.writeString(f, "");
        TokenAuth auth = new TokenAuth(AuthTokens.load(f, 10_000), SECRET);
        MethodDescriptor<String, String> unknown = MethodDescriptor.<String, String>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("baton.v1.Pools/Teleport")
                .setRequestMarshaller(new Text()).setResponseMarshaller(new Text()).build();
        Metadata member = new Metadata();
        member.put(ClusterSecret.HEADER, "the-shared-cluster-secret-0123456789".getBytes(StandardCharsets.UTF_8));
        AtomicReference<Principal> seen = new AtomicReference<>();
        RecordingCall<?, ?> c = call(auth, unknown, member, seen);
        assertThat(seen.get()).as("the handler never ran").isNull();
        assertThat(c.closed.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(c.closed.getDescription()).contains("baton.v1.Pools/Teleport").contains("no role");
        assertThat(auth.permissionDeniedCalls()).isEqualTo(1);
    }

    private static <Q, R> Principal principalSeen(TokenAuth auth, MethodDescriptor<Q, R> method, Metadata headers) {
        AtomicReference<Principal> seen = new AtomicReference<>();
        RecordingCall<Q, R> c = call(auth, method, headers, seen);
        assertThat(c.closed).as("refused").isNull();
        return seen.get();
    }

    private static <Q, R> RecordingCall<Q, R> call(TokenAuth auth, MethodDescriptor<Q, R> method, Metadata headers,
                                                   AtomicReference<Principal> seen) {
        RecordingCall<Q, R> c = new RecordingCall<>(method);
        auth.interceptCall(c, headers, (call, h) -> {
            seen.set(TokenAuth.PRINCIPAL.get());
            return new ServerCall.Listener<>() {};
        });
        return c;
    }

    private static final class RecordingCall<Q, R> extends ServerCall<Q, R> {
        final MethodDescriptor<Q, R> method;
        Status closed;

        RecordingCall(MethodDescriptor<Q, R> method) {
            this.method = method;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void sendHeaders(Metadata headers) {}

        @Override
        public void sendMessage(R message) {}

        @Override
        public void close(Status status, Metadata trailers) {
            closed = status;
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }
    }

    private static final class Text implements MethodDescriptor.Marshaller<String> {
        @Override
        public InputStream stream(String value) {
            return new java.io.ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
