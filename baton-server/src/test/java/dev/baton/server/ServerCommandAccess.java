package dev.baton.server;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Runs {@code baton server <args>} in this JVM (for tests in other packages too). */
public final class ServerCommandAccess {
    private ServerCommandAccess() {}

    public static int run(String... args) {
        return ServerCommand.commandLine(args).execute(args);
    }

    /** The exit code of a {@code baton server} that refused to start, and what it printed to stderr. */
    public record Run(int code, String err) {}

    /**
     * Runs {@code baton server <args>} in this JVM and captures its stderr; only for starts that are
     * to be refused before anything serves. A node that starts instead would serve until stopped: the
     * call then fails after 60 s rather than hang the build. One at a time (stderr is the JVM's).
     */
    public static Run refusedStart(String... args) {
        return assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            synchronized (ServerCommandAccess.class) {
                PrintStream err = System.err;
                ByteArrayOutputStream e = new ByteArrayOutputStream();
                System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
                try {
                    return new Run(run(args), e.toString(StandardCharsets.UTF_8));
                } finally {
                    System.setErr(err);
                }
            }
        }, "baton server started instead of refusing its options");
    }
}
