package dev.baton.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code baton server --options-from-env}: BATON_FOO_BAR sets --foo-bar; the command line wins over
 * the environment, the environment over --config; a near-miss of an option's variable is named.
 */
class EnvOptionsTest {

    private static CommandLine server(Map<String, String> env, String... args) {
        CommandLine cl = ServerCommand.withConfigFile(new CommandLine(new ServerCommand()), args, env);
        cl.parseArgs(args);
        return cl;
    }

    private static String problem(CommandLine server) {
        return ((EnvOptions) server.getCommandSpec().defaultValueProvider()).problem(server.getCommandSpec());
    }

    @Test
    void variablesSetOptionsOfEveryKind() {
        CommandLine server = server(Map.of("BATON_NODE_ID", "n2", "BATON_API_PORT", "7540",
                "BATON_PEERS", "n1=a:7533,n2=b:7533,n3=c:7533", "BATON_INSECURE", "true",
                "BATON_SESSION_TTL", "5s", "BATON_DATA_DIR", "/var/lib/baton", "BATON_LINE_ALLOW", "",
                "BATON_CLUSTER_SECRET", "not an option, read by the node itself", "PATH", "/bin"),
                EnvOptions.FLAG);
        ServerCommand s = server.getCommand();
        assertThat(s.nodeId).isEqualTo("n2");
        assertThat(s.apiPort).isEqualTo(7540);
        assertThat(s.peers).containsExactly("n1=a:7533", "n2=b:7533", "n3=c:7533");
        assertThat(s.insecure).isTrue();
        assertThat(s.sessionTtlMs).isEqualTo(5000);
        assertThat(s.dataDir).isEqualTo(Path.of("/var/lib/baton"));
        assertThat(s.lineAllow).as("an empty variable counts as unset").isNull();
        assertThat(s.raftPort).isEqualTo(7533);
        assertThat(problem(server)).isNull();
    }

    @Test
    void theCommandLineWinsOverTheEnvironmentWhichWinsOverTheConfigFile(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("node.properties");
        Files.writeString(f, "node-id=from-file\napi-port=7600\nraft-port=7603\n");
        CommandLine server = server(Map.of("BATON_API_PORT", "7540", "BATON_RAFT_PORT", "7543"),
                "--config", f.toString(), EnvOptions.FLAG, "--raft-port", "7999");
        ServerCommand s = server.getCommand();
        assertThat(s.nodeId).isEqualTo("from-file");
        assertThat(s.apiPort).isEqualTo(7540);
        assertThat(s.raftPort).isEqualTo(7999);
        assertThat(problem(server)).isNull();
    }

    @Test
    void withoutTheFlagTheEnvironmentIsNotRead() {
        // The client's BATON_TLS_CA_FILE, set in a shell for the CLI, must not configure a node.
        CommandLine server = server(Map.of("BATON_NODE_ID", "n2", "BATON_TLS_CA_FILE", "ca.pem"));
        ServerCommand s = server.getCommand();
        assertThat(s.nodeId).isEqualTo("n1");
        assertThat(s.tlsCaFile).isNull();
        assertThat(server.getCommandSpec().defaultValueProvider() instanceof EnvOptions).isFalse();
    }

    @Test
    void aVariableOneTypoFromAnOptionIsNamedOthersAreLeftAlone(@TempDir Path tmp) throws Exception {
        CommandLine server = server(Map.of("BATON_NODEID", "n2", "BATON_PEER", "n1=a:7533",
                "BATON_API_PROT", "7540", "BATON_CONFIG", "/etc/baton.properties",
                "BATON_JAVA_OPTS", "-Xmx1g", "BATON_TOKEN", "t", "BATON_HOME", "/opt/baton"), EnvOptions.FLAG);
        assertThat(problem(server))
                .contains("BATON_NODEID (did you mean BATON_NODE_ID, --node-id?)")
                .contains("BATON_PEER (did you mean BATON_PEERS, --peers?)")
                .contains("BATON_API_PROT (did you mean BATON_API_PORT, --api-port?)")
                .contains("BATON_CONFIG (--config is read from the command line only)")
                .doesNotContain("JAVA_OPTS").doesNotContain("BATON_TOKEN").doesNotContain("BATON_HOME");
        assertThat(((ServerCommand) server.getCommand()).call()).as("refuses to start").isEqualTo(2);

        Path f = tmp.resolve("bad.properties");
        Files.writeString(f, "api_port=7540\n");
        assertThat(problem(server(Map.of(), "--config", f.toString(), EnvOptions.FLAG)))
                .contains("unknown key api_port");
    }

    @Test
    void everyConfigurableOptionHasItsVariable() {
        assertThat(EnvOptions.variable("--line-max-connections-per-address"))
                .isEqualTo("BATON_LINE_MAX_CONNECTIONS_PER_ADDRESS");
        assertThat(EnvOptions.oneTypoApart("BATON_HOME", "BATON_HOST")).isFalse();
        assertThat(EnvOptions.oneTypoApart("BATON_LIMITS", "BATON_LIMIT")).isTrue();
        assertThat(EnvOptions.oneTypoApart("BATON_CLUSTER_SECRET", "BATON_CLUSTER_SECRET_FILE")).isFalse();
    }
}
