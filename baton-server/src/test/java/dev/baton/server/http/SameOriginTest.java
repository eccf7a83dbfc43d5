package dev.baton.server.http;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The same-origin rule for writes, header by header (the HTTP behaviour is in HttpBoundsTest). */
class SameOriginTest {
    private static boolean allowed(String type, String baton, String site, String origin, String host) {
        return SameOrigin.refusal(type, baton, site, origin, host).isEmpty();
    }

    @Test
    void aWriteNeedsAJsonTypeOrTheBatonHeader() {
        assertThat(allowed("application/json", null, null, null, "h:7532")).isTrue();
        assertThat(allowed("Application/JSON; charset=utf-8", null, null, null, "h:7532")).isTrue();
        assertThat(allowed(null, "dashboard", null, null, "h:7532")).isTrue();
        assertThat(allowed(null, null, null, null, "h:7532")).isFalse();
        assertThat(allowed(null, " ", null, null, "h:7532")).isFalse();
        assertThat(allowed("text/plain", null, null, null, "h:7532")).isFalse();
        assertThat(allowed("application/x-www-form-urlencoded", null, null, null, "h:7532")).isFalse();
        assertThat(allowed("multipart/form-data; boundary=x", null, null, null, "h:7532")).isFalse();
        assertThat(allowed("application/jsonx", null, null, null, "h:7532")).isFalse();
        assertThat(SameOrigin.isCrossOrigin(SameOrigin.refusal("text/plain", null, null, null, "h").get())).isFalse();
    }

    @Test
    void secFetchSiteMustBeSameOrigin() {
        assertThat(allowed(null, "1", "same-origin", null, "h:7532")).isTrue();
        assertThat(allowed(null, "1", "none", null, "h:7532")).isTrue();
        assertThat(allowed(null, "1", "same-site", null, "h:7532")).isFalse();
        assertThat(allowed(null, "1", "cross-site", null, "h:7532")).isFalse();
        assertThat(SameOrigin.isCrossOrigin(SameOrigin.refusal(null, "1", "cross-site", null, "h").get())).isTrue();
    }

    @Test
    void originMustNameTheHostAndPortOfTheRequest() {
        assertThat(SameOrigin.sameHost("http://127.0.0.1:7532", "127.0.0.1:7532")).isTrue();
        assertThat(SameOrigin.sameHost("http://Baton.Example:7532", "baton.example:7532")).isTrue();
        assertThat(SameOrigin.sameHost("http://baton.example", "baton.example:80")).isTrue();
        assertThat(SameOrigin.sameHost("http://baton.example:80", "baton.example")).isTrue();
        assertThat(SameOrigin.sameHost("https://baton.example", "baton.example")).as("behind a TLS proxy").isTrue();
        assertThat(SameOrigin.sameHost("http://[::1]:7532", "[::1]:7532")).isTrue();
        assertThat(SameOrigin.sameHost("http://127.0.0.1:7533", "127.0.0.1:7532")).isFalse();
        assertThat(SameOrigin.sameHost("http://evil.example", "127.0.0.1:7532")).isFalse();
        assertThat(SameOrigin.sameHost("http://127.0.0.1.evil.example:7532", "127.0.0.1:7532")).isFalse();
        assertThat(SameOrigin.sameHost("null", "127.0.0.1:7532")).isFalse();
        assertThat(SameOrigin.sameHost("http://127.0.0.1:7532", null)).isFalse();
        assertThat(SameOrigin.sameHost("not a uri", "127.0.0.1:7532")).isFalse();
        assertThat(allowed("application/json", null, null, "http://evil.example", "127.0.0.1:7532")).isFalse();
    }
}
