package dev.baton.bench.cluster;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line of a benchmark's server: the JVM users run. */
class ServerProcessesTest {
    /** The release's JVM flags, as bin/baton reads them: one per line, '#' starts a comment. */
    private static List<String> shippedFlags() throws IOException {
        Path file = Path.of(System.getProperty("basedir", "."))
                .resolve("../baton-dist/src/main/dist/conf/jvm.options").normalize();
        List<String> flags = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            int hash = line.indexOf('#');
            String flag = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (!flag.isEmpty()) {
                flags.add(flag);
            }
        }
        return flags;
    }

    @Test
    void aNodeByDefaultRunsWithTheFlagsOfTheRelease() throws IOException {
        List<String> shipped = shippedFlags();
        assertThat(shipped).contains("-Xmx1g", "-XX:+UseTransparentHugePages"); // the file was read

        try (ServerProcesses servers = new ServerProcesses(1, "baton.jar", ServerProcesses.SHIPPED_JVM, "")) {
            List<String> command = servers.command(servers.nodes().get(0));
            List<String> jvm = command.subList(1, command.indexOf("-cp"));

            assertThat(jvm).filteredOn(f -> !f.startsWith("-Djava.io.tmpdir="))
                    .containsExactlyInAnyOrderElementsOf(shipped);
        }
    }

    @Test
    void flagsGivenByHandReplaceTheDefaultOnesAndNameTheNode() throws IOException {
        try (ServerProcesses servers = new ServerProcesses(2, "baton.jar", "-Xmx256m -Dnode={id}", "")) {
            List<String> command = servers.command(servers.nodes().get(1));

            assertThat(command).contains("-Xmx256m", "-Dnode=n2", "-XX:+ExitOnOutOfMemoryError")
                    .doesNotContain("-Xmx1g", "-XX:+UseTransparentHugePages");
        }
    }
}
