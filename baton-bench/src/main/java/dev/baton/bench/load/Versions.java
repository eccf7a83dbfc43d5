package dev.baton.bench.load;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** Versions of the contenders' client libraries, as built (Maven fills in {@code versions.properties}). */
public final class Versions {
    private static final Properties BUILT = load();

    private Versions() {}

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = Versions.class.getResourceAsStream("versions.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** {@code jedis}, {@code curator}, {@code zookeeper} (the client), {@code jetcd}; or {@code ?}. */
    public static String of(String library) {
        String v = BUILT.getProperty(library, "?");
        return v.startsWith("${") ? "?" : v;
    }
}
