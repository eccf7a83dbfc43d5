package dev.baton.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs the {@code baton} command line in this JVM, capturing what it prints (for tests in any package). */
public final class Baton {
    private Baton() {}

    /** The exit code, standard output and standard error of one command. */
    public record Run(int code, String out, String err) {}

    /** Runs {@code baton <args>}; what it prints goes to this process's standard streams. */
    public static int exec(String... args) {
        return BatonCli.commandLine(args).execute(args);
    }

    /** Runs {@code baton <args>}, capturing what it prints. Not thread-safe (System.out and System.err). */
    public static synchronized Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int code = exec(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
