package dev.baton.cli;

import dev.baton.client.BatonClient;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.okhttp.OkHttpChannelBuilder;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/**
 * {@code --tls-ca-file}, {@code --tls-cert-file} and {@code --tls-key-file} of the commands that
 * call a node's gRPC API port ({@code baton admin ...}, {@code baton pool ...}, ...): the same
 * option names as {@code baton server}'s, meaning the client's side of them.
 */
final class CliTls {
    static final String CA_HELP = "Connect with TLS, verifying the node's certificate against the CA(s) in this PEM"
            + " file (the certificate must name the endpoint's host name or IP address). Default: the file named by the"
            + " environment variable BATON_TLS_CA_FILE, if set; else plaintext.";
    static final String CERT_HELP = "Client certificate (PEM) for a node that requires one (its --tls-client-ca-file);"
            + " needs --tls-ca-file and --tls-key-file. Default: BATON_TLS_CERT_FILE, if set.";
    static final String KEY_HELP = "The key of --tls-cert-file: unencrypted PKCS#8 PEM. Default: BATON_TLS_KEY_FILE, if set.";

    @Option(names = {"--tls-ca-file", "--tls-ca"}, paramLabel = "PEM", defaultValue = "${env:BATON_TLS_CA_FILE}", description = CA_HELP)
    Path caFile;

    @Option(names = {"--tls-cert-file", "--tls-cert"}, paramLabel = "PEM", defaultValue = "${env:BATON_TLS_CERT_FILE}", description = CERT_HELP)
    Path certFile;

    @Option(names = {"--tls-key-file", "--tls-key"}, paramLabel = "PEM", defaultValue = "${env:BATON_TLS_KEY_FILE}", description = KEY_HELP)
    Path keyFile;

    CliTls() {
    }

    CliTls(Path caFile, Path certFile, Path keyFile) {
        this.caFile = caFile;
        this.certFile = certFile;
        this.keyFile = keyFile;
    }

    /** Checks the options go together. */
    void check() {
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException(certFile == null ? "--tls-key-file needs --tls-cert-file"
                    : "--tls-cert-file needs --tls-key-file");
        }
        if (certFile != null && caFile == null) {
            throw new IllegalArgumentException("--tls-cert-file needs --tls-ca-file (the CA to verify the node with)");
        }
    }

    boolean enabled() {
        return caFile != null;
    }

    /** The client builder with these options: its channels are {@link #channelBuilder}'s. */
    BatonClient.Builder apply(BatonClient.Builder b) {
        ChannelCredentials credentials = credentials();
        // Not directExecutor, unlike the client's own Netty channels: OkHttp runs a direct executor's
        // callbacks while holding its stream's lock, which the client's own sends need too; a stream
        // that ended as another thread started it deadlocked a CLI command that way.
        return b.channelFactory(address -> channelBuilder(address, credentials)
                .maxInboundMessageSize(256 << 20)
                .build());
    }

    /** A channel to {@code endpoint} with these options. */
    ManagedChannel channel(String endpoint) {
        return channel(endpoint, null);
    }

    /** A channel to {@code endpoint} with these options, {@code interceptor} (may be null) on every call. */
    ManagedChannel channel(String endpoint, io.grpc.ClientInterceptor interceptor) {
        ManagedChannelBuilder<?> b = channelBuilder(endpoint, credentials());
        if (interceptor != null) {
            b.intercept(interceptor);
        }
        return b.build();
    }

    private ChannelCredentials credentials() {
        check();
        if (caFile == null) {
            return InsecureChannelCredentials.create();
        }
        TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
        try {
            b.trustManager(caFile.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("--tls-ca-file " + caFile + ": cannot read it (" + e + ")", e);
        }
        if (certFile != null) {
            try {
                b.keyManager(certFile.toFile(), keyFile.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException("--tls-cert-file " + certFile + " / --tls-key-file " + keyFile
                        + ": cannot read them (" + e + ")", e);
            }
        }
        return b.build();
    }

    /**
     * gRPC over OkHttp's HTTP/2 framing on a plain socket (the JDK's TLS when enabled), not over
     * Netty as the server and the Java client: a command runs for a fraction of a second, and
     * Netty's event loops, buffer pools and their classes were a third of the time of a
     * {@code baton status} (BENCHMARKS.md, "Start-up").
     */
    private static ManagedChannelBuilder<?> channelBuilder(String endpoint, ChannelCredentials credentials) {
        try {
            return OkHttpChannelBuilder.forTarget(endpoint, credentials);
        } catch (RuntimeException e) {
            // gRPC reports certificate files it cannot use as "no functional channel service provider"
            // or "TLS features not understood".
            throw new IllegalArgumentException("cannot set up TLS with --tls-ca-file, --tls-cert-file and --tls-key-file: "
                    + e.getMessage(), e);
        }
    }

    /** What to add to the message of a call that failed with {@code status}: its TLS failure, and what to give. */
    String hint(Status status) {
        String why = dev.baton.client.TransportFailures.explain(status, !enabled());
        if (why == null) {
            return "";
        }
        return " (" + why + (enabled() ? "" : "; give --tls-ca-file") + ")";
    }

    /**
     * What to add to the message of the Java client's failure: it explains TLS failures itself, but
     * with the channels made here it cannot tell a plaintext call from a TLS one.
     */
    String hint(String clientMessage) {
        if (enabled() || clientMessage == null) {
            return "";
        }
        if (clientMessage.contains("TLS-only")) {
            return " (give --tls-ca-file)";
        }
        String why = dev.baton.client.TransportFailures.closedAtOnce(clientMessage);
        return why == null ? "" : " (" + why + "; give --tls-ca-file)";
    }
}
