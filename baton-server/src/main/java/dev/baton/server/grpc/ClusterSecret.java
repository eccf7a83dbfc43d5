package dev.baton.server.grpc;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The secret the members of one cluster share, which makes the node-to-node {@code Forward} service
 * a members-only link on the public API port: a forwarding node sends it with every call
 * ({@link #clientInterceptor()}), the receiving node serves {@code Forward} only to calls that carry it
 * ({@link #interceptor()}). It is a shared password, sent in the clear like everything else on a
 * plaintext API port; with TLS on the port ({@link ApiTls}) it travels encrypted.
 *
 * <p>A single node without a configured secret gets a random one ({@link #random()}), known to
 * nobody: no one can call its {@code Forward} service.
 */
public final class ClusterSecret {
    /** The metadata header that carries the secret (binary: any bytes of the file are sent as they are). */
    public static final Metadata.Key<byte[]> HEADER =
            Metadata.Key.of("baton-cluster-secret-bin", Metadata.BINARY_BYTE_MARSHALLER);
    /** The environment variable read when {@code --cluster-secret-file} is not given. */
    public static final String ENV = "BATON_CLUSTER_SECRET";
    /** A shorter secret is refused: it could be guessed. */
    public static final int MIN_BYTES = 16;

    private final byte[] secret;
    private final byte[] digest;
    private final boolean generated;
    private final AtomicLong refused = new AtomicLong();

    private ClusterSecret(byte[] secret, boolean generated) {
        this.secret = secret.clone();
        this.digest = sha256(secret);
        this.generated = generated;
    }

    /** A configured secret; refused (with the reason) if shorter than {@link #MIN_BYTES} bytes. */
    public static ClusterSecret of(byte[] secret) {
        if (secret == null || secret.length < MIN_BYTES) {
            throw new IllegalArgumentException("the cluster secret must be at least " + MIN_BYTES + " bytes, got "
                    + (secret == null ? 0 : secret.length) + " (create one with: head -c 32 /dev/urandom | base64)");
        }
        return new ClusterSecret(secret, false);
    }

    /** A configured secret given as text (UTF-8), trimmed. */
    public static ClusterSecret of(String secret) {
        return of(secret == null ? null : secret.trim().getBytes(StandardCharsets.UTF_8));
    }

    /** The secret in {@code file} (its contents, surrounding white space trimmed). */
    public static ClusterSecret readFile(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the cluster secret file " + file + ": " + e, e);
        } catch (RuntimeException e) { // not UTF-8
            throw new IllegalArgumentException("the cluster secret file " + file + " is not text: " + e, e);
        }
        try {
            return of(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** A random secret nobody else knows: for a single node, whose Forward service nobody may call. */
    public static ClusterSecret random() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return new ClusterSecret(b, true);
    }

    /** True if this secret was generated here ({@link #random()}) rather than configured. */
    public boolean generated() {
        return generated;
    }

    /** Calls refused because they carried no secret or another one. */
    public long refusedCalls() {
        return refused.get();
    }

    /** True if {@code offered} is this secret; compares in constant time (of two digests). */
    boolean matches(byte[] offered) {
        return offered != null && MessageDigest.isEqual(digest, sha256(offered));
    }

    /** Serves the intercepted service only to calls that carry this secret; UNAUTHENTICATED otherwise. */
    public ServerInterceptor interceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                              ServerCallHandler<Q, R> next) {
                if (matches(headers.get(HEADER))) {
                    return next.startCall(call, headers);
                }
                refused.incrementAndGet();
                call.close(Status.UNAUTHENTICATED.withDescription(
                        "baton.internal.v1.Forward is for the members of this cluster: missing or wrong cluster"
                                + " secret (every node needs the same --cluster-secret-file)"),
                        ApiErrors.trailers("UNAUTHENTICATED", null));
                return new ServerCall.Listener<>() {};
            }
        };
    }

    /** Attaches this secret to every call of a stub ({@code stub.withInterceptors(...)}). */
    public ClientInterceptor clientInterceptor() {
        Metadata m = new Metadata();
        m.put(HEADER, secret);
        return MetadataUtils.newAttachHeadersInterceptor(m);
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    @Override
    public String toString() {
        return generated ? "ClusterSecret(generated)" : "ClusterSecret(configured)"; // never the secret
    }
}
