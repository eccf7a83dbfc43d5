package dev.baton.server.api;

import dev.baton.server.api.AuthTokens.Principal;
import dev.baton.server.api.AuthTokens.Role;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The token file: its format, its errors (file and line named), hashing, and the Bearer header. */
class AuthTokensTest {
    private static final Path FILE = Path.of("tokens.txt");

    @Test
    void parsesLinesSkippingCommentsAndBlankLines() {
        String a = AuthTokens.newToken();
        String b = AuthTokens.newToken();
        String text = "# a comment\n\n   \n" + AuthTokens.sha256Hex(a).toUpperCase(Locale.ROOT) + "  app\tclient,read\r\n"
                + "   # indented comment\n" + AuthTokens.sha256Hex(b) + " ops admin\n";
        Map<String, Principal> tokens = AuthTokens.parse(text, FILE);
        assertThat(tokens).hasSize(2);
        assertThat(tokens.get(AuthTokens.sha256Hex(a))).isEqualTo(new Principal("app", java.util.Set.of(Role.CLIENT, Role.READ)));
        assertThat(tokens.get(AuthTokens.sha256Hex(b)).roles()).as("admin implies read")
                .containsExactlyInAnyOrder(Role.ADMIN, Role.READ);
        assertThat(AuthTokens.parse("", FILE)).isEmpty();
    }

    @Test
    void aMalformedLineIsNamedWithItsFileAndNumber() {
        String hash = AuthTokens.sha256Hex("x");
        assertThatThrownBy(() -> AuthTokens.parse("# ok\n" + hash + " app\n", FILE))
                .hasMessageStartingWith("tokens.txt line 2: ").hasMessageContaining("got 2 field(s)");
        assertThatThrownBy(() -> AuthTokens.parse("\n\nsecret-token app client\n", FILE))
                .hasMessageStartingWith("tokens.txt line 3: ").hasMessageContaining("64 hex");
        assertThatThrownBy(() -> AuthTokens.parse(hash + " app client,root\n", FILE))
                .hasMessageStartingWith("tokens.txt line 1: ").hasMessageContaining("unknown role 'root'");
        assertThatThrownBy(() -> AuthTokens.parse(hash + " app client,\n", FILE))
                .hasMessageContaining("unknown role ''");
        assertThatThrownBy(() -> AuthTokens.parse(hash + " app client\n" + hash + " other read\n", FILE))
                .hasMessageStartingWith("tokens.txt line 2: ").hasMessageContaining("already");
        assertThatThrownBy(() -> AuthTokens.parse(hash + " a/b client\n", FILE)).hasMessageContaining("token name");
    }

    @Test
    void loadNamesAMissingFileAndLooksTokensUpByHash(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> AuthTokens.load(dir.resolve("none"), 10_000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot read the token file");
        String token = AuthTokens.newToken();
        Path f = dir.resolve("tokens");
        Files.writeString(f, AuthTokens.fileLine(token, "app", "client") + "\n");
        AuthTokens tokens = AuthTokens.load(f, 10_000);
        assertThat(tokens.lookup(token).name()).isEqualTo("app");
        assertThat(tokens.lookup(token + "x")).isNull();
        assertThat(tokens.lookup(null)).isNull();
        assertThat(tokens.toString()).doesNotContain(AuthTokens.sha256Hex(token));
    }

    @Test
    void tokensAreRandomBase64UrlOf32Bytes() {
        String t = AuthTokens.newToken();
        assertThat(t).matches("[A-Za-z0-9_-]{43}");
        assertThat(java.util.Base64.getUrlDecoder().decode(t)).hasSize(32);
        assertThat(AuthTokens.newToken()).isNotEqualTo(t);
        // SHA-256 of the UTF-8 bytes, lower-case hex (the value of sha256sum for "abc")
        assertThat(AuthTokens.sha256Hex("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assertThat(AuthTokens.fileLine(t, "ops", "Admin, client")).endsWith(" ops admin,client");
        assertThatThrownBy(() -> AuthTokens.fileLine(t, "ops", "owner")).hasMessageContaining("unknown role");
    }

    @Test
    void theBearerSchemeIsReadInAnyCase() {
        assertThat(TokenAuth.bearerToken("Bearer abc")).isEqualTo("abc");
        assertThat(TokenAuth.bearerToken("bearer  abc ")).isEqualTo("abc");
        assertThat(TokenAuth.bearerToken("Basic abc")).isNull();
        assertThat(TokenAuth.bearerToken("Bearer ")).isNull();
        assertThat(TokenAuth.bearerToken(null)).isNull();
    }
}
