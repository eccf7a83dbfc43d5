package dev.baton.cli;

import dev.baton.server.Durations;
import dev.baton.server.ServerCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.time.Duration;

/**
 * The {@code baton} command: {@code baton server} (a node; its options and start-up are
 * {@link ServerCommand}'s, in the server module) and the commands that talk to running nodes.
 */
@Command(name = "baton", mixinStandardHelpOptions = true, version = "baton 0.1.0-SNAPSHOT",
        description = "Baton: a replicated coordination service.",
        subcommands = {ServerCommand.class, ClientCli.Status.class, ClientCli.Pool.class, ClientCli.Lock.class,
                ClientCli.Dispatch.class, ClientCli.Events.class, ClientCli.Queue.class, ClientCli.Sessions.class,
                ClientCli.Snapshot.class, AdminCli.class, TokenCli.class},
        footer = {"", "Exit codes: 0 done; 1 refused or unreachable; 2 bad usage; 3 done, but not granted"
                + " (an acquire without LOCKED, a claim without items)."})
public final class BatonCli implements Runnable {

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("server")) {
            // A node needs none of the other commands: skip building their command lines (part of
            // the time to ready).
            System.exit(ServerCommand.run(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        System.exit(commandLine(args).execute(args));
    }

    /**
     * The command line, with {@code baton server --config FILE} read as defaults for the server's
     * options, and every {@link Duration} option taking {@code 5s}, {@code 500ms}, ... as well as
     * ISO-8601 ({@link Durations}).
     */
    static CommandLine commandLine(String[] args) {
        CommandLine cl = new CommandLine(new BatonCli());
        cl.registerConverter(Duration.class, new Durations.Of());
        ServerCommand.withConfigFile(cl.getSubcommands().get("server"), args);
        return cl;
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
