package dev.baton.server;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Throw-away certificates for TLS tests, made with the {@code openssl} command line (EC P-256 keys,
 * PKCS#8 PEM, valid for two days): CAs, node certificates for 127.0.0.1 and localhost (serverAuth and
 * clientAuth, as the members need) and client certificates. A test without {@code openssl} is
 * skipped ({@link #assumeOpenssl()}); {@code ./test} installs it.
 */
public final class TlsFiles {
    public static final Path OPENSSL = Path.of("/usr/bin/openssl");
    private static final AtomicLong SERIALS = new AtomicLong(System.currentTimeMillis());

    /** A CA: its certificate and key. */
    public record Ca(Path cert, Path key) {}

    /** A certificate signed by a CA, and its key. */
    public record Leaf(Path cert, Path key) {}

    private final Path dir;

    /** Certificates made in {@code dir}; skips the calling test if {@code openssl} is missing. */
    public TlsFiles(Path dir) throws IOException {
        assumeOpenssl();
        this.dir = Files.createDirectories(dir);
        Files.writeString(dir.resolve("openssl.cnf"), """
                [req]
                distinguished_name = dn
                prompt = no
                [dn]
                CN = unused
                [ca_ext]
                basicConstraints = critical,CA:TRUE
                keyUsage = critical,keyCertSign,cRLSign
                subjectKeyIdentifier = hash
                [node_ext]
                basicConstraints = CA:FALSE
                keyUsage = critical,digitalSignature
                extendedKeyUsage = serverAuth,clientAuth
                subjectAltName = IP:127.0.0.1,DNS:localhost
                [elsewhere_ext]
                basicConstraints = CA:FALSE
                keyUsage = critical,digitalSignature
                extendedKeyUsage = serverAuth,clientAuth
                subjectAltName = DNS:elsewhere.example
                [client_ext]
                basicConstraints = CA:FALSE
                keyUsage = critical,digitalSignature
                extendedKeyUsage = clientAuth
                """, StandardCharsets.US_ASCII);
    }

    public static void assumeOpenssl() {
        Assumptions.assumeTrue(Files.isExecutable(OPENSSL),
                "SKIPPED: " + OPENSSL + " is missing (the TLS tests make their certificates with it; ./test installs"
                        + " the Debian package openssl)");
    }

    /** A new self-signed CA named {@code name}. */
    public Ca ca(String name) throws IOException {
        Path cert = dir.resolve(name + ".pem");
        Path key = dir.resolve(name + ".key");
        openssl("req", "-x509", "-config", cnf(), "-extensions", "ca_ext", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.toString(), "-out", cert.toString(), "-days", "2",
                "-subj", "/CN=" + name);
        return new Ca(cert, key);
    }

    /** A node certificate (127.0.0.1, localhost; serverAuth and clientAuth) named {@code name}, new serial. */
    public Leaf node(Ca ca, String name) throws IOException {
        return signed(ca, name, "node_ext");
    }

    /** A node certificate like {@link #node}'s, but for another host ({@code elsewhere.example}) only. */
    public Leaf nodeElsewhere(Ca ca, String name) throws IOException {
        return signed(ca, name, "elsewhere_ext");
    }

    /** A client certificate (clientAuth) named {@code name}. */
    public Leaf client(Ca ca, String name) throws IOException {
        return signed(ca, name, "client_ext");
    }

    private Leaf signed(Ca ca, String name, String extensions) throws IOException {
        long serial = SERIALS.incrementAndGet();
        Path key = dir.resolve(name + "-" + serial + ".key");
        Path csr = dir.resolve(name + "-" + serial + ".csr");
        Path cert = dir.resolve(name + "-" + serial + ".pem");
        openssl("req", "-new", "-config", cnf(), "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
        openssl("x509", "-req", "-in", csr.toString(), "-CA", ca.cert().toString(), "-CAkey", ca.key().toString(),
                "-set_serial", Long.toString(serial), "-days", "2", "-extfile", cnf(), "-extensions", extensions,
                "-out", cert.toString());
        return new Leaf(cert, key);
    }

    /** A new node certificate (new serial, subject {@code name}) for the key of {@code old}. */
    public Leaf renew(Ca ca, Leaf old, String name) throws IOException {
        long serial = SERIALS.incrementAndGet();
        Path csr = dir.resolve(name + "-" + serial + ".csr");
        Path cert = dir.resolve(name + "-" + serial + ".pem");
        openssl("req", "-new", "-config", cnf(), "-key", old.key().toString(), "-out", csr.toString(),
                "-subj", "/CN=" + name);
        openssl("x509", "-req", "-in", csr.toString(), "-CA", ca.cert().toString(), "-CAkey", ca.key().toString(),
                "-set_serial", Long.toString(serial), "-days", "2", "-extfile", cnf(), "-extensions", "node_ext",
                "-out", cert.toString());
        return new Leaf(cert, old.key());
    }

    private String cnf() {
        return dir.resolve("openssl.cnf").toString();
    }

    private void openssl(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(OPENSSL.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
