package dev.baton.client;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code securityFromEnvironment}: unset or blank variables change nothing; a bad one is an error
 * naming it. (That the values reach the node is shown by the examples' secured-node test.)
 */
class SecurityFromEnvironmentTest {
    @Test
    void unsetOrBlankVariablesChangeNothing() {
        assertThatCode(() -> BatonClient.builder().securityFromEnvironment(Map.of())).doesNotThrowAnyException();
        assertThatCode(() -> BatonClient.builder().securityFromEnvironment(Map.of("BATON_TLS_CA_FILE", "  ",
                "BATON_TOKEN", ""))).doesNotThrowAnyException();
    }

    @Test
    void aBadVariableIsNamed() {
        assertThatThrownBy(() -> BatonClient.builder().securityFromEnvironment(Map.of("BATON_TLS_CA_FILE", "/no/such/ca.pem")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BATON_TLS_CA_FILE")
                .hasMessageContaining("/no/such/ca.pem");
        assertThatThrownBy(() -> BatonClient.builder().securityFromEnvironment(Map.of("BATON_TLS_CERT_FILE", "/x.pem")))
                .hasMessageContaining("BATON_TLS_CERT_FILE needs BATON_TLS_KEY_FILE");
        assertThatThrownBy(() -> BatonClient.builder().securityFromEnvironment(Map.of("BATON_TOKEN", "two words")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BATON_TOKEN");
        assertThatThrownBy(() -> BatonClient.builder().securityFromEnvironment(Map.of("BATON_TOKEN_FILE", "/no/token")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("/no/token");
    }
}
