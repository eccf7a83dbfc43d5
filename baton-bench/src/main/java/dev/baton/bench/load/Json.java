package dev.baton.bench.load;

import com.google.gson.Gson;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * JSON for the benchmark's result lines: an object writer that keeps field order and formats numbers,
 * and a reader.
 */
public final class Json {
    private Json() {}

    /** Builds one JSON object, fields in the order added. */
    public static final class Obj {
        private final StringBuilder b = new StringBuilder("{");

        private Obj field(String name, String jsonValue) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append(quote(name)).append(':').append(jsonValue);
            return this;
        }

        public Obj str(String name, String value) {
            return field(name, value == null ? "null" : quote(value));
        }

        public Obj num(String name, long value) {
            return field(name, Long.toString(value));
        }

        /** A decimal with {@code decimals} digits after the point (NaN and infinities become null). */
        public Obj num(String name, double value, int decimals) {
            return field(name, Double.isFinite(value) ? String.format(Locale.ROOT, "%." + decimals + "f", value) : "null");
        }

        public Obj bool(String name, boolean value) {
            return field(name, Boolean.toString(value));
        }

        public Obj obj(String name, Obj value) {
            return field(name, value.toString());
        }

        /** String values as an object. */
        public Obj strings(String name, Map<String, String> values) {
            Obj o = new Obj();
            values.forEach(o::str);
            return obj(name, o);
        }

        /** Counts as an object. */
        public Obj counts(String name, Map<String, Long> values) {
            Obj o = new Obj();
            values.forEach(o::num);
            return obj(name, o);
        }

        public Obj strs(String name, List<String> values) {
            List<String> q = new ArrayList<>();
            values.forEach(v -> q.add(quote(v)));
            return field(name, "[" + String.join(",", q) + "]");
        }

        @Override
        public String toString() {
            return b + "}";
        }
    }

    public static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') {
                b.append('\\').append(ch);
            } else if (ch < 0x20) {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
            } else {
                b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    /** Appends one line to a file, creating it and its directory as needed. */
    public static void appendLine(Path file, String line) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    // ---- reading -----------------------------------------------------------------------------------

    /**
     * Parses one JSON object (Gson): nested objects as ordered maps, numbers as {@link Double}, arrays as
     * lists.
     */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object v = new Gson().fromJson(text, Object.class);
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("not a JSON object: " + text);
        }
        return (Map<String, Object>) v;
    }
}
