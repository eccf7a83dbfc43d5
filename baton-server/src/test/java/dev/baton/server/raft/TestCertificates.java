package dev.baton.server.raft;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Throw-away certificates for TLS tests, made with the {@code openssl} command: EC P-256 keys in
 * PKCS#8 PEM ({@code NAME.key}), certificates in PEM ({@code NAME.pem}), valid for two days.
 */
public final class TestCertificates {
    private TestCertificates() {}

    /** A CA: {@code dir/NAME.pem} and {@code dir/NAME.key}. */
    public static void ca(Path dir, String name) throws IOException, InterruptedException {
        openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }

    /**
     * A certificate signed by CA {@code ca} for 127.0.0.1 and localhost, usable as TLS server and
     * client (both extended key usages), serial {@code serial}.
     */
    public static void leaf(Path dir, String ca, String name) throws IOException, InterruptedException {
        openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name);
        Files.writeString(dir.resolve(name + ".ext"), String.join("\n",
                "basicConstraints=CA:FALSE",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "extendedKeyUsage=serverAuth,clientAuth",
                "subjectAltName=IP:127.0.0.1,DNS:localhost", ""), StandardCharsets.US_ASCII);
        openssl(dir, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext");
    }

    private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("/usr/bin/openssl");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("openssl " + String.join(" ", args) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
    }

    /**
     * The subject of the certificate a TLS server on {@code port} (127.0.0.1) shows to a client that
     * presents {@code clientLeaf}'s certificate and trusts every server (only the subject is wanted).
     */
    public static String servedSubject(int port, Path dir, String clientLeaf) throws Exception {
        io.grpc.util.AdvancedTlsX509KeyManager keys = new io.grpc.util.AdvancedTlsX509KeyManager();
        keys.updateIdentityCredentials(dir.resolve(clientLeaf + ".pem").toFile(), dir.resolve(clientLeaf + ".key").toFile());
        javax.net.ssl.X509TrustManager trustAll = io.grpc.util.AdvancedTlsX509TrustManager.newBuilder()
                .setVerification(io.grpc.util.AdvancedTlsX509TrustManager.Verification.INSECURELY_SKIP_ALL_VERIFICATION).build();
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
        ctx.init(new javax.net.ssl.KeyManager[] {keys}, new javax.net.ssl.TrustManager[] {trustAll}, null);
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            return ((java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[0])
                    .getSubjectX500Principal().getName();
        }
    }

    /** A free port, distinct from every other this JVM's tests were given. */
    public static int freePort() {
        return dev.baton.server.TestWaits.freePort();
    }
}
