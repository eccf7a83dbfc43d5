package dev.baton.bench.load;

import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import io.grpc.TlsChannelCredentials;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Baton through its Java client: one {@link BatonClient}, hence one session, per handle (a session has
 * at most one waiting acquire and holds at most a few slots, so clients are not shared between
 * threads). Acquire is {@code poolAcquire(key, W, maxQueue, timeout, forAnyone)}, a single call that
 * the server answers when the wait ends; release is {@code poolRelease(key, fence)} with the grant's
 * fence. Every client is given all the endpoints and follows the leader from there.
 *
 * <p>Against secured nodes, each client connects with TLS (verifying the nodes against a CA file) and
 * sends a bearer token with every call, as an application would.
 *
 * <p>A session per pair ({@link #perPair()}): a {@code BatonClient} holds exactly one session, opened by
 * {@code build()} and closed by {@code close()}, so each pair builds a new client (Sessions.Open and
 * its keep-alive stream) and closes it after the release (Sessions.Close, waited for). The gRPC
 * channels, though, are kept by the client thread from pair to pair and handed to each client through
 * its channel factory: a Java application would keep its connection and open a session per request,
 * not connect per request, and a new HTTP/2 connection (and TLS handshake) per pair would measure
 * gRPC's connection setup rather than Baton's sessions.
 */
public final class BatonContender extends Contender {
    private final List<String> endpoints;
    /** The CA the nodes' API certificates are checked against, or null for plaintext. */
    private final Path tlsCaFile;
    /** The bearer token sent with every call, or null for none. */
    private final String authToken;

    public BatonContender(String name, List<String> endpoints) {
        this(name, endpoints, null, null);
    }

    /**
     * @param tlsCaFile the nodes' API CA (PEM): connect with TLS; null: plaintext
     * @param authToken the bearer token for nodes started with {@code --auth-token-file}; null: none
     */
    public BatonContender(String name, List<String> endpoints, Path tlsCaFile, String authToken) {
        super(name, true);
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("no endpoint");
        }
        this.endpoints = List.copyOf(endpoints);
        this.tlsCaFile = tlsCaFile;
        this.authToken = authToken;
    }

    @Override
    public Map<String, String> facts() {
        String secured = (tlsCaFile != null ? " over TLS, the nodes' certificates checked against their CA" : "")
                + (authToken != null ? ", a bearer token on every call" : "");
        return facts("dev.baton.client.BatonClient (gRPC" + secured + "), one client and session per client thread",
                "poolAcquire(key, W, maxqueue, timeout) held by the server while waiting; poolRelease(key, fence)",
                String.join(",", endpoints),
                "a new BatonClient, hence a new session (Sessions.Open and the keep-alive stream, in the open time),"
                        + " the acquire and release, then BatonClient.close() (Sessions.Close, waited for); the gRPC"
                        + " channels" + (tlsCaFile != null ? " (and their TLS sessions)" : "") + " are kept by the client"
                        + " thread and shared by its successive clients: the client has one session per client object,"
                        + " and a Java application would keep its connection rather than connect per request");
    }

    @Override
    public Handle open() {
        BatonClient.Builder b = BatonClient.builder().endpoints(endpoints);
        if (tlsCaFile != null) {
            b.tls(tlsCaFile);
        }
        if (authToken != null) {
            b.authToken(authToken);
        }
        return new BatonHandle(b.build());
    }

    @Override
    public PerPair perPair() {
        return new SessionPerPair();
    }

    /**
     * One client thread's gRPC channels, one per endpoint (made when a client first asks for it, with
     * the settings of the client's own channels), and a new {@link BatonClient} on them per pair.
     */
    private final class SessionPerPair implements PerPair {
        /** By address; a client may ask from a gRPC thread (an endpoint learnt from a leader hint). */
        private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

        @Override
        public Handle open() {
            BatonClient.Builder b = BatonClient.builder().endpoints(endpoints)
                    .channelFactory(address -> new KeptChannel(channels.computeIfAbsent(address, this::channel)));
            if (authToken != null) {
                b.authToken(authToken);
            }
            return new BatonHandle(b.build());
        }

        /** As the client makes its own (plaintext, or TLS checked against the CA): I/O-thread callbacks. */
        private ManagedChannel channel(String address) {
            if (tlsCaFile == null) {
                return ManagedChannelBuilder.forTarget(address).usePlaintext().directExecutor()
                        .maxInboundMessageSize(256 << 20).build();
            }
            try {
                return Grpc.newChannelBuilder(address, TlsChannelCredentials.newBuilder()
                                .trustManager(tlsCaFile.toFile()).build())
                        .directExecutor().maxInboundMessageSize(256 << 20).build();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            channels.values().forEach(ManagedChannel::shutdownNow);
            channels.clear();
        }
    }

    /**
     * A kept channel as one {@link BatonClient} sees it: the client's {@code close()} shuts it down, which
     * here only tells that client it is done with it; the connection stays up for the thread's next
     * pair. The client cancels its own calls (the keep-alive stream included) before that, so nothing of
     * a closed client lingers on the connection.
     */
    private static final class KeptChannel extends ManagedChannel {
        private final ManagedChannel channel;
        private volatile boolean shutdown;

        KeptChannel(ManagedChannel channel) {
            this.channel = channel;
        }

        @Override
        public <Q, A> ClientCall<Q, A> newCall(MethodDescriptor<Q, A> method, CallOptions options) {
            return channel.newCall(method, options);
        }

        @Override
        public String authority() {
            return channel.authority();
        }

        @Override
        public ConnectivityState getState(boolean requestConnection) {
            return channel.getState(requestConnection);
        }

        @Override
        public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
            channel.notifyWhenStateChanged(source, callback);
        }

        @Override
        public void resetConnectBackoff() {
            channel.resetConnectBackoff();
        }

        @Override
        public ManagedChannel shutdown() {
            shutdown = true;
            return this;
        }

        @Override
        public ManagedChannel shutdownNow() {
            return shutdown();
        }

        @Override
        public boolean isShutdown() {
            return shutdown;
        }

        @Override
        public boolean isTerminated() {
            return shutdown;
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return true;
        }
    }

    private static final class BatonHandle implements Handle {
        private final BatonClient client;
        private String key;
        private long fence;

        BatonHandle(BatonClient client) {
            this.client = client;
        }

        @Override
        public Outcome acquire(Request r) throws ContenderException {
            PoolReply reply = call(() -> client.poolAcquire(r.key(), r.workers(), r.maxQueue(), r.timeout(), r.forAnyone()));
            switch (reply.getStatus()) {
                case POOL_LOCKED -> {
                    key = r.key();
                    fence = reply.getFence();
                    return Outcome.GRANTED;
                }
                case POOL_TIMEOUT -> {
                    return Outcome.TIMEOUT;
                }
                case POOL_QUEUE_FULL -> {
                    return Outcome.QUEUE_FULL;
                }
                case POOL_DONE -> {
                    if (r.forAnyone()) {
                        return Outcome.DONE;
                    }
                }
                default -> { }
            }
            // DONE for ACQ4ME, LOCK_HELD, ...: the session's state is not what this handle thinks.
            throw new ContenderException(reply.getStatus().name(), "acquire answered " + reply);
        }

        @Override
        public void release() throws ContenderException {
            PoolReply reply = call(() -> client.poolRelease(key, fence));
            if (reply.getStatus() != PoolStatus.POOL_RELEASED) {
                throw new ContenderException("release:" + reply.getStatus().name(), "release answered " + reply);
            }
        }

        private interface Call {
            PoolReply run();
        }

        /** A {@link BatonException} (refusal, unavailable, lost session) becomes an error of its kind. */
        private static PoolReply call(Call c) throws ContenderException {
            try {
                return c.run();
            } catch (BatonException e) {
                throw new ContenderException(e.getClass().getSimpleName() + ":" + e.statusCode()
                        + (e.errorCode() == null ? "" : ":" + e.errorCode()),
                        String.valueOf(e.getMessage()));
            }
        }

        @Override
        public void close() {
            client.close();
        }
    }
}
