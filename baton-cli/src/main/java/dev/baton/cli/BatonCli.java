package dev.baton.cli;

import dev.baton.server.Durations;
import dev.baton.server.ServerCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;

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
        if (args.length == 1 && args[0].equals(ArchiveTraining.COMMAND)) {
            int code;
            try {
                code = ArchiveTraining.run();
            } catch (java.io.IOException e) {
                code = 1;
            }
            System.exit(code);
        }
        CommandLine cl = args.length > 0 && CLIENT_COMMANDS.containsKey(args[0])
                ? clientCommandLine(args[0]) : commandLine(args);
        System.exit(cl.execute(args));
    }

    /**
     * The subcommands that talk to nodes, by name, as in {@code subcommands} above but {@code server}.
     * {@code baton status ...} builds the model of {@code status} only: picocli reads the annotations
     * of every subcommand it is given, which was a quarter of a client command's start-up.
     */
    static final Map<String, Supplier<Object>> CLIENT_COMMANDS = Map.ofEntries(
            Map.entry("status", ClientCli.Status::new),
            Map.entry("pool", ClientCli.Pool::new),
            Map.entry("lock", ClientCli.Lock::new),
            Map.entry("dispatch", ClientCli.Dispatch::new),
            Map.entry("events", ClientCli.Events::new),
            Map.entry("queue", ClientCli.Queue::new),
            Map.entry("sessions", ClientCli.Sessions::new),
            Map.entry("snapshot", ClientCli.Snapshot::new),
            Map.entry("admin", AdminCli::new),
            Map.entry("token", TokenCli::new));

    /** The command line of {@code baton NAME ...} with only that subcommand, NAME a key of {@link #CLIENT_COMMANDS}. */
    static CommandLine clientCommandLine(String name) {
        CommandLine cl = new CommandLine(new OneCommand());
        cl.addSubcommand(name, CLIENT_COMMANDS.get(name).get());
        cl.registerConverter(Duration.class, new Durations.Of());
        return cl;
    }

    /** {@code baton} with a single subcommand, added by {@link #clientCommandLine}. */
    @Command(name = "baton", mixinStandardHelpOptions = true, version = "baton 0.1.0-SNAPSHOT",
            description = "Baton: a replicated coordination service.")
    static final class OneCommand implements Runnable {
        @Override
        public void run() {
            new CommandLine(new BatonCli()).usage(System.out);
        }
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
