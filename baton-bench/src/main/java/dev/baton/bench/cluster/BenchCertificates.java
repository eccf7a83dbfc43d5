package dev.baton.bench.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Throw-away certificates and a bearer token for the secured benchmark contenders, made in a
 * contender's temp dir and deleted with it. Certificates come from the {@code openssl} command (the JDK
 * has no public API to sign one): EC P-256 keys, unencrypted PKCS#8 PEM ({@code NAME.key}, the only
 * key format Baton reads), certificates in PEM ({@code NAME.pem}), valid for two days, as
 * docs/security.md describes them.
 */
final class BenchCertificates {
    private BenchCertificates() {}

    static final Path OPENSSL = Path.of("/usr/bin/openssl");

    /** A self-signed CA: {@code dir/NAME.pem} and {@code dir/NAME.key}. */
    static void ca(Path dir, String name) throws IOException {
        openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }

    /**
     * A certificate signed by CA {@code ca} (files of {@link #ca}) for 127.0.0.1 and localhost, the
     * addresses the benchmarks use. Both extended key usages: a node is a TLS server to its clients and
     * a TLS client when it forwards to the leader or opens a Raft connection.
     */
    static void leaf(Path dir, String ca, String name) throws IOException {
        openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name);
        Files.writeString(dir.resolve(name + ".ext"), String.join("\n",
                "basicConstraints=CA:FALSE",
                "keyUsage=critical,digitalSignature",
                "extendedKeyUsage=serverAuth,clientAuth",
                "subjectAltName=IP:127.0.0.1,DNS:localhost", ""), StandardCharsets.US_ASCII);
        openssl(dir, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext");
    }

    /**
     * A new bearer token as {@code baton token new} makes them (32 random bytes, base64url without
     * padding), so that the benchmark needs no extra process to make one.
     */
    static String newToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** The line of {@code --auth-token-file} for {@code token}: {@code <sha256-hex> <name> <roles>}. */
    static String tokenLine(String token, String name, String roles) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h) + " " + name + " " + roles;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }

    private static void openssl(Path dir, String... args) throws IOException {
        if (!Files.isExecutable(OPENSSL)) {
            throw new IOException(OPENSSL + " is missing (Debian package openssl): needed for the TLS contenders");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(OPENSSL.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("openssl " + String.join(" ", args) + " failed: "
                        + new String(out, StandardCharsets.UTF_8));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running openssl", e);
        }
    }
}
