package dev.baton.server.grpc;

import dev.baton.server.TlsFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The files of the API port's TLS, without a server: what is refused at start (naming the option
 * and the file), and that a reload keeps the material in use when the new files are bad (a key of
 * another certificate, a cut-short certificate, a missing file), takes them once they are good,
 * and takes a certificate renewed for the same key.
 */
class ApiTlsFilesTest {

    @Test
    void badFilesAreRefusedAtStartNamingTheOption(@TempDir Path dir) throws Exception {
        TlsFiles files = new TlsFiles(dir.resolve("certs"));
        TlsFiles.Ca ca = files.ca("ca");
        TlsFiles.Leaf a = files.node(ca, "a");
        TlsFiles.Leaf b = files.node(ca, "b");

        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> ApiTls.load(new ApiTls.Config(missing, a.key())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--tls-cert-file " + missing + ": cannot read it (no such file)");
        assertThatThrownBy(() -> ApiTls.load(new ApiTls.Config(a.cert(), b.key())))
                .hasMessageContaining("--tls-key-file " + b.key() + " is not the key of the certificate in --tls-cert-file "
                        + a.cert());
        Path pkcs1 = Files.writeString(dir.resolve("rsa.key"),
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        assertThatThrownBy(() -> ApiTls.load(new ApiTls.Config(a.cert(), pkcs1)))
                .hasMessageContaining("--tls-key-file " + pkcs1 + " is a PKCS#1/SEC1 key")
                .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
        assertThatThrownBy(() -> ApiTls.load(new ApiTls.Config(a.key(), a.key())))
                .hasMessageContaining("--tls-cert-file " + a.key() + " ");
        assertThatThrownBy(() -> ApiTls.load(new ApiTls.Config(a.cert(), a.key(), dir.resolve("no-ca.pem"), null, 1000)))
                .hasMessageContaining("--tls-client-ca-file " + dir.resolve("no-ca.pem") + ": cannot read it");

        ApiTls good = ApiTls.load(new ApiTls.Config(a.cert(), a.key(), null, ca.cert(), 1000));
        assertThat(good.trustsMembers()).isTrue();
        assertThat(good.clientCertificatesRequired()).isFalse();
        assertThat(good.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=a");
    }

    @Test
    void aReloadKeepsTheCertificateInUseUntilTheNewFilesAreGood(@TempDir Path dir) throws Exception {
        TlsFiles files = new TlsFiles(dir.resolve("certs"));
        TlsFiles.Ca ca = files.ca("ca");
        TlsFiles.Leaf first = files.node(ca, "first");
        TlsFiles.Leaf second = files.node(ca, "second");
        Path cert = dir.resolve("api.pem");
        Path key = dir.resolve("api.key");
        Files.copy(first.cert(), cert);
        Files.copy(first.key(), key);
        ApiTls tls = ApiTls.load(new ApiTls.Config(cert, key, ca.cert(), null, 60_000));
        String served = tls.certificate().getSubjectX500Principal().getName();
        assertThat(served).isEqualTo("CN=first");

        Files.copy(second.cert(), cert, StandardCopyOption.REPLACE_EXISTING); // its key not yet
        tls.reloadChanged();
        assertThat(tls.certificate().getSubjectX500Principal().getName()).as("a key of another certificate").isEqualTo(served);

        String pem = Files.readString(second.cert());
        Files.writeString(cert, pem.substring(0, pem.length() / 2)); // cut short
        Files.copy(second.key(), key, StandardCopyOption.REPLACE_EXISTING);
        tls.reloadChanged();
        assertThat(tls.certificate().getSubjectX500Principal().getName()).as("a cut-short certificate").isEqualTo(served);

        Files.delete(cert);
        tls.reloadChanged();
        assertThat(tls.certificate().getSubjectX500Principal().getName()).as("a missing file").isEqualTo(served);

        Files.copy(second.cert(), cert);
        tls.reloadChanged();
        assertThat(tls.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=second");

        // A certificate renewed for the same key: only the certificate file changes.
        TlsFiles.Leaf renewed = files.renew(ca, second, "second-renewed");
        Files.copy(renewed.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
        tls.reloadChanged();
        assertThat(tls.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=second-renewed");
    }
}
