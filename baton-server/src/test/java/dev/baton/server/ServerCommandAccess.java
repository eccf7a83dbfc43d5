package dev.baton.server;

/** Runs {@code baton server <args>} in this JVM (for tests in other packages). */
public final class ServerCommandAccess {
    private ServerCommandAccess() {}

    public static int run(String... args) {
        return ServerCommand.commandLine(args).execute(args);
    }
}
