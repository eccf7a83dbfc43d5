package dev.baton.server;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code baton} command. */
@Command(name = "baton", mixinStandardHelpOptions = true, version = "baton 0.1.0-SNAPSHOT",
        description = "Baton: a replicated coordination service.",
        subcommands = {BatonCli.Server.class})
public final class BatonCli implements Runnable {

    public static void main(String[] args) {
        System.exit(new CommandLine(new BatonCli()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    @Command(name = "server", mixinStandardHelpOptions = true,
            description = "Start a Baton node (single node by default, data in ./baton-data).")
    static final class Server implements java.util.concurrent.Callable<Integer> {
        @Override
        public Integer call() {
            System.err.println("baton server: the replicated server is not built yet (issue 3: SOFAJRaft host, gRPC API)."
                    + " The coordination core (baton-core) is in place and tested.");
            return 2;
        }
    }
}
