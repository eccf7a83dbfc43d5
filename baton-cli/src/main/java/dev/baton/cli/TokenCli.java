package dev.baton.cli;

import com.google.gson.JsonObject;
import dev.baton.server.security.AuthTokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code baton token ...}: bearer tokens for the gRPC API port ({@code baton server --auth-token-file}). */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Bearer tokens for the gRPC API port (baton server --auth-token-file).",
        subcommands = {TokenCli.New.class})
final class TokenCli extends ClientCli.Group {

    @Command(name = "new", mixinStandardHelpOptions = true,
            description = {"Print a new random token on the first line (give it to the client, e.g. in the file of its"
                    + " --token-file), and on the second the line for the server's --auth-token-file (it holds only"
                    + " the token's SHA-256).",
                    "ROLES: a comma list of client (sessions, pools, locks, dispatch, events, queues), read (Admin"
                            + " status and dump) and admin (every Admin method; implies read).",
                    "PREFIXES (optional, client only): a comma list of key prefixes, e.g. enwiki:,dewiki: - the"
                            + " token may then only touch pools, locks, dispatch groups, events and queues whose names"
                            + " start with one of them."})
    static final class New implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "NAME", description = "Who holds the token (shown in refusals and logs).")
        String name;

        @Parameters(index = "1", paramLabel = "ROLES", description = "e.g. client, or read, or client,admin.")
        String roles;

        @Parameters(index = "2", arity = "0..1", paramLabel = "PREFIXES",
                description = "Key prefixes the token is limited to, e.g. enwiki:,dewiki: (default: every key).")
        String prefixes;

        enum Output { text, json }

        @Option(names = {"-o", "--output"}, defaultValue = "text",
                description = "text (the two lines) or json ({\"token\": ..., \"line\": ...}; default: ${DEFAULT-VALUE}).")
        Output output;

        @Override
        public Integer call() {
            String token = AuthTokens.newToken();
            String line;
            try {
                line = AuthTokens.fileLine(token, name, roles, prefixes);
            } catch (IllegalArgumentException e) {
                System.err.println("baton token new: " + e.getMessage());
                return 2;
            }
            if (output == Output.json) {
                JsonObject json = new JsonObject();
                json.addProperty("token", token);
                json.addProperty("line", line);
                System.out.println(CliJson.print(json));
            } else {
                System.out.println(token);
                System.out.println(line);
            }
            return 0;
        }
    }
}
