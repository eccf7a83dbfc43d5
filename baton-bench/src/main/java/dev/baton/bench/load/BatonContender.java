package dev.baton.bench.load;

import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.client.BatonSession;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.Pools;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Baton through its Java client: one {@link BatonClient} per handle (one client per client thread, as
 * the other contenders have one connection per thread), or, {@linkplain #shared(String, List, Path, String)
 * shared}, one {@code BatonClient} for every client thread of the load, as docs/client.md tells an
 * application to use it (its calls then share one connection per node and the client's set of sessions). Acquire is
 * {@code pools().acquire(key, W, maxQueue, timeout, forAnyone)}, a single call that the server answers
 * when the wait ends; release is {@code pools().release(key, fence)} with the grant's fence. Every client is given all the endpoints and follows the leader from there.
 *
 * <p>Against secured nodes, each client connects with TLS (verifying the nodes against a CA file) and
 * sends a bearer token with every call, as an application would.
 *
 * <p>A session per pair ({@link #perPair()}): each client thread keeps one {@code BatonClient} (its
 * connections) and opens a new session of it per pair ({@link BatonClient#newSession()}: Sessions.Open
 * and its keep-alive stream), closing it after the release (Sessions.Close, waited for). A Java
 * application would keep its connection and open a session per request, not connect per request, and
 * a new HTTP/2 connection (and TLS handshake) per pair would measure gRPC's connection setup rather
 * than Baton's sessions.
 */
public final class BatonContender extends Contender {
    private final List<String> endpoints;
    /** The CA the nodes' API certificates are checked against, or null for plaintext. */
    private final Path tlsCaFile;
    /** The bearer token sent with every call, or null for none. */
    private final String authToken;
    /** One client for all handles ({@link #shared}), or false: one client per handle. */
    private final boolean sharedClient;
    /** The shared client, made by the first {@link #open()}; guarded by {@code this}. */
    private BatonClient shared;

    public BatonContender(String name, List<String> endpoints) {
        this(name, endpoints, null, null);
    }

    /**
     * @param tlsCaFile the nodes' API CA (PEM): connect with TLS; null: plaintext
     * @param authToken the bearer token for nodes started with {@code --auth-token-file}; null: none
     */
    public BatonContender(String name, List<String> endpoints, Path tlsCaFile, String authToken) {
        this(name, endpoints, tlsCaFile, authToken, false);
    }

    /**
     * One {@link BatonClient} shared by every handle (every client thread): a handle is the client's
     * {@code pools()} and holds what its thread acquired; the client picks the session of each acquire
     * and routes each release to the session of its grant. With a session per pair, each pair is a
     * {@link BatonClient#newSession()} of the shared client.
     */
    public static BatonContender shared(String name, List<String> endpoints, Path tlsCaFile, String authToken) {
        return new BatonContender(name, endpoints, tlsCaFile, authToken, true);
    }

    private BatonContender(String name, List<String> endpoints, Path tlsCaFile, String authToken, boolean sharedClient) {
        super(name, true);
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("no endpoint");
        }
        this.endpoints = List.copyOf(endpoints);
        this.tlsCaFile = tlsCaFile;
        this.authToken = authToken;
        this.sharedClient = sharedClient;
    }

    @Override
    public Map<String, String> facts() {
        String secured = (tlsCaFile != null ? " over TLS, the nodes' certificates checked against their CA" : "")
                + (authToken != null ? ", a bearer token on every call" : "");
        return facts("dev.baton.client.BatonClient (gRPC" + secured + "), " + (sharedClient
                        ? "one client shared by all client threads (its sessions as it chooses)"
                        : "one client and session per client thread"),
                "pools().acquire(key, W, maxqueue, timeout) held by the server while waiting; pools().release(key, fence)",
                String.join(",", endpoints),
                "a new session of the " + (sharedClient ? "shared" : "thread's") + " BatonClient"
                        + " (BatonClient.newSession(): Sessions.Open and the keep-alive"
                        + " stream, in the open time), the acquire and release, then its close() (Sessions.Close, waited"
                        + " for); the client and its gRPC channels" + (tlsCaFile != null ? " (and their TLS sessions)" : "")
                        + " are kept" + (sharedClient ? "" : " by the client thread") + ", as a Java application would"
                        + " keep its connection rather than connect per request");
    }

    @Override
    public Handle open() {
        if (sharedClient) {
            // Closing a handle of the shared client closes nothing: it gives back what it holds.
            return new BatonHandle(sharedClient().pools(), null);
        }
        BatonClient client = client();
        return new BatonHandle(client.pools(), client::close);
    }

    private synchronized BatonClient sharedClient() {
        if (shared == null) {
            shared = client();
        }
        return shared;
    }

    @Override
    public synchronized void close() {
        if (shared != null) {
            shared.close();
            shared = null;
        }
    }

    private BatonClient client() {
        BatonClient.Builder b = BatonClient.builder().endpoints(endpoints);
        if (tlsCaFile != null) {
            b.tls(tlsCaFile);
        }
        if (authToken != null) {
            b.authToken(authToken);
        }
        return b.build();
    }

    @Override
    public PerPair perPair() {
        return new SessionPerPair();
    }

    /**
     * One client thread's {@link BatonClient} (its connections), made at the thread's first pair, and a
     * new session of it ({@link BatonClient#newSession()}) per pair.
     */
    private final class SessionPerPair implements PerPair {
        private BatonClient client;

        @Override
        public Handle open() {
            if (client == null) {
                client = sharedClient ? sharedClient() : client();
            }
            BatonSession session = client.newSession();
            return new BatonHandle(session.pools(), session::close);
        }

        @Override
        public void close() {
            if (client != null && !sharedClient) {
                client.close();
            }
            client = null;
        }
    }

    private static final class BatonHandle implements Handle {
        private final Pools pools;
        /** Closes the handle's client or session; null: a handle of the shared client, which releases what it holds. */
        private final Runnable closer;
        private String key;
        private long fence;

        BatonHandle(Pools pools, Runnable closer) {
            this.pools = pools;
            this.closer = closer;
        }

        @Override
        public Outcome acquire(Request r) throws ContenderException {
            key = null;
            PoolReply reply = call(() -> pools.acquire(r.key(), r.workers(), r.maxQueue(), r.timeout(), r.forAnyone()));
            switch (reply.status()) {
                case LOCKED -> {
                    key = r.key();
                    fence = reply.fence();
                    return Outcome.GRANTED;
                }
                case TIMEOUT -> {
                    return Outcome.TIMEOUT;
                }
                case QUEUE_FULL -> {
                    return Outcome.QUEUE_FULL;
                }
                case DONE -> {
                    if (r.forAnyone()) {
                        return Outcome.DONE;
                    }
                }
                default -> { }
            }
            // DONE for ACQ4ME, LOCK_HELD, ...: the session's state is not what this handle thinks.
            throw new ContenderException(reply.status().name(), "acquire answered " + reply);
        }

        @Override
        public void release() throws ContenderException {
            String k = key;
            key = null;
            PoolReply reply = call(() -> pools.release(k, fence));
            if (reply.status() != PoolStatus.RELEASED) {
                throw new ContenderException("release:" + reply.status().name(), "release answered " + reply);
            }
        }

        /** Releases what the last acquire granted, if it is still held; errors are ignored. */
        void releaseQuietly() {
            String k = key;
            key = null;
            if (k != null) {
                try {
                    pools.release(k, fence);
                } catch (RuntimeException ignored) {
                    // the handle is given up: what it held is the client's session's, released at its end
                }
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
            if (closer == null) {
                releaseQuietly();
                return;
            }
            closer.run();
        }
    }
}
