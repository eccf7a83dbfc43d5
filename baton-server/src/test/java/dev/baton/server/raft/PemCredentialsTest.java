package dev.baton.server.raft;

import dev.baton.server.security.PemCredentials;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link PemCredentials}: a rotation caught half-way (the new key written, not yet its certificate)
 * never installs a key that does not belong to the certificate; once both are written the new pair
 * is served.
 */
class PemCredentialsTest {
    @TempDir
    static Path certs;
    @TempDir
    Path dir;

    @BeforeAll
    static void makeCertificates() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")),
                "openssl is not installed (Debian package openssl; ./test installs it): TLS tests skipped");
        TestCertificates.ca(certs, "ca");
        TestCertificates.leaf(certs, "ca", "old");
        TestCertificates.leaf(certs, "ca", "new");
    }

    private PemCredentials.Files3 files() {
        return new PemCredentials.Files3(dir.resolve("tls.pem"), "--cert", dir.resolve("tls.key"), "--key",
                certs.resolve("ca.pem"), "--ca");
    }

    private void install(String leaf, String... which) throws Exception {
        for (String ext : which) {
            Files.copy(certs.resolve(leaf + "." + ext), dir.resolve("tls." + ext), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void aKeyThatDoesNotBelongToTheCertificateIsNeverInstalledAndTheNewPairIsOnceBothAreWritten() throws Exception {
        install("old", "pem", "key");
        try (PemCredentials c = PemCredentials.load(files()).watch(50, "pem-test")) {
            assertThat(c.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=old");

            install("new", "key"); // half-way: the new key, the old certificate
            Thread.sleep(300);      // several checks pass; none may install the mismatched pair
            assertThat(c.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=old");
            assertThat(c.keyManager().getCertificateChain("default")[0].getSubjectX500Principal().getName()).isEqualTo("CN=old");

            install("new", "pem");
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!c.certificate().getSubjectX500Principal().getName().equals("CN=new")) {
                assertThat(System.nanoTime()).as("the new pair is served").isLessThan(deadline);
                Thread.sleep(20);
            }
            assertThat(c.keyManager().getCertificateChain("default")[0].getSubjectX500Principal().getName()).isEqualTo("CN=new");
        }
    }

    @Test
    void aKeyOfAnotherCertificateIsAnErrorAtLoad() throws Exception {
        install("old", "pem");
        install("new", "key");
        assertThatThrownBy(() -> PemCredentials.load(files())).hasMessageContaining("--cert").hasMessageContaining("--key")
                .hasMessageContaining("does not belong");
    }
}
