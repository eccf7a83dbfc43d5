package dev.baton.server;

import dev.baton.server.ServerCommandAccess.Run;
import dev.baton.server.security.AuthTokens;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Safe by default: a node whose ports listen beyond this machine unprotected refuses to start,
 * naming each port and what it lacks, unless told {@code --insecure}; the zero-config node on
 * 127.0.0.1 needs nothing.
 */
class SafeByDefaultTest {

    private static StartupChecks.Exposure loopback() {
        return new StartupChecks.Exposure("127.0.0.1", 7530, false, false, "127.0.0.1", 7533, false,
                "127.0.0.1", 7532, false, "127.0.0.1", 7531, false);
    }

    @Test
    void theZeroConfigNodeOnLoopbackNeedsNothing() {
        assertThat(StartupChecks.insecurePorts(loopback())).isEmpty();
        assertThat(StartupChecks.insecurePorts(new StartupChecks.Exposure("localhost", 7530, false, false, "::1", 7533,
                false, null, 0, false, null, 0, false))).isEmpty();
    }

    @Test
    void eachPortBeyondLoopbackIsNamedWithWhatItLacks() {
        StartupChecks.Exposure open = new StartupChecks.Exposure("0.0.0.0", 7530, false, false, "0.0.0.0", 7533, false,
                "0.0.0.0", 7532, false, "0.0.0.0", 7531, false);
        assertThat(StartupChecks.insecurePorts(open)).satisfiesExactly(
                api -> assertThat(api).contains("gRPC API port 0.0.0.0:7530 has no TLS"),
                apiAuth -> assertThat(apiAuth).contains("asks for no token or client certificate"),
                raft -> assertThat(raft).contains("Raft port 0.0.0.0:7533").contains("--peer-tls-cert-file"),
                http -> assertThat(http).contains("HTTP port 0.0.0.0:7532").contains("--auth-token-file"),
                line -> assertThat(line).contains("PoolCounter port 0.0.0.0:7531").contains("--line-allow"));

        StartupChecks.Exposure secured = new StartupChecks.Exposure("0.0.0.0", 7530, true, true, "0.0.0.0", 7533, true,
                "0.0.0.0", 7532, true, "0.0.0.0", 7531, true);
        assertThat(StartupChecks.insecurePorts(secured)).isEmpty();
        // TLS without anyone to authenticate is not enough, nor tokens sent in clear.
        assertThat(StartupChecks.insecurePorts(new StartupChecks.Exposure("0.0.0.0", 7530, true, false, "127.0.0.1",
                7533, false, null, 0, false, null, 0, false))).hasSize(1);
        assertThat(StartupChecks.insecurePorts(new StartupChecks.Exposure("0.0.0.0", 7530, false, true, "127.0.0.1",
                7533, false, null, 0, false, null, 0, false))).hasSize(1);
        // Only the ports that listen beyond loopback count: a line port on the app network, the rest local.
        StartupChecks.Exposure lineOnly = new StartupChecks.Exposure("127.0.0.1", 7530, false, false, "127.0.0.1", 7533,
                false, "127.0.0.1", 7532, false, "0.0.0.0", 7531, true);
        assertThat(StartupChecks.insecurePorts(lineOnly)).isEmpty();
    }

    @Test
    void aNodeOnAllAddressesWithoutProtectionRefusesToStartAndWritesNothing(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("data");
        Run r = server("--data-dir", data.toString(), "--host", "0.0.0.0",
                "--raft-port", Integer.toString(TestWaits.freePort()), "--api-port", Integer.toString(TestWaits.freePort()),
                "--no-http", "--no-line");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("refusing to start").contains("gRPC API port 0.0.0.0:").contains("has no TLS")
                .contains("Raft port 0.0.0.0:").contains("--insecure");
        assertThat(data).doesNotExist();

        // Tokens on the API port do not protect the Raft port.
        Path tokens = tmp.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(AuthTokens.newToken(), "app", "client") + "\n");
        Run withTokens = server("--data-dir", data.toString(), "--host", "0.0.0.0", "--auth-token-file", tokens.toString(),
                "--raft-port", Integer.toString(TestWaits.freePort()), "--api-port", Integer.toString(TestWaits.freePort()),
                "--no-http", "--no-line");
        assertThat(withTokens.code()).isEqualTo(2);
        assertThat(withTokens.err()).doesNotContain("asks for no token").contains("Raft port");
        assertThat(data).doesNotExist();
    }

    private static Run server(String... args) {
        return ServerCommandAccess.refusedStart(args);
    }
}
