package dev.baton.examples;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code --name value} options with defaults, enough for the examples (and {@code --help}). */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    Args(String[] args, String usage) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--help") || args[i].equals("-h")) {
                System.out.println(usage);
                System.exit(0);
            }
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                System.err.println("bad option " + args[i] + "\n" + usage);
                System.exit(2);
            }
            values.put(args[i].substring(2), args[++i]);
        }
    }

    String get(String name, String dflt) {
        return values.getOrDefault(name, dflt);
    }

    int getInt(String name, int dflt) {
        return Integer.parseInt(get(name, Integer.toString(dflt)));
    }

    List<String> endpoints() {
        return new ArrayList<>(List.of(get("endpoints", "127.0.0.1:7530").split(",")));
    }
}
