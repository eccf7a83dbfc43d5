package dev.baton.server;

import dev.baton.server.ServerCommandAccess.Run;
import dev.baton.server.security.AuthTokens;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --http-open} of {@code baton server}: a bad list, or the option without
 * {@code --auth-token-file} (where it would protect nothing), stops the start with a clear error
 * before anything is written; also as a {@code --config} key.
 */
class HttpOpenOptionTest {
    @TempDir
    Path dir;

    private static Run server(String... args) {
        return ServerCommandAccess.refusedStart(args);
    }

    @Test
    void aBadListStopsTheStartNamingTheOption() throws Exception {
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(AuthTokens.newToken(), "ops", "admin") + "\n");
        Path data = dir.resolve("never-created");
        Run r = server("--data-dir", data.toString(), "--auth-token-file", tokens.toString(),
                "--http-open", "metrics,dashboard");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("baton server: --http-open takes a comma list of metrics and health, or none,"
                + " got 'dashboard'");
        assertThat(data).doesNotExist();

        Path config = dir.resolve("baton.properties");
        Files.writeString(config, "auth-token-file=" + tokens + "\nhttp-open=none,health\ndata-dir=" + data + "\n");
        Run viaConfig = server("--config", config.toString());
        assertThat(viaConfig.code()).isEqualTo(2);
        assertThat(viaConfig.err()).contains("--http-open").contains("none alone").doesNotContain("unknown key");
        assertThat(data).doesNotExist();
    }

    @Test
    void withoutATokenFileTheOptionIsRefusedNotIgnored() {
        Path data = dir.resolve("never-created");
        Run r = server("--data-dir", data.toString(), "--http-open", "none");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--http-open needs --auth-token-file");
        assertThat(data).doesNotExist();
    }
}
