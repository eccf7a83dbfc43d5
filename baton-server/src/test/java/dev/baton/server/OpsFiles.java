package dev.baton.server;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The monitoring files shipped under {@code ops/} at the repository's root: the Grafana dashboard
 * and the Prometheus alert rules (with their rule tests), and the metric names they use.
 */
public final class OpsFiles {
    /** Metric names of Baton and of Micrometer's JVM and process binders as they appear in PromQL. */
    private static final Pattern METRIC = Pattern.compile("\\b((?:baton|jvm|process|system)_[a-z0-9_]+)\\b");

    private OpsFiles() {}

    /** The repository's {@code ops} directory, found upwards from the working directory (a module's). */
    public static Path dir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("ops/prometheus")) && Files.isDirectory(p.resolve("ops/grafana"))) {
                return p.resolve("ops");
            }
        }
        throw new IllegalStateException("no ops/ directory above " + Path.of("").toAbsolutePath());
    }

    public static Path dashboard() {
        return dir().resolve("grafana/baton-dashboard.json");
    }

    public static Path alerts() {
        return dir().resolve("prometheus/baton-alerts.yml");
    }

    public static Path alertTests() {
        return dir().resolve("prometheus/baton-alerts.test.yml");
    }

    public static JsonObject dashboardJson() throws IOException {
        return JsonParser.parseString(Files.readString(dashboard())).getAsJsonObject();
    }

    /** Every panel of the dashboard, those inside collapsed rows included. */
    public static List<JsonObject> panels(JsonObject dashboard) {
        List<JsonObject> out = new ArrayList<>();
        for (JsonElement e : dashboard.getAsJsonArray("panels")) {
            JsonObject p = e.getAsJsonObject();
            out.add(p);
            if (p.has("panels")) {
                p.getAsJsonArray("panels").forEach(inner -> out.add(inner.getAsJsonObject()));
            }
        }
        return out;
    }

    /** The PromQL of every panel's targets. */
    public static List<String> dashboardExprs(JsonObject dashboard) {
        List<String> out = new ArrayList<>();
        for (JsonObject p : panels(dashboard)) {
            if (p.has("targets")) {
                for (JsonElement t : p.getAsJsonArray("targets")) {
                    out.add(t.getAsJsonObject().get("expr").getAsString());
                }
            }
        }
        return out;
    }

    /** The metric names in {@code text} (PromQL, a rules file, the dashboard's script). */
    public static Set<String> metricNames(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** The names of the samples in a Prometheus text exposition ({@code name_bucket}, {@code name_total}, ...). */
    public static Set<String> sampleNames(String exposition) {
        Set<String> out = new TreeSet<>();
        for (String line : exposition.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int end = 0;
            while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
                end++;
            }
            out.add(line.substring(0, end));
        }
        return out;
    }

    /**
     * Whether {@code name} is exported: a sample name, or a histogram's or summary's family name
     * (as the dashboard's script writes {@code baton_pool_key_wait_seconds} and adds {@code _bucket}).
     */
    public static boolean exported(String name, Set<String> samples) {
        return samples.contains(name) || samples.contains(name + "_bucket") || samples.contains(name + "_count");
    }
}
