package dev.baton.server;

import dev.baton.server.ServerCommandAccess.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The TLS options of {@code baton server} (also as {@code --config} keys): a missing or unreadable
 * file, an option without its partner, or a node of a cluster without a CA for its members stops
 * the start with exit code 2, naming the option, before anything is written to disk.
 */
class TlsOptionsTest {

    @Test
    void optionsThatDoNotGoTogetherAreRefused(@TempDir Path tmp) {
        Path data = tmp.resolve("d");
        Run certOnly = server(data, "--tls-cert-file", tmp.resolve("a.pem").toString());
        assertThat(certOnly.code()).isEqualTo(2);
        assertThat(certOnly.err()).contains("--tls-cert-file needs --tls-key-file");
        Run keyOnly = server(data, "--tls-key-file", tmp.resolve("a.key").toString());
        assertThat(keyOnly.err()).contains("--tls-key-file needs --tls-cert-file");
        Run caOnly = server(data, "--tls-client-ca-file", tmp.resolve("ca.pem").toString());
        assertThat(caOnly.code()).isEqualTo(2);
        assertThat(caOnly.err()).contains("--tls-client-ca-file needs --tls-cert-file and --tls-key-file");
        assertThat(data).doesNotExist();
    }

    @Test
    void aMissingFileIsNamedAlsoWhenItComesFromTheConfigFile(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("d");
        Path cert = tmp.resolve("missing.pem");
        Run r = server(data, "--tls-cert-file", cert.toString(), "--tls-key-file", tmp.resolve("missing.key").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--tls-cert-file " + cert + ": cannot read it (no such file)");

        Path config = Files.writeString(tmp.resolve("baton.properties"), "tls-cert-file=" + cert + "\ntls-key-file="
                + tmp.resolve("missing.key") + "\ntls-reload-interval-ms=5000\n");
        Run fromFile = server(data, "--config", config.toString());
        assertThat(fromFile.code()).isEqualTo(2);
        assertThat(fromFile.err()).doesNotContain("unknown key").contains("--tls-cert-file " + cert + ": cannot read it");
        assertThat(data).doesNotExist();
    }

    @Test
    void aClusterNodeWithTlsNeedsTheMembersCa(@TempDir Path tmp) throws Exception {
        TlsFiles files = new TlsFiles(tmp.resolve("certs"));
        TlsFiles.Leaf node = files.node(files.ca("ca"), "n1");
        Path secret = Files.writeString(tmp.resolve("cluster.secret"), "0123456789abcdef0123456789abcdef\n");
        Path data = tmp.resolve("d");
        Run r = server(data, "--node-id", "n1", "--peers", "n1=127.0.0.1:" + TestWaits.freePort() + ",n2=127.0.0.1:"
                        + TestWaits.freePort(), "--cluster-secret-file", secret.toString(),
                "--tls-cert-file", node.cert().toString(), "--tls-key-file", node.key().toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("needs --tls-ca-file");
        assertThat(data).doesNotExist();
    }

    /** {@code baton server --data-dir data <args>} in this JVM; only for starts that fail before serving. */
    private static Run server(Path data, String... args) {
        List<String> all = new ArrayList<>(List.of("--data-dir", data.toString()));
        all.addAll(List.of(args));
        return ServerCommandAccess.refusedStart(all.toArray(String[]::new));
    }
}
