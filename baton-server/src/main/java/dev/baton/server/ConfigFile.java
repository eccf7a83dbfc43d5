package dev.baton.server;

import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code baton server --config FILE}: a properties file whose keys are the long option names
 * without dashes ({@code node-id=n2}), read as defaults for those options (the command line wins).
 * Unlike picocli's own {@code PropertiesDefaultProvider}, a missing file or a key that names no
 * option is an error ({@link #problem}), so a typo such as {@code api_port=7540} does not start a
 * node on the default port.
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {
    /**
     * Options that make no sense as defaults from a file. {@code restore} is a one-off: a file read at
     * every start would make every start after the first fail on the data directory it filled.
     */
    private static final Set<String> NOT_CONFIGURABLE =
            Set.of("config", "help", "version", "options-from-env", "restore");

    private final Path file;
    private final Properties values = new Properties();
    private final String readError;

    ConfigFile(Path file) {
        this.file = file;
        String error = null;
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            values.load(r);
        } catch (IOException | IllegalArgumentException e) {
            error = "--config " + file + ": cannot read it (" + (e instanceof java.nio.file.NoSuchFileException
                    ? "no such file" : e.getMessage()) + ")";
        }
        this.readError = error;
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (readError != null || !(arg instanceof OptionSpec option)) {
            return null;
        }
        return values.getProperty(key(option));
    }

    private static String key(OptionSpec option) {
        return option.longestName().replaceFirst("^-+", "");
    }

    /** What is wrong with the file for {@code command}, or null if nothing. */
    String problem(CommandSpec command) {
        if (readError != null) {
            return readError;
        }
        Set<String> known = new TreeSet<>();
        for (OptionSpec o : command.options()) {
            String k = key(o);
            if (!NOT_CONFIGURABLE.contains(k)) {
                known.add(k);
            }
        }
        List<String> unknown = new ArrayList<>();
        for (String k : values.stringPropertyNames()) {
            if (!known.contains(k)) {
                unknown.add(k);
            }
        }
        if (unknown.isEmpty()) {
            return null;
        }
        unknown.sort(null);
        return "--config " + file + ": unknown key" + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown)
                + " (keys are the long option names without dashes: " + String.join(", ", known) + ")";
    }
}
