package dev.baton.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The release's conf/baton.properties and sample configurations against {@code baton server}'s
 * options: every option listed (an option added to {@link ServerCommand} without a line there fails
 * here), and every file, its sample values uncommented, accepted by {@code --config}.
 */
class ShippedConfigTest {
    private static final Path DIST = Path.of("src/main/dist");
    private static final Path SHIPPED = DIST.resolve("conf/baton.properties");
    /** A commented option line: {@code #key=value}, no space after the '#' (prose lines have one). */
    private static final Pattern OPTION_LINE = Pattern.compile("^#([a-z][a-z0-9-]*)=(.*)$");
    /** Options that are no defaults: {@link ConfigFile} refuses them as keys. */
    private static final Set<String> NOT_IN_FILE = Set.of("config", "help", "version", "options-from-env", "restore");

    private static Set<String> serverOptionKeys() {
        Set<String> keys = new TreeSet<>();
        for (OptionSpec o : new CommandLine(new ServerCommand()).getCommandSpec().options()) {
            String key = o.longestName().replaceFirst("^-+", "");
            if (!NOT_IN_FILE.contains(key)) {
                keys.add(key);
            }
        }
        return keys;
    }

    /** The file's commented option lines, key to value, in order. */
    private static Map<String, String> commentedOptions(Path file) throws IOException {
        Map<String, String> options = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file)) {
            Matcher m = OPTION_LINE.matcher(line);
            if (m.matches()) {
                assertThat(options.put(m.group(1), m.group(2))).as("%s lists %s twice", file, m.group(1)).isNull();
            }
        }
        return options;
    }

    @Test
    void listsEveryServerOptionWithADescription() throws IOException {
        Map<String, String> listed = commentedOptions(SHIPPED);
        assertThat(listed.keySet()).as("options in %s (add a commented line with its default and meaning for"
                + " each new option of baton server)", SHIPPED).containsExactlyInAnyOrderElementsOf(serverOptionKeys());
        // Each option line follows a line of prose that says what the option does.
        List<String> lines = Files.readAllLines(SHIPPED);
        for (int i = 0; i < lines.size(); i++) {
            if (OPTION_LINE.matcher(lines.get(i)).matches()) {
                assertThat(i > 0 && lines.get(i - 1).startsWith("# ") && lines.get(i - 1).length() > 10)
                        .as("line %d of %s (%s) has a line of meaning above it", i + 1, SHIPPED, lines.get(i)).isTrue();
            }
        }
    }

    @Test
    void everyValueOfTheShippedFileIsAccepted(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("all.properties");
        List<String> uncommented = new ArrayList<>();
        commentedOptions(SHIPPED).forEach((k, v) -> uncommented.add(k + "=" + v));
        Files.write(file, uncommented);
        assertAccepted(file);
        // As shipped (all commented out) it changes nothing.
        assertAccepted(SHIPPED);
    }

    @Test
    void theThreeHostSamplesAreAccepted(@TempDir Path dir) throws IOException {
        List<Path> samples;
        try (Stream<Path> s = Files.list(DIST.resolve("samples/three-hosts"))) {
            samples = s.filter(p -> p.toString().endsWith(".properties")).sorted().toList();
        }
        assertThat(samples).hasSize(3);
        for (Path sample : samples) {
            assertAccepted(sample);
            Path withPorts = dir.resolve(sample.getFileName());
            List<String> lines = new ArrayList<>(Files.readAllLines(sample));
            commentedOptions(sample).forEach((k, v) -> lines.add(k + "=" + v));
            Files.write(withPorts, lines);
            assertAccepted(withPorts);
        }
    }

    /** {@code baton server --config file} finds no unknown key and converts every value. */
    private static void assertAccepted(Path file) {
        String[] args = {"--config", file.toString()};
        CommandLine cl = ServerCommand.commandLine(args);
        cl.parseArgs(args); // a value that does not convert throws here
        assertThat(((ConfigFile) cl.getCommandSpec().defaultValueProvider()).problem(cl.getCommandSpec()))
                .as("%s as --config", file).isNull();
    }
}
