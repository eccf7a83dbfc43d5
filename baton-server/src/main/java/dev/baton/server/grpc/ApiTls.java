package dev.baton.server.grpc;

import dev.baton.server.security.PemFiles;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * TLS on the gRPC API port: this node's certificate and key, the CA its clients' certificates must
 * be signed by (mutual TLS, optional) and the CA it trusts when it calls another member's API port
 * itself (forwarding writes to the leader, asking a member's status).
 *
 * <h2>Rotation</h2>
 * Every file is read again every {@link Config#reloadIntervalMs()}; when its contents changed, the
 * new material is checked (it parses, the key belongs to the certificate, the certificate has not
 * expired) and swapped into grpc-java's {@link AdvancedTlsX509KeyManager} and
 * {@link AdvancedTlsX509TrustManager}: connections opened from then on use it, open ones keep theirs.
 * Material that fails a check is not used: the node logs a WARN and keeps serving the previous one.
 * (The managers' own periodic file reload is not used: in grpc-java 1.68 it runs at most once a
 * minute, takes new files only when both the key's and the certificate's modification times changed,
 * so a certificate renewed for the same key would be missed, does not check that they belong
 * together, and reports failures to java.util.logging, which Baton does not show.)
 *
 * <p>Error messages name the {@code baton server} options the files come from.
 */
public final class ApiTls {
    private static final Logger LOG = LoggerFactory.getLogger(ApiTls.class);
    public static final long DEFAULT_RELOAD_INTERVAL_MS = 60_000;
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    /**
     * @param certFile         this node's certificate, PEM (followed by its intermediate CAs, if any)
     * @param keyFile          its private key, unencrypted PKCS#8 PEM ({@code -----BEGIN PRIVATE KEY-----})
     * @param clientCaFile     null: clients need no certificate; else every client must present one
     *                         signed by a CA of this PEM file (or of {@code caFile})
     * @param caFile           the CA(s) that signed the members' API certificates, trusted when this node
     *                         connects to another member; null: {@code clientCaFile}, if given
     * @param reloadIntervalMs how often the files are read again (rotation without restart)
     */
    public record Config(Path certFile, Path keyFile, Path clientCaFile, Path caFile, long reloadIntervalMs) {
        public Config {
            Objects.requireNonNull(certFile, "certFile");
            Objects.requireNonNull(keyFile, "keyFile");
            if (reloadIntervalMs <= 0) {
                throw new IllegalArgumentException("--tls-reload-interval-ms must be positive, got " + reloadIntervalMs);
            }
        }

        /** Server TLS only: no client certificates, no CA for the members, the default reload interval. */
        public Config(Path certFile, Path keyFile) {
            this(certFile, keyFile, null, null, DEFAULT_RELOAD_INTERVAL_MS);
        }
    }

    private final Config config;
    private final AdvancedTlsX509KeyManager identity = new AdvancedTlsX509KeyManager();
    /** Checks clients' certificates; null: none asked for. */
    private final AdvancedTlsX509TrustManager clientTrust;
    /** Checks the other members' certificates when this node calls them; null: the JVM's default CAs. */
    private final AdvancedTlsX509TrustManager memberTrust;
    private final List<Material> materials = new ArrayList<>();
    private volatile X509Certificate served;

    private ApiTls(Config config) {
        this.config = config;
        materials.add(new Material("certificate and key", List.of(new Source("--tls-cert-file", config.certFile()),
                new Source("--tls-key-file", config.keyFile())), this::installIdentity));
        if (config.clientCaFile() != null) {
            clientTrust = newTrustManager();
            List<Source> cas = new ArrayList<>(List.of(new Source("--tls-client-ca-file", config.clientCaFile())));
            if (config.caFile() != null && !config.caFile().equals(config.clientCaFile())) {
                // The members are clients of each other's API port too (Forward): their CA is accepted.
                cas.add(new Source("--tls-ca-file", config.caFile()));
            }
            materials.add(new Material("client CA", cas, files -> installTrust(clientTrust, files)));
        } else {
            clientTrust = null;
        }
        if (config.caFile() != null) {
            memberTrust = newTrustManager();
            materials.add(new Material("members' CA", List.of(new Source("--tls-ca-file", config.caFile())),
                    files -> installTrust(memberTrust, files)));
        } else {
            memberTrust = clientTrust;
        }
    }

    /**
     * Reads and checks every file once.
     *
     * @throws IllegalArgumentException naming the option and file that is missing, unreadable or wrong
     */
    public static ApiTls load(Config config) {
        ApiTls tls = new ApiTls(config);
        for (Material m : tls.materials) {
            m.loadFirst();
        }
        X509Certificate cert = tls.served;
        List<String> usages = extendedKeyUsage(cert);
        if (usages != null && !usages.contains(SERVER_AUTH)) {
            LOG.warn("API TLS: the certificate of --tls-cert-file {} ({}) is not for TLS servers (its extended key usage"
                    + " lacks serverAuth): clients will refuse it", config.certFile(), cert.getSubjectX500Principal());
        }
        if (usages != null && !usages.contains(CLIENT_AUTH) && tls.clientTrust != null) {
            LOG.warn("API TLS: the certificate of --tls-cert-file {} ({}) is not for TLS clients (its extended key usage"
                    + " lacks clientAuth): the other members will refuse it when this node forwards to them",
                    config.certFile(), cert.getSubjectX500Principal());
        }
        return tls;
    }

    public Config config() {
        return config;
    }

    /** Whether clients must present a certificate. */
    public boolean clientCertificatesRequired() {
        return clientTrust != null;
    }

    /** Whether a CA for the other members' certificates is configured ({@code caFile} or {@code clientCaFile}). */
    public boolean trustsMembers() {
        return memberTrust != null;
    }

    /** The certificate served now. */
    public X509Certificate certificate() {
        return served;
    }

    /** For the API server: this node's certificate; client certificates required if a client CA is set. */
    public ServerCredentials serverCredentials() {
        TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(identity);
        if (clientTrust != null) {
            b.trustManager(clientTrust).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        }
        return b.build();
    }

    /**
     * For this node's channels to other members: verifies their certificate (and that it names the
     * address called) against the members' CA, and presents this node's own certificate when asked
     * for one.
     */
    public ChannelCredentials memberChannelCredentials() {
        TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().keyManager(identity);
        if (memberTrust != null) {
            b.trustManager(memberTrust);
        }
        return b.build();
    }

    /** Reads the files again every reload interval on {@code timer}, installing what changed. */
    public ScheduledFuture<?> startReloading(ScheduledExecutorService timer) {
        long ms = config.reloadIntervalMs();
        return timer.scheduleWithFixedDelay(this::reloadChanged, ms, ms, TimeUnit.MILLISECONDS);
    }

    /** One reload round (also for tests). */
    void reloadChanged() {
        for (Material m : materials) {
            try {
                m.reloadIfChanged();
            } catch (RuntimeException e) {
                LOG.warn("API TLS: reloading the {} failed; still using the previous one", m.what, e);
            }
        }
    }

    /** What is served, for the log line at start. */
    public String summary() {
        return describe(served) + (clientTrust == null ? ", no client certificates asked for"
                : ", client certificates required");
    }

    /** {@code subject, serial, expiry} for log lines. */
    static String describe(X509Certificate c) {
        return "certificate " + c.getSubjectX500Principal() + " (serial " + c.getSerialNumber().toString(16)
                + ", expires " + c.getNotAfter().toInstant() + ")";
    }

    private static AdvancedTlsX509TrustManager newTrustManager() {
        try {
            return AdvancedTlsX509TrustManager.newBuilder()
                    .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION)
                    .build();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a TLS trust manager", e);
        }
    }

    private static List<String> extendedKeyUsage(X509Certificate c) {
        try {
            return c.getExtendedKeyUsage();
        } catch (CertificateParsingException e) {
            return null;
        }
    }

    /** A file and the option it comes from. */
    private record Source(String option, Path file) {
        @Override
        public String toString() {
            return option + " " + file;
        }
    }

    /** Installs the parsed contents of its sources (in order); returns what it installed, for the log. */
    @FunctionalInterface
    private interface Installer {
        String install(List<Loaded> files);
    }

    private record Loaded(Source source, byte[] bytes) {
        /** {@code parser}'s result; its failure is reported with the option and file. */
        <T> T parse(java.util.function.Function<byte[], T> parser) {
            try {
                return parser.apply(bytes);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(source + " " + e.getMessage(), e);
            }
        }
    }

    private String installIdentity(List<Loaded> files) {
        Loaded certFile = files.get(0);
        Loaded keyFile = files.get(1);
        X509Certificate[] chain = certFile.parse(PemFiles::certificates);
        PrivateKey key = keyFile.parse(PemFiles::privateKey);
        X509Certificate leaf = chain[0];
        if (Boolean.FALSE.equals(PemFiles.matches(key, leaf.getPublicKey()))) {
            throw new IllegalArgumentException(keyFile.source() + " is not the key of the certificate in "
                    + certFile.source() + " (" + leaf.getSubjectX500Principal() + "); replace both files together");
        }
        if (leaf.getNotAfter().getTime() < System.currentTimeMillis()) {
            throw new IllegalArgumentException(certFile.source() + ": its certificate (" + leaf.getSubjectX500Principal()
                    + ") expired on " + leaf.getNotAfter().toInstant());
        }
        identity.updateIdentityCredentials(chain, key);
        served = leaf;
        return describe(leaf);
    }

    private static String installTrust(AdvancedTlsX509TrustManager trust, List<Loaded> files) {
        List<X509Certificate> cas = new ArrayList<>();
        for (Loaded f : files) {
            cas.addAll(Arrays.asList(f.parse(PemFiles::certificates)));
        }
        try {
            trust.updateTrustCredentials(cas.toArray(X509Certificate[]::new));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException(files.get(0).source() + ": cannot use its certificates as CAs: " + e, e);
        }
        StringJoiner names = new StringJoiner("; ");
        for (X509Certificate c : cas) {
            names.add(c.getSubjectX500Principal().toString());
        }
        return cas.size() + " CA certificate(s): " + names;
    }

    /** Some files read together and installed together, e.g. a certificate and its key. */
    private static final class Material {
        final String what;
        final List<Source> sources;
        final Installer installer;
        /** The contents last tried, installed or refused: unchanged files are neither read into TLS nor warned about again. */
        List<byte[]> tried;
        /** The last problem reading the files, warned about once. */
        String unreadable;

        Material(String what, List<Source> sources, Installer installer) {
            this.what = what;
            this.sources = sources;
            this.installer = installer;
        }

        List<Loaded> read() {
            List<Loaded> out = new ArrayList<>();
            for (Source s : sources) {
                try {
                    out.add(new Loaded(s, Files.readAllBytes(s.file())));
                } catch (NoSuchFileException e) {
                    throw new IllegalArgumentException(s + ": cannot read it (no such file)", e);
                } catch (AccessDeniedException e) {
                    throw new IllegalArgumentException(s + ": cannot read it (permission denied)", e);
                } catch (IOException e) {
                    throw new IllegalArgumentException(s + ": cannot read it (" + e + ")", e);
                }
            }
            return out;
        }

        void loadFirst() {
            List<Loaded> files = read();
            installer.install(files);
            tried = contents(files);
        }

        void reloadIfChanged() {
            List<Loaded> files;
            try {
                files = read();
            } catch (IllegalArgumentException e) {
                if (!e.getMessage().equals(unreadable)) {
                    unreadable = e.getMessage();
                    LOG.warn("API TLS: cannot reload the {}: {}; still using the previous one", what, e.getMessage());
                }
                return;
            }
            unreadable = null;
            List<byte[]> now = contents(files);
            if (sameContents(now, tried)) {
                return;
            }
            tried = now;
            try {
                LOG.info("API TLS: reloaded the {}: {}", what, installer.install(files));
            } catch (IllegalArgumentException e) {
                LOG.warn("API TLS: not reloading the {}: {}; still using the previous one", what, e.getMessage());
            }
        }

        private static List<byte[]> contents(List<Loaded> files) {
            List<byte[]> out = new ArrayList<>();
            for (Loaded f : files) {
                out.add(f.bytes());
            }
            return out;
        }

        private static boolean sameContents(List<byte[]> a, List<byte[]> b) {
            if (a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!Arrays.equals(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
    }
}
