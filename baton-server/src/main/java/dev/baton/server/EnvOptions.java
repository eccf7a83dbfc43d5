package dev.baton.server;

import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code baton server --options-from-env}: every option that is not on the command line is read
 * from the environment variable {@code BATON_} + its long name in upper case with underscores
 * ({@code --node-id} from {@code BATON_NODE_ID}, {@code --insecure} from {@code BATON_INSECURE=true}),
 * else from the {@code --config} file, else it keeps its built-in default. An empty variable counts
 * as unset.
 *
 * <p>Opt-in, because some names are also the client's variables ({@code BATON_TLS_CA_FILE},
 * {@code BATON_TLS_CERT_FILE}, ...: a shell set up for the CLI must not turn a node started from it
 * into a TLS server). Other {@code BATON_*} variables (the launcher's, the client's,
 * {@code BATON_CLUSTER_SECRET}) are left alone, but one that is one typo away from an option's
 * variable ({@code BATON_NODEID}, {@code BATON_PEER}, {@code BATON_API_PROT}) is a {@link #problem}:
 * a misspelt {@code BATON_PEERS} would otherwise start a single-node cluster.
 */
final class EnvOptions implements CommandLine.IDefaultValueProvider {
    static final String FLAG = "--options-from-env";
    static final String PREFIX = "BATON_";
    /**
     * Options that cannot come from the environment: they are read before it, or mean nothing there.
     * {@code restore} is a one-off: a container restarted with it would fail at every start after the
     * first, on the data directory the first one filled.
     */
    private static final Set<String> NOT_CONFIGURABLE =
            Set.of("config", "help", "version", "options-from-env", "restore");

    private final Map<String, String> env;
    /** The {@code --config} file's values, below the environment's; null without one. */
    private final CommandLine.IDefaultValueProvider below;

    EnvOptions(Map<String, String> env, CommandLine.IDefaultValueProvider below) {
        this.env = Map.copyOf(env);
        this.below = below;
    }

    /** The environment variable of the option {@code --name}: {@code BATON_NAME} ({@code -} becomes {@code _}). */
    static String variable(String longName) {
        return PREFIX + longName.replaceFirst("^-+", "").replace('-', '_').toUpperCase(java.util.Locale.ROOT);
    }

    @Override
    public String defaultValue(ArgSpec arg) throws Exception {
        if (arg instanceof OptionSpec option && !NOT_CONFIGURABLE.contains(name(option))) {
            String value = env.get(variable(option.longestName()));
            if (value != null && !value.isEmpty()) {
                return value;
            }
        }
        return below == null ? null : below.defaultValue(arg);
    }

    private static String name(OptionSpec option) {
        return option.longestName().replaceFirst("^-+", "");
    }

    /** What is wrong with the {@code --config} file or the environment for {@code command}, or null if nothing. */
    String problem(CommandSpec command) {
        if (below instanceof ConfigFile file) {
            String problem = file.problem(command);
            if (problem != null) {
                return problem;
            }
        }
        Map<String, String> byVariable = new TreeMap<>();
        for (OptionSpec o : command.options()) {
            if (!NOT_CONFIGURABLE.contains(name(o))) {
                byVariable.put(variable(o.longestName()), o.longestName());
            }
        }
        List<String> problems = new ArrayList<>();
        for (String v : new TreeMap<>(env).keySet()) {
            if (!v.startsWith(PREFIX) || byVariable.containsKey(v)) {
                continue;
            }
            for (String excluded : NOT_CONFIGURABLE) {
                if (v.equals(variable(excluded))) {
                    problems.add(v + " (--" + excluded + " is read from the command line only)");
                }
            }
            for (Map.Entry<String, String> option : byVariable.entrySet()) {
                if (oneTypoApart(v, option.getKey())) {
                    problems.add(v + " (did you mean " + option.getKey() + ", " + option.getValue() + "?)");
                    break;
                }
            }
        }
        return problems.isEmpty() ? null : FLAG + ": " + String.join("; ", problems);
    }

    /**
     * Whether {@code a} and {@code b} differ only in underscores, or, underscores dropped, by one
     * inserted, deleted, replaced or two swapped neighbouring letters.
     */
    static boolean oneTypoApart(String a, String b) {
        String x = a.substring(PREFIX.length()).replace("_", "");
        String y = b.substring(PREFIX.length()).replace("_", "");
        if (x.equals(y)) {
            return true;
        }
        if (Math.abs(x.length() - y.length()) > 1) {
            return false;
        }
        int i = 0;
        while (i < Math.min(x.length(), y.length()) && x.charAt(i) == y.charAt(i)) {
            i++;
        }
        if (x.length() == y.length()) {
            // One replaced letter, or two neighbours swapped.
            return x.substring(i + 1).equals(y.substring(i + 1))
                    || (i + 1 < x.length() && x.charAt(i) == y.charAt(i + 1) && x.charAt(i + 1) == y.charAt(i)
                            && x.substring(i + 2).equals(y.substring(i + 2)));
        }
        // One letter more in the longer one.
        return x.length() > y.length() ? x.substring(i + 1).equals(y.substring(i))
                : y.substring(i + 1).equals(x.substring(i));
    }
}
