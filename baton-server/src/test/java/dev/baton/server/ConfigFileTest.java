package dev.baton.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code baton server --config FILE}: values are option defaults, the command line wins, unknown keys are named. */
class ConfigFileTest {

    private static CommandLine server(String... args) {
        CommandLine cl = ServerCommand.commandLine(args);
        cl.parseArgs(args);
        return cl;
    }

    @Test
    void valuesAreDefaultsAndTheCommandLineWins(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("n2.properties");
        Files.writeString(f, "node-id=n2\napi-port=7540\nraft-port=7543\njoin=true\n"
                + "peers=n1=127.0.0.1:7533,n2=127.0.0.1:7543\n");
        CommandLine server = server("--config", f.toString(), "--api-port", "7999");
        ServerCommand s = server.getCommand();
        assertThat(s.nodeId).isEqualTo("n2");
        assertThat(s.apiPort).isEqualTo(7999);
        assertThat(s.raftPort).isEqualTo(7543);
        assertThat(s.join).isTrue();
        assertThat(s.peers).containsExactly("n1=127.0.0.1:7533", "n2=127.0.0.1:7543");
        assertThat(((ConfigFile) server.getCommandSpec().defaultValueProvider()).problem(server.getCommandSpec()))
                .isNull();
    }

    @Test
    void unknownKeysAndAMissingFileAreNamed(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("bad.properties");
        Files.writeString(f, "node-id=n2\napi_port=7540\nconfig=other.properties\n");
        CommandLine server = server("--config", f.toString());
        assertThat(((ConfigFile) server.getCommandSpec().defaultValueProvider()).problem(server.getCommandSpec()))
                .contains("unknown keys api_port, config").contains("api-port");

        CommandLine missing = server("--config", tmp.resolve("nope").toString());
        assertThat(((ConfigFile) missing.getCommandSpec().defaultValueProvider()).problem(missing.getCommandSpec()))
                .contains("nope").contains("no such file");
    }
}
