package dev.baton.bench.cluster;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code --name value} and {@code --flag} arguments of the server benchmarks' mains. */
public final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final List<String> known = new ArrayList<>();

    public Args(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + a);
            }
            String name = a.substring(2);
            String value = "true";
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            }
            values.put(name, value);
        }
    }

    public String str(String name, String def) {
        known.add(name);
        return values.getOrDefault(name, def);
    }

    public int integer(String name, int def) {
        return Integer.parseInt(str(name, Integer.toString(def)));
    }

    public long lng(String name, long def) {
        return Long.parseLong(str(name, Long.toString(def)));
    }

    public boolean flag(String name) {
        return Boolean.parseBoolean(str(name, "false"));
    }

    public List<Integer> ints(String name, String def) {
        List<Integer> out = new ArrayList<>();
        for (String s : str(name, def).split(",")) {
            if (!s.isBlank()) {
                out.add(Integer.parseInt(s.trim()));
            }
        }
        return out;
    }

    /** Fails on any argument that no accessor asked for (call after reading all of them). */
    public void checkNoneUnknown() {
        for (String k : values.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("unknown option --" + k + "; known: " + known);
            }
        }
    }
}
