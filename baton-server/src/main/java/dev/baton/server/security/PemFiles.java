package dev.baton.server.security;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;

/**
 * Reads the PEM files of the API port's TLS: certificates (a chain, or a bundle of CAs) and an
 * unencrypted PKCS#8 private key. Errors say what is wrong with the file and, for the key formats
 * Baton does not read, the {@code openssl} command that converts them; the caller names the file.
 */
public final class PemFiles {
    private static final String PKCS8_BEGIN = "-----BEGIN PRIVATE KEY-----";
    private static final String PKCS8_END = "-----END PRIVATE KEY-----";
    /** The key algorithms a PKCS#8 key is tried as, in turn (the file does not name it in text). */
    private static final List<String> KEY_ALGORITHMS = List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS");

    private PemFiles() {
    }

    /** Every certificate of a PEM file, in file order; at least one. */
    public static X509Certificate[] certificates(byte[] pem) {
        try {
            CertificateFactory f = CertificateFactory.getInstance("X.509");
            X509Certificate[] certs = f.generateCertificates(new ByteArrayInputStream(pem)).stream()
                    .map(c -> (X509Certificate) c).toArray(X509Certificate[]::new);
            if (certs.length == 0) {
                throw new IllegalArgumentException("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
            }
            return certs;
        } catch (CertificateException e) {
            throw new IllegalArgumentException("is not a PEM certificate file (" + e.getMessage() + ")", e);
        }
    }

    /** The unencrypted PKCS#8 key of a PEM file ({@code -----BEGIN PRIVATE KEY-----}). */
    public static PrivateKey privateKey(byte[] pem) {
        String text = new String(pem, StandardCharsets.US_ASCII);
        int begin = text.indexOf(PKCS8_BEGIN);
        if (begin < 0) {
            if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
                throw new IllegalArgumentException("is an encrypted key; Baton reads unencrypted PKCS#8 keys (decrypt"
                        + " it: openssl pkcs8 -in KEY -out KEY.pk8, and keep that file readable by Baton only)");
            }
            if (text.contains("-----BEGIN RSA PRIVATE KEY-----") || text.contains("-----BEGIN EC PRIVATE KEY-----")) {
                throw new IllegalArgumentException("is a PKCS#1/SEC1 key; Baton reads PKCS#8 keys (convert it:"
                        + " openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)");
            }
            throw new IllegalArgumentException("holds no PEM private key (" + PKCS8_BEGIN + ")");
        }
        int end = text.indexOf(PKCS8_END, begin);
        if (end < 0) {
            throw new IllegalArgumentException("has no " + PKCS8_END + " line (cut short?)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(begin + PKCS8_BEGIN.length(), end));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("is not valid base64 inside its PEM markers", e);
        }
        for (String algorithm : KEY_ALGORITHMS) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // not this algorithm: try the next
            }
        }
        throw new IllegalArgumentException("holds a PKCS#8 key of none of the algorithms " + KEY_ALGORITHMS);
    }

    /**
     * Whether {@code key} is the private half of {@code publicKey}: something signed with one
     * verifies with the other. Null if the algorithm is not one this can test (the TLS handshake
     * then finds out).
     */
    public static Boolean matches(PrivateKey key, PublicKey publicKey) {
        if (!key.getAlgorithm().equals(publicKey.getAlgorithm())) {
            return Boolean.FALSE;
        }
        String signing = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "EdDSA", "Ed25519", "Ed448" -> "EdDSA";
            default -> null;
        };
        if (signing == null) {
            return null;
        }
        try {
            byte[] challenge = new byte[32];
            new SecureRandom().nextBytes(challenge);
            Signature s = Signature.getInstance(signing);
            s.initSign(key);
            s.update(challenge);
            byte[] signature = s.sign();
            Signature v = Signature.getInstance(signing);
            v.initVerify(publicKey);
            v.update(challenge);
            return v.verify(signature);
        } catch (GeneralSecurityException e) {
            return Boolean.FALSE; // e.g. an EC key of another curve than the certificate's
        }
    }
}
