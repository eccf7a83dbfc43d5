package dev.baton.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code baton NAME ...} built with only NAME ({@link BatonCli#clientCommandLine}) is the full command's NAME. */
class ClientCommandLineTest {

    @Test
    void everySubcommandButServerIsAClientCommandOfTheSameClass() {
        Map<String, Class<?>> full = new TreeMap<>();
        BatonCli.commandLine(new String[0]).getSubcommands().forEach((name, sub) -> {
            if (!name.equals("server")) {
                full.put(name, sub.getCommand().getClass());
            }
        });
        Map<String, Class<?>> lean = new TreeMap<>();
        BatonCli.CLIENT_COMMANDS.forEach((name, make) -> lean.put(name, make.get().getClass()));
        assertThat(lean).isEqualTo(full);
    }

    @Test
    void aClientCommandAloneHasTheSameHelpAndParsing() {
        for (String name : BatonCli.CLIENT_COMMANDS.keySet()) {
            CommandLine alone = BatonCli.clientCommandLine(name).getSubcommands().get(name);
            CommandLine full = BatonCli.commandLine(new String[0]).getSubcommands().get(name);
            assertThat(usage(alone)).as(name).isEqualTo(usage(full));
        }
        CommandLine cl = BatonCli.clientCommandLine("lock");
        CommandLine.ParseResult r = cl.parseArgs("lock", "acquire", "m", "--wait", "5s", "-e", "10.0.0.1:7530");
        java.time.Duration wait = r.subcommand().subcommand().matchedOptionValue("--wait", null);
        assertThat(wait).isEqualTo(java.time.Duration.ofSeconds(5));
    }

    private static String usage(CommandLine cl) {
        StringWriter out = new StringWriter();
        cl.usage(new PrintWriter(out));
        StringBuilder all = new StringBuilder(out.toString());
        cl.getSubcommands().values().forEach(sub -> all.append(usage(sub)));
        return all.toString();
    }
}
