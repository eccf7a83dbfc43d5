package dev.baton.server;

import dev.baton.client.BatonClient;
import dev.baton.client.BearerToken;
import io.grpc.ClientInterceptor;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * {@code --token-file} of the commands that call a node's gRPC API port: the bearer token for a node
 * with {@code --auth-token-file}. Without the option, the file named by {@value #ENV} is used.
 */
final class CliToken {
    static final String ENV = "BATON_TOKEN_FILE";
    static final String HELP = "File whose first line is the token for a node that requires one (its --auth-token-file;"
            + " baton token new makes one). Default: the file named by the environment variable " + ENV + ", if set.";

    @Option(names = "--token-file", paramLabel = "FILE", description = HELP)
    Path tokenFile;

    CliToken() {
    }

    CliToken(Path tokenFile) {
        this.tokenFile = tokenFile;
    }

    /** The file to read: the option, else the environment variable's, else null. */
    Path file() {
        if (tokenFile != null) {
            return tokenFile;
        }
        String env = System.getenv(ENV);
        return env == null || env.isBlank() ? null : Path.of(env.strip());
    }

    /** The token's interceptor for a raw channel, or null without a token. */
    ClientInterceptor interceptor() {
        Path f = file();
        return f == null ? null : BearerToken.interceptor(BearerToken.readFile(f));
    }

    /** The client builder with the token, if any. */
    BatonClient.Builder apply(BatonClient.Builder b) {
        Path f = file();
        return f == null ? b : b.authTokenFile(f);
    }

    /** What to add to the message of a call refused with {@code code} for its token. */
    String hint(io.grpc.Status.Code code) {
        if (code == io.grpc.Status.Code.UNAUTHENTICATED) {
            return file() == null ? " (give --token-file FILE, or set " + ENV + ")"
                    : " (the token of " + file() + " is not in the node's --auth-token-file)";
        }
        if (code == io.grpc.Status.Code.PERMISSION_DENIED) {
            return " (use a token with that role)";
        }
        return "";
    }
}
