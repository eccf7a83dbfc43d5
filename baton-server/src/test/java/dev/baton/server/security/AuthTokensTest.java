package dev.baton.server.security;

import dev.baton.server.grpc.TokenAuth;

import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
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
        Map<String, Principal> tokens = AuthTokens.parse(text, FILE).byHash();
        assertThat(tokens).hasSize(2);
        assertThat(tokens.get(AuthTokens.sha256Hex(a))).isEqualTo(new Principal("app", java.util.Set.of(Role.CLIENT, Role.READ)));
        assertThat(tokens.get(AuthTokens.sha256Hex(b)).roles()).as("admin implies read")
                .containsExactlyInAnyOrder(Role.ADMIN, Role.READ);
        assertThat(AuthTokens.parse("", FILE).size()).isZero();
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
        assertThatThrownBy(() -> AuthTokens.parse(hash + " app client a:,,b:\n", FILE))
                .hasMessageStartingWith("tokens.txt line 1: ").hasMessageContaining("empty key prefix");
        assertThatThrownBy(() -> AuthTokens.parse(hash + " app client a: extra\n", FILE)).hasMessageContaining("got 5 field(s)");
        assertThatThrownBy(() -> AuthTokens.parse("- app client\n- app read\n", FILE))
                .hasMessageStartingWith("tokens.txt line 2: ").hasMessageContaining("certificate name 'app' is already");
    }

    @Test
    void aTokenMayBeLimitedToKeyPrefixesButThenOnlyWithTheClientRole() {
        String token = AuthTokens.newToken();
        String line = AuthTokens.fileLine(token, "tenant-a", "client", "enwiki:,dewiki:");
        assertThat(line).endsWith(" tenant-a client enwiki:,dewiki:");
        Principal p = AuthTokens.parse(line + "\n", FILE).byHash().get(AuthTokens.sha256Hex(token));
        assertThat(p.keyPrefixes()).containsExactly("enwiki:", "dewiki:");
        assertThat(p.limitedToPrefixes()).isTrue();
        assertThat(p.mayTouch("enwiki:Main_Page")).isTrue();
        assertThat(p.mayTouch("dewiki:")).isTrue();
        assertThat(p.mayTouch("frwiki:Main_Page")).isFalse();
        assertThat(p.mayTouch("enwiki")).as("the whole prefix, colon included").isFalse();
        assertThat(new Principal("any", java.util.Set.of(Role.CLIENT)).mayTouch("frwiki:x")).as("no prefixes: every key")
                .isTrue();

        assertThatThrownBy(() -> AuthTokens.fileLine(token, "ops", "client,read", "a:"))
                .hasMessageContaining("may have only the client role");
        assertThatThrownBy(() -> AuthTokens.parse(AuthTokens.sha256Hex(token) + " ops admin a:\n", FILE))
                .hasMessageStartingWith("tokens.txt line 1: ").hasMessageContaining("may have only the client role");
    }

    @Test
    void aDashInsteadOfAHashNamesACallerWithAClientCertificate(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("tokens");
        Files.writeString(f, "- worker-17.example.org client a:\n");
        AuthTokens tokens = AuthTokens.load(f, 10_000);
        assertThat(tokens.lookupCertificate("worker-17.example.org"))
                .isEqualTo(new Principal("worker-17.example.org", java.util.Set.of(Role.CLIENT), java.util.List.of("a:")));
        assertThat(tokens.lookupCertificate("worker-18.example.org")).isNull();
        assertThat(tokens.lookup("-")).as("'-' is not a token").isNull();
        assertThat(tokens.size()).isEqualTo(1);
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
