package dev.baton.server;

/** Runs the {@code baton} command line in this JVM (for tests in other packages). */
public final class BatonCliAccess {
    private BatonCliAccess() {}

    public static int run(String... args) {
        return BatonCli.commandLine(args).execute(args);
    }
}
