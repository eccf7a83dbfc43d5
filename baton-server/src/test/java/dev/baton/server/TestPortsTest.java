package dev.baton.server;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The test JVMs' port blocks stay clear of the kernel's ephemeral range and of each other. */
class TestPortsTest {

    @Test
    void eachForkHasItsOwnBlockBelowTheEphemeralRange() {
        int[] ephemeral = {32768, 60999};
        int[] one = TestPorts.block("1", ephemeral);
        int[] two = TestPorts.block("2", ephemeral);
        assertThat(one).containsExactly(20_000, 23_000);
        assertThat(two).containsExactly(23_000, 26_000);
        assertThat(TestPorts.block("4", ephemeral)[1]).isLessThanOrEqualTo(ephemeral[0]);
    }

    @Test
    void noBlockWithoutAForkNumberOrWhereTheEphemeralRangeCoversIt() {
        assertThat(TestPorts.block(null, new int[] {32768, 60999})).isNull();
        assertThat(TestPorts.block("", new int[] {32768, 60999})).isNull();
        assertThat(TestPorts.block("x", new int[] {32768, 60999})).isNull();
        assertThat(TestPorts.block("1", null)).isNull();
        assertThat(TestPorts.block("1", new int[] {1024, 65535})).isNull();
        assertThat(TestPorts.block("2", new int[] {22_000, 22_999})).containsExactly(23_000, 26_000);
        assertThat(TestPorts.block("1", new int[] {22_000, 22_999})).isNull();
        assertThat(TestPorts.block("2", new int[] {22_000, 23_000})).as("the range is inclusive").isNull();
    }

    @Test
    void portsAreNotHandedOutTwice() {
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            assertThat(seen.add(TestPorts.free())).isTrue();
        }
    }

    @Test
    void readsTheKernelsEphemeralRange() {
        Assumptions.assumeTrue(java.nio.file.Files.exists(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range")),
                "SKIPPED: not Linux");
        int[] range = TestPorts.ephemeralRange();
        assertThat(range).hasSize(2);
        assertThat(range[0]).isGreaterThan(1023).isLessThan(range[1]);
    }

    /** The pom passes surefire's fork number: the ports then come from this fork's block. */
    @Test
    void underSurefireThePortsComeFromThisForksBlock() {
        String fork = System.getProperty("baton.test.fork");
        Assumptions.assumeTrue(fork != null && !fork.isBlank(), "SKIPPED: no fork number (not run by surefire)");
        int[] block = TestPorts.block(fork, TestPorts.ephemeralRange());
        Assumptions.assumeTrue(block != null, "SKIPPED: the kernel's ephemeral range covers the blocks");
        assertThat(TestPorts.free()).isBetween(block[0], block[1] - 1);
    }
}
