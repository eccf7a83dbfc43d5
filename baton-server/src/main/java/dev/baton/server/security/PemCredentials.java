package dev.baton.server.security;

import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.CertificateUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A certificate, its private key and (optionally) the CA certificates to trust, read from PEM files
 * into key and trust managers that TLS contexts use on every handshake, and read again whenever the
 * files change, so that they can be rotated without a restart.
 *
 * <p>Why not grpc-util's own file watching: it checks no more often than once a minute whatever it is
 * asked, needs the modification times of both files to have changed, and installs a key that does
 * not belong to the certificate if it catches a rotation half-way. Here the files are compared by
 * content every {@code reloadIntervalMs}, and a new pair is installed only once the key signs what
 * the certificate's public key verifies; until then (the key written, not yet the certificate) the
 * old pair stays, and a pair that stays unusable is reported once as a WARN.
 *
 * <p>Files are PEM: certificate chain ({@code BEGIN CERTIFICATE}), PKCS#8 private key
 * ({@code BEGIN PRIVATE KEY}, RSA or EC), CA certificates.
 */
public final class PemCredentials implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PemCredentials.class);

    /**
     * Where each file is and which option named it (for messages).
     *
     * @param ca       null: no trust manager (a server that asks no client certificate)
     * @param caOption the option of {@code ca}; ignored when {@code ca} is null
     */
    public record Files3(Path cert, String certOption, Path key, String keyOption, Path ca, String caOption) {
        public Files3 {
            Objects.requireNonNull(cert, "cert");
            Objects.requireNonNull(key, "key");
        }
    }

    private final Files3 files;
    private final AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
    private final AdvancedTlsX509TrustManager trust;
    private ScheduledExecutorService reloader;
    // The reloader thread's own state:
    private byte[] loadedPairDigest;
    private byte[] loadedCaDigest;
    private byte[] seenBadPair;
    private byte[] reportedBadPair;
    private byte[] reportedBadCa;
    private volatile X509Certificate current;

    private PemCredentials(Files3 files, AdvancedTlsX509TrustManager trust) {
        this.files = files;
        this.trust = trust;
    }

    /**
     * Reads the files once.
     *
     * @throws IllegalArgumentException naming the option whose file cannot be used
     */
    public static PemCredentials load(Files3 files) {
        AdvancedTlsX509TrustManager trust = null;
        if (files.ca() != null) {
            try {
                trust = AdvancedTlsX509TrustManager.newBuilder()
                        .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION).build();
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }
        PemCredentials c = new PemCredentials(files, trust);
        try {
            c.reloadPair(true);
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new IllegalArgumentException(files.certOption() + " / " + files.keyOption() + ": cannot use "
                    + files.cert() + " and " + files.key() + " as a PEM certificate and its PKCS#8 private key: "
                    + e.getMessage(), e);
        }
        if (files.ca() != null) {
            try {
                c.reloadCa(true);
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                throw new IllegalArgumentException(files.caOption() + ": cannot use " + files.ca()
                        + " as PEM CA certificates: " + e.getMessage(), e);
            }
        }
        return c;
    }

    /** Re-reads the files every {@code intervalMs} on a daemon thread named {@code threadName}. */
    public PemCredentials watch(long intervalMs, String threadName) {
        if (intervalMs <= 0) {
            throw new IllegalArgumentException("reload interval must be positive");
        }
        reloader = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        reloader.scheduleWithFixedDelay(this::reloadQuietly, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        return this;
    }

    /** The key manager: the current certificate and key, on every handshake. */
    public AdvancedTlsX509KeyManager keyManager() {
        return keys;
    }

    /** The trust manager (chain to the CA file only, no host name check), or null without a CA file. */
    public AdvancedTlsX509TrustManager trustManager() {
        return trust;
    }

    /** The certificate served now. */
    public X509Certificate certificate() {
        return current;
    }

    private void reloadQuietly() {
        try {
            reloadPair(false);
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            LOG.debug("TLS reload", e);
        }
        if (files.ca() != null) {
            try {
                reloadCa(false);
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                LOG.debug("TLS CA reload", e);
            }
        }
    }

    private void reloadPair(boolean first) throws IOException, GeneralSecurityException {
        byte[] certBytes = Files.readAllBytes(files.cert());
        byte[] keyBytes = Files.readAllBytes(files.key());
        byte[] digest = digest(certBytes, keyBytes);
        if (Arrays.equals(digest, loadedPairDigest)) {
            return;
        }
        X509Certificate[] chain;
        PrivateKey key;
        try {
            chain = CertificateUtils.getX509Certificates(new ByteArrayInputStream(certBytes));
            if (chain.length == 0) {
                throw new GeneralSecurityException("no certificate in " + files.cert());
            }
            key = CertificateUtils.getPrivateKey(new ByteArrayInputStream(keyBytes));
            requireMatch(chain[0], key);
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            if (first) {
                throw e;
            }
            // A rotation caught half-way (the key written, not yet the certificate) is normal: report
            // a pair only when it is still unusable at the next check.
            if (!Arrays.equals(digest, seenBadPair)) {
                seenBadPair = digest;
            } else if (!Arrays.equals(digest, reportedBadPair)) {
                reportedBadPair = digest;
                LOG.warn("TLS: {} and {} changed but cannot be used yet ({}); still serving {} until they can",
                        files.cert(), files.key(), e.getMessage(), describe(current));
            }
            return;
        }
        keys.updateIdentityCredentials(chain, key);
        loadedPairDigest = digest;
        current = chain[0];
        if (!first) {
            LOG.info("TLS: now serving {} from {} (rotated without a restart)", describe(chain[0]), files.cert());
        }
    }

    private void reloadCa(boolean first) throws IOException, GeneralSecurityException {
        byte[] caBytes = Files.readAllBytes(files.ca());
        byte[] digest = digest(caBytes);
        if (Arrays.equals(digest, loadedCaDigest)) {
            return;
        }
        X509Certificate[] cas;
        try {
            cas = CertificateUtils.getX509Certificates(new ByteArrayInputStream(caBytes));
            if (cas.length == 0) {
                throw new GeneralSecurityException("no certificate in it");
            }
        } catch (GeneralSecurityException | RuntimeException e) {
            if (first) {
                throw e;
            }
            if (!Arrays.equals(digest, reportedBadCa)) {
                reportedBadCa = digest;
                LOG.warn("TLS: {} changed but holds no usable CA certificate ({}); still trusting the previous CAs",
                        files.ca(), e.getMessage());
            }
            return;
        }
        trust.updateTrustCredentials(cas);
        loadedCaDigest = digest;
        if (!first) {
            LOG.info("TLS: now trusting {} CA certificate(s) from {} (rotated without a restart)", cas.length, files.ca());
        }
    }

    /** The key must sign what the certificate's public key verifies. */
    private static void requireMatch(X509Certificate cert, PrivateKey key) throws GeneralSecurityException {
        String algorithm = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> throw new GeneralSecurityException("unsupported key algorithm " + key.getAlgorithm());
        };
        byte[] probe = "baton-tls-key-check".getBytes(StandardCharsets.US_ASCII);
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(key);
        signer.update(probe);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(cert.getPublicKey());
        verifier.update(probe);
        if (!verifier.verify(signature)) {
            throw new GeneralSecurityException("the private key does not belong to the certificate");
        }
    }

    private static byte[] digest(byte[]... parts) throws GeneralSecurityException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (byte[] p : parts) {
            md.update(Integer.toString(p.length).getBytes(StandardCharsets.US_ASCII));
            md.update(p);
        }
        return md.digest();
    }

    /** Subject and expiry, for log lines. */
    public static String describe(X509Certificate c) {
        return c == null ? "(none)" : c.getSubjectX500Principal().getName() + " (valid until " + c.getNotAfter().toInstant() + ")";
    }

    @Override
    public void close() {
        if (reloader != null) {
            reloader.shutdownNow();
        }
    }
}
