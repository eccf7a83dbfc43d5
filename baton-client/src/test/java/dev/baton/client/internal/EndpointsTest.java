package dev.baton.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class EndpointsTest {
    @Test
    void addressesWithoutAPortGetTheDefaultOne() {
        assertThat(Endpoints.withDefaultPort("node1", 7530)).isEqualTo("node1:7530");
        assertThat(Endpoints.withDefaultPort(" 10.0.0.1 ", 7530)).isEqualTo("10.0.0.1:7530");
        assertThat(Endpoints.withDefaultPort("node1:7540", 7530)).isEqualTo("node1:7540");
        assertThat(Endpoints.withDefaultPort("[::1]", 7530)).isEqualTo("[::1]:7530");
        assertThat(Endpoints.withDefaultPort("[::1]:7540", 7530)).isEqualTo("[::1]:7540");
        assertThat(Endpoints.withDefaultPort("::1", 7530)).isEqualTo("[::1]:7530");
    }
}
