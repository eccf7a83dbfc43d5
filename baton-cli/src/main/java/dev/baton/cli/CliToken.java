package dev.baton.cli;

import dev.baton.client.BatonClient;
import dev.baton.client.BearerToken;
import io.grpc.ClientInterceptor;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * {@code --token-file} of the commands that call a node's gRPC API port: the bearer token for a node
 * with {@code --auth-token-file}. Without the option, the token in the environment variable
 * {@value #TOKEN_ENV} is used, else the file named by {@value #ENV}.
 */
final class CliToken {
    static final String ENV = "BATON_TOKEN_FILE";
    /** The token itself (for scripts and CI secrets that come as variables). */
    static final String TOKEN_ENV = "BATON_TOKEN";
    static final String HELP = "File whose first line is the token for a node that requires one (its --auth-token-file;"
            + " baton token new makes one). Default: the token in the environment variable " + TOKEN_ENV
            + ", else the file named by the environment variable " + ENV + ", if set.";

    @Option(names = "--token-file", paramLabel = "FILE", description = HELP)
    Path tokenFile;

    CliToken() {
    }

    CliToken(Path tokenFile) {
        this.tokenFile = tokenFile;
    }

    /** The file to read: the option, else (without {@value #TOKEN_ENV}) the environment variable's, else null. */
    Path file() {
        if (tokenFile != null) {
            return tokenFile;
        }
        if (tokenFromEnvironment() != null) {
            return null;
        }
        String env = System.getenv(ENV);
        return env == null || env.isBlank() ? null : Path.of(env.strip());
    }

    /** {@value #TOKEN_ENV}'s token, unless {@code --token-file} was given; null if unset or blank. */
    private String tokenFromEnvironment() {
        if (tokenFile != null) {
            return null;
        }
        String token = System.getenv(TOKEN_ENV);
        return token == null || token.isBlank() ? null : token.strip();
    }

    /** The token's interceptor for a raw channel, or null without a token. */
    ClientInterceptor interceptor() {
        String token = tokenFromEnvironment();
        if (token != null) {
            return BearerToken.interceptor(token);
        }
        Path f = file();
        return f == null ? null : BearerToken.interceptor(BearerToken.readFile(f));
    }

    /** The client builder with the token, if any. */
    BatonClient.Builder apply(BatonClient.Builder b) {
        String token = tokenFromEnvironment();
        if (token != null) {
            return b.authToken(token);
        }
        Path f = file();
        return f == null ? b : b.authTokenFile(f);
    }

    /** What to add to the message of a call refused with {@code code} for its token. */
    String hint(io.grpc.Status.Code code) {
        if (code == io.grpc.Status.Code.UNAUTHENTICATED) {
            if (tokenFromEnvironment() != null) {
                return " (the token in " + TOKEN_ENV + " is not in the node's --auth-token-file)";
            }
            return file() == null ? " (give --token-file FILE, or set " + TOKEN_ENV + " or " + ENV + ")"
                    : " (the token of " + file() + " is not in the node's --auth-token-file)";
        }
        if (code == io.grpc.Status.Code.PERMISSION_DENIED) {
            return " (use a token with that role)";
        }
        return "";
    }
}
