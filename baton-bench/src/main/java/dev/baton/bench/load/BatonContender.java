package dev.baton.bench.load;

import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Baton through its Java client: one {@link BatonClient}, hence one session, per handle (a session has
 * at most one waiting acquire and holds at most a few slots, so clients are not shared between
 * threads). Acquire is {@code poolAcquire(key, W, maxQueue, timeout, forAnyone)}, a single call that
 * the server answers when the wait ends; release is {@code poolRelease(key, fence)} with the grant's
 * fence. Every client is given all the endpoints and follows the leader from there.
 *
 * <p>Against secured nodes, each client connects with TLS (verifying the nodes against a CA file) and
 * sends a bearer token with every call, as an application would.
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
                String.join(",", endpoints));
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
