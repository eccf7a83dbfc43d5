package dev.baton.client.internal;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import dev.baton.client.BatonClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS files of the builder are read when given: a missing file, a file that is no certificate
 * and a key in a format the client does not read are refused there, naming the file. (Connecting
 * with TLS is tested against real nodes in baton-server's ApiTlsTest.)
 */
class ClientTlsTest {
    @Test
    void badFilesAreRefusedWhenGiven(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> BatonClient.builder().tls(missing))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot read the CA file " + missing + " (no such file)");
        Path text = Files.writeString(dir.resolve("notes.txt"), "not a certificate\n");
        assertThatThrownBy(() -> BatonClient.builder().tls(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the CA file " + text + " ");
        Path rsa = Files.writeString(dir.resolve("rsa.key"),
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        assertThatThrownBy(() -> ClientTls.readKey(rsa))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the client key file " + rsa + " is a PKCS#1/SEC1 key")
                .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
    }
}
