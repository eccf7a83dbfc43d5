package dev.baton.bench.load;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A system that grants per-key counting semaphores, as seen by the load generator ({@link Load}): Baton
 * through its Java client or its PoolCounter line port, the C {@code poolcounterd}, Redis running the
 * PoolCounterRedis scripts, ZooKeeper with Curator, etcd with jetcd.
 *
 * <p>The generator opens one {@link Handle} per client thread and uses it from that thread only: a
 * handle is one connection, session or lease, the way one worker process of an application would
 * hold one. A handle holds at most one grant at a time and releases it before its next acquire.
 *
 * <p>With a connection per pair ({@link Load.Connect#PER_PAIR}, the way MediaWiki uses PoolCounter: each
 * web request connects, acquires, releases and disconnects) a client thread instead asks its
 * {@link #perPair()} opener for a new handle before every acquire and closes it after the release.
 */
public abstract class Contender implements AutoCloseable {
    private final String name;
    private final boolean forAnyone;

    /**
     * @param name      short name, e.g. {@code redis-always}, used in the results
     * @param forAnyone whether {@link Request#forAnyone()} (PoolCounter's ACQ4ANY: {@code DONE}) is understood
     */
    protected Contender(String name, boolean forAnyone) {
        this.name = name;
        this.forAnyone = forAnyone;
    }

    public final String name() {
        return name;
    }

    public final boolean supportsForAnyone() {
        return forAnyone;
    }

    /** A new handle (connects, opens a session); called from the thread that will use it. */
    public abstract Handle open() throws Exception;

    /**
     * What one client thread keeps while it opens a handle per acquire+release pair; called once per
     * client thread, from that thread. The default keeps nothing: every pair gets a handle from
     * {@link #open()}, i.e. a new connection, session or lease.
     */
    public PerPair perPair() throws Exception {
        return this::open;
    }

    /**
     * A run of {@link Load} begins: a contender that spreads its handles over several addresses
     * starts again from the first, so that a run's lone client always reaches the same one.
     */
    public void runStarts() {
    }

    /** What this contender is exactly (client library, recipe, addresses), for the report. */
    public abstract Map<String, String> facts();

    /**
     * {@code client}, {@code recipe}, {@code addresses} and {@code per_pair} (what a connection per pair
     * opens and closes, see {@link #perPair()}) facts, in that order.
     */
    protected static Map<String, String> facts(String client, String recipe, String addresses, String perPair) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("client", client);
        m.put("recipe", recipe);
        m.put("addresses", addresses);
        m.put("per_pair", perPair);
        return m;
    }

    /** Releases what {@link #open()} shares between handles (client pools, event loops). */
    @Override
    public void close() {
    }

    /**
     * One acquire: at most {@code workers} holders of {@code key}, at most {@code maxQueue} waiting or
     * holding (how exactly is the contender's own rule; the generator keeps it far above the clients so
     * that it never refuses), waiting up to {@code timeout}.
     */
    public record Request(String key, int workers, int maxQueue, Duration timeout, boolean forAnyone) {}

    /** How an acquire ended. Anything else is a {@link ContenderException} or an I/O exception. */
    public enum Outcome {
        /** Granted: the handle holds a slot of the key until {@link Handle#release()}. */
        GRANTED,
        /** For-anyone acquire: another holder finished the work; nothing is held. */
        DONE,
        /** The wait timed out; nothing is held. */
        TIMEOUT,
        /** Refused at once because too many wait; nothing is held. */
        QUEUE_FULL
    }

    /**
     * A client thread's source of handles when it opens one per pair: what it keeps from pair to pair
     * (nothing, or a transport), closed when the thread ends. Used by one thread.
     */
    public interface PerPair extends AutoCloseable {
        /** A new handle for one pair; the caller closes it after the release. */
        Handle open() throws Exception;

        /** Releases what the thread kept. Never throws. */
        @Override
        default void close() {
        }
    }

    /** One client's connection or session. Used by one thread at a time. */
    public interface Handle extends AutoCloseable {
        Outcome acquire(Request request) throws Exception;

        /** Releases the slot granted by the last acquire; throws if the server did not confirm it. */
        void release() throws Exception;

        /**
         * Closes the connection or session; whatever it held is freed by the server. May be called from
         * another thread to unblock a stuck call. Never throws.
         */
        @Override
        void close();
    }

    /**
     * A reply that is not one of the expected outcomes (an error reply, an unexpected status). The
     * generator counts it under {@link #kind()}, closes the handle and opens a new one: the handle's
     * state on the server is then unknown.
     */
    public static final class ContenderException extends Exception {
        private static final long serialVersionUID = 1L;
        private final String kind;

        public ContenderException(String kind, String message) {
            super(message);
            this.kind = kind;
        }

        public ContenderException(String kind) {
            this(kind, kind);
        }

        /** Short and bounded, e.g. {@code ERROR BAD_SYNTAX} or {@code release:NOT_LOCKED}. */
        public String kind() {
            return kind;
        }
    }
}
