package dev.baton.server.line;

import dev.baton.server.node.ApiServer;
import dev.baton.server.metrics.BatonMetrics;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code --line-allow}: poolcounterd's protocol has no authentication, so port 7531 refuses
 * client networks that are not listed, before they can send a line, and counts them.
 */
class LineAllowListTest {
    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    @Test
    void blocksMatchTheirPrefixOnlyAndIpv4MappedAddressesMatchIpv4Blocks() throws Exception {
        AddressAllowList a = AddressAllowList.parse("10.0.0.0/8, 192.168.1.7,fd00::/8,172.16.0.0/12", "--line-allow");
        assertThat(a.allows(ip("10.200.3.4"))).isTrue();
        assertThat(a.allows(ip("11.0.0.1"))).isFalse();
        assertThat(a.allows(ip("192.168.1.7"))).isTrue();
        assertThat(a.allows(ip("192.168.1.8"))).isFalse();
        assertThat(a.allows(ip("172.31.255.255"))).isTrue(); // /12 ends at 172.31
        assertThat(a.allows(ip("172.32.0.0"))).isFalse();
        assertThat(a.allows(ip("fd12:3456::1"))).isTrue();
        assertThat(a.allows(ip("fe80::1"))).isFalse();
        assertThat(a.allows(ip("::ffff:10.1.2.3"))).as("IPv4-mapped").isTrue();
        assertThat(a.allows(ip("::ffff:11.1.2.3"))).isFalse();
        assertThat(a.allows(ip("127.0.0.1"))).isFalse();
        assertThat(a.allows(null)).isFalse();
        assertThat(AddressAllowList.parse("0.0.0.0/0", "x").allows(ip("8.8.8.8"))).isTrue();
        assertThat(AddressAllowList.parse("", "x").allowsAll()).isTrue();
        assertThat(AddressAllowList.parse(null, "x").allows(ip("8.8.8.8"))).isTrue();
    }

    @Test
    void aBadEntryIsAnErrorThatNamesTheOptionAndTheEntry() {
        assertThatThrownBy(() -> AddressAllowList.parse("10.0.0.0/33", "--line-allow"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--line-allow").hasMessageContaining("10.0.0.0/33");
        assertThatThrownBy(() -> AddressAllowList.parse("10.0.0.0/8,app-servers.example", "--line-allow"))
                .hasMessageContaining("--line-allow").hasMessageContaining("app-servers.example");
        assertThatThrownBy(() -> AddressAllowList.parse("10.0.0.0/x", "--line-allow")).hasMessageContaining("10.0.0.0/x");
        assertThatThrownBy(() -> AddressAllowList.parse("1234", "--line-allow")).hasMessageContaining("1234");
        assertThatThrownBy(() -> AddressAllowList.parse(" , ", "--line-allow")).hasMessageContaining("no network");
    }

    @Test
    void aConnectionFromAnotherNetworkIsAnsweredNotAllowedClosedAndCounted() throws Exception {
        ApiServer server = LineProtocolTest.startServer(Files.createTempDirectory("baton-line-allow"),
                LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0)
                        .withAllow(AddressAllowList.parse("127.0.0.1/32", "--line-allow")));
        try {
            LineDoor door = server.lineDoor();
            try (LineClient outsider = new LineClient("127.0.0.1", door.port(), "127.0.0.2")) {
                assertThat(outsider.read()).isEqualTo("ERROR NOT_ALLOWED");
                assertThat(outsider.closedByServer()).isTrue();
            }
            try (LineClient member = new LineClient(door.port())) {
                assertThat(member.call("ACQ4ME allow-key 1 1 0")).isEqualTo("LOCKED");
                assertThat(member.call("STATS connect_errors")).isEqualTo("connect_errors: 1");
                assertThat(member.call("RELEASE")).isEqualTo("RELEASED");
            }
            assertThat(door.refusedNotAllowed()).isEqualTo(1);
            String scrape = new BatonMetrics(server.node(), "n1", BatonMetrics.Limits.DEFAULTS, () -> door).registry().scrape();
            assertThat(scrape).containsPattern(
                    "baton_line_connections_refused_total\\{node=\"n1\",reason=\"not_allowed\",?} 1\\.0");
        } finally {
            server.close();
        }
    }
}
