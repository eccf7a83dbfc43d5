package dev.baton.server.raft;

import com.alipay.remoting.ExtendedNettyChannelHandler;
import dev.baton.server.security.PemCredentials;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Mutual TLS on the Raft port between members: every connection a node accepts or opens is TLS, and
 * both ends must show a certificate signed by the members' CA. So a process without such a
 * certificate cannot join, vote, receive entries, or call the engine's membership handlers
 * (add/remove/reset peers, transfer leadership), which the Raft port serves to anyone otherwise.
 *
 * <p>How: SOFAJRaft's transport (bolt) lets a caller put its own Netty handlers at the front of every
 * channel it creates; this class gives it one that adds an {@code SslHandler} per channel, on the
 * server ({@link #serverHandlers()}, set on the bolt server {@link BatonNode} builds) and on the client
 * ({@link #clientHandlers()}, set on the engine's RPC client by {@link BatonBoltRpcFactory}). Bolt's own
 * TLS options were not used: they want the key and the CA in one keystore file, re-read it on the event
 * loop for every connection, and check no more than that chain.
 *
 * <p>Any certificate the members' CA signs is a member: use a CA for members only, never the one that
 * signs API clients. Each node's certificate is used as a TLS server and a TLS client, so it needs both
 * extended key usages (serverAuth, clientAuth) when it has any. The host name in a certificate is not
 * checked (peers are addressed by {@code host:port} in the configuration, often by IP). Certificate,
 * key and CA are re-read every {@link Config#reloadIntervalMs()} and used once they have changed and
 * the key belongs to the certificate ({@link PemCredentials}), so they can be rotated without a
 * restart; connections already open keep their session.
 */
public final class PeerTls implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeerTls.class);

    /**
     * @param certFile         this node's certificate chain, PEM
     * @param keyFile          its private key, PEM (PKCS#8: {@code BEGIN PRIVATE KEY})
     * @param caFile           the members' CA certificate(s), PEM
     * @param reloadIntervalMs how often the files are checked for a change
     */
    public record Config(Path certFile, Path keyFile, Path caFile, long reloadIntervalMs) {
        public static final long DEFAULT_RELOAD_INTERVAL_MS = 60_000;

        public Config {
            Objects.requireNonNull(certFile, "certFile");
            Objects.requireNonNull(keyFile, "keyFile");
            Objects.requireNonNull(caFile, "caFile");
            if (reloadIntervalMs < 100) {
                throw new IllegalArgumentException("--peer-tls-reload-interval-ms must be at least 100, got " + reloadIntervalMs);
            }
        }

        /**
         * The three files from their options, all or none; an error names the option at fault.
         *
         * @return null when none is given
         */
        public static Config of(Path cert, Path key, Path ca, long reloadIntervalMs) {
            if (cert == null && key == null && ca == null) {
                return null;
            }
            require(cert, "--peer-tls-cert-file");
            require(key, "--peer-tls-key-file");
            require(ca, "--peer-tls-ca-file");
            return new Config(cert, key, ca, reloadIntervalMs);
        }

        private static void require(Path p, String option) {
            if (p == null) {
                throw new IllegalArgumentException("mutual TLS between members needs " + option
                        + " too (--peer-tls-cert-file, --peer-tls-key-file and --peer-tls-ca-file go together)");
            }
            if (!Files.isReadable(p)) {
                throw new IllegalArgumentException(option + ": cannot read " + p);
            }
        }
    }

    private final SslContext server;
    private final SslContext client;
    private final PemCredentials credentials;

    private PeerTls(SslContext server, SslContext client, PemCredentials credentials) {
        this.server = server;
        this.client = client;
        this.credentials = credentials;
    }

    /**
     * Reads the files and starts watching them.
     *
     * @throws IllegalArgumentException naming the option whose file cannot be used
     */
    public static PeerTls start(Config config, String nodeId) {
        PemCredentials credentials = PemCredentials.load(files(config));
        SslContext server;
        SslContext client;
        try {
            server = SslContextBuilder.forServer(credentials.keyManager()).trustManager(credentials.trustManager())
                    .clientAuth(ClientAuth.REQUIRE).sslProvider(SslProvider.JDK).protocols("TLSv1.3").build();
            client = SslContextBuilder.forClient().keyManager(credentials.keyManager()).trustManager(credentials.trustManager())
                    .sslProvider(SslProvider.JDK).protocols("TLSv1.3").build();
        } catch (IOException e) {
            throw new IllegalStateException("cannot build the Raft port's TLS context: " + e.getMessage(), e);
        }
        credentials.watch(config.reloadIntervalMs(), "baton-peer-tls-" + nodeId);
        LOG.info("Raft port: mutual TLS with {}, members' CA {}", PemCredentials.describe(credentials.certificate()),
                config.caFile());
        return new PeerTls(server, client, credentials);
    }

    /**
     * Reads the files once, as {@link #start} will, without starting anything.
     *
     * @throws IllegalArgumentException naming the option whose file cannot be used
     */
    public static void check(Config config) {
        PemCredentials.load(files(config)).close();
    }

    private static PemCredentials.Files3 files(Config config) {
        return new PemCredentials.Files3(config.certFile(), "--peer-tls-cert-file", config.keyFile(), "--peer-tls-key-file",
                config.caFile(), "--peer-tls-ca-file");
    }

    /** For the bolt server: a TLS server handler, client certificate required, on every accepted channel. */
    public ExtendedNettyChannelHandler serverHandlers() {
        return front(new TlsChannels(server));
    }

    /** For the engine's bolt client: a TLS client handler, with this node's certificate, on every channel. */
    public ExtendedNettyChannelHandler clientHandlers() {
        return front(new TlsChannels(client));
    }

    private static ExtendedNettyChannelHandler front(ChannelHandler h) {
        return new ExtendedNettyChannelHandler() {
            @Override
            public List<ChannelHandler> frontChannelHandlers() {
                return List.of(h);
            }

            @Override
            public List<ChannelHandler> backChannelHandlers() {
                return List.of();
            }
        };
    }

    /** Bolt adds the same handler instance to every channel: it only adds a fresh SslHandler to each. */
    @ChannelHandler.Sharable
    private static final class TlsChannels extends ChannelInitializer<Channel> {
        private final SslContext context;

        TlsChannels(SslContext context) {
            this.context = context;
        }

        @Override
        protected void initChannel(Channel ch) {
            ch.pipeline().addFirst("baton-tls", context.newHandler(ch.alloc()));
        }
    }

    @Override
    public void close() {
        credentials.close();
    }
}
