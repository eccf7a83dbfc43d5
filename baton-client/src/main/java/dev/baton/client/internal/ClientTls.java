package dev.baton.client.internal;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.function.Function;

/**
 * The TLS files of a {@link BatonClient.Builder}: the CA that signed the nodes' certificates and,
 * for mutual TLS, the client's own certificate and key. They are read (and checked as far as their
 * format goes) when given, so that a wrong path fails there with a clear message rather than in
 * the transport's first connection.
 */
public final class ClientTls {
    /** PEM: the CA(s) trusted; null until {@code tls(caFile)}. */
    public final byte[] ca;
    /** PEM: the client's certificate chain and PKCS#8 key; null without a client certificate. */
    public final byte[] cert;
    public final byte[] key;

    public ClientTls(byte[] ca, byte[] cert, byte[] key) {
        this.ca = ca;
        this.cert = cert;
        this.key = key;
    }

    public static byte[] readCertificates(Path file, String what) {
        byte[] pem = read(file, what);
        try {
            if (CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem)).isEmpty()) {
                throw new IllegalArgumentException(what + " " + file + " holds no PEM certificate");
            }
        } catch (CertificateException e) {
            throw new IllegalArgumentException(what + " " + file + " is not a PEM certificate file (" + e.getMessage() + ")", e);
        }
        return pem;
    }

    public static byte[] readKey(Path file) {
        byte[] pem = read(file, "the client key file");
        String text = new String(pem, StandardCharsets.US_ASCII);
        if (!text.contains("-----BEGIN PRIVATE KEY-----")) {
            String why = text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") ? "is encrypted"
                    : text.contains("-----BEGIN RSA PRIVATE KEY-----") || text.contains("-----BEGIN EC PRIVATE KEY-----")
                    ? "is a PKCS#1/SEC1 key" : "holds no PEM private key";
            throw new IllegalArgumentException("the client key file " + file + " " + why + "; the client reads"
                    + " unencrypted PKCS#8 PEM keys (-----BEGIN PRIVATE KEY-----; convert with: openssl pkcs8 -topk8"
                    + " -nocrypt -in KEY -out KEY.pk8)");
        }
        return pem;
    }

    private static byte[] read(Path file, String what) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("cannot read " + what + " " + file + " (no such file)", e);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException("cannot read " + what + " " + file + " (permission denied)", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + what + " " + file + " (" + e + ")", e);
        }
    }

    /** TLS channels, with the same settings as the plaintext ones (see {@code Builder.plaintextChannel}). */
    public Function<String, ManagedChannel> channelFactory() {
        ChannelCredentials credentials = credentials();
        return address -> {
            try {
                return Grpc.newChannelBuilder(address, credentials)
                        .directExecutor()
                        .maxInboundMessageSize(256 << 20)
                        .build();
            } catch (RuntimeException e) {
                // gRPC reports a key it cannot use as "no functional channel service provider".
                throw new IllegalArgumentException("cannot set up TLS with the given CA, certificate and key: "
                        + e.getMessage(), e);
            }
        };
    }

    private ChannelCredentials credentials() {
        TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
        try {
            b.trustManager(new ByteArrayInputStream(ca));
            if (cert != null) {
                b.keyManager(new ByteArrayInputStream(cert), new ByteArrayInputStream(key));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // cannot happen: read from memory
        }
        return b.build();
    }
}
