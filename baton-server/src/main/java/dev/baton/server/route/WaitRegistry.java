package dev.baton.server.route;

import dev.baton.core.command.Effect;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Unary acquires that are waiting for their outcome on this node. Every replica applies every entry
 * and so sees every effect; the node that received an acquire which answered QUEUED therefore
 * learns the wait's end (LOCKED, DONE, TIMEOUT) from its own apply stream, wherever the leader is.
 *
 * <p>A wait is registered <em>before</em> its command is proposed, so an outcome applied before the
 * QUEUED answer reaches the service (possible when the write was forwarded) is not missed. The
 * session's end fails its waits (UNKNOWN_SESSION). Effects can still be missed (a follower
 * that installs a snapshot skips the effects of the entries folded into it): {@link WaitingWrites}
 * reconciles by re-proposing the same request id, whose remembered answer is the wait's final outcome.
 */
final class WaitRegistry {
    enum Kind { POOL, LOCK }

    record Key(Kind kind, long session, long requestId, String name) {
        /**
         * The key a waiting acquire (a pool or lock acquire with a timeout) is registered under;
         * null for any other command, which has no outcome to wait for.
         */
        static Key ofWaitingAcquire(dev.baton.core.command.Command c) {
            if (c instanceof dev.baton.core.command.Command.PoolAcquire p && p.timeoutMs() > 0) {
                return new Key(Kind.POOL, p.session(), p.requestId(), p.key());
            }
            if (c instanceof dev.baton.core.command.Command.LockAcquire l && l.timeoutMs() > 0) {
                return new Key(Kind.LOCK, l.session(), l.requestId(), l.name());
            }
            return null;
        }

        /** The wait's timeout of a command {@link #ofWaitingAcquire} gives a key for. */
        static long timeoutMs(dev.baton.core.command.Command c) {
            return c instanceof dev.baton.core.command.Command.PoolAcquire p ? p.timeoutMs()
                    : ((dev.baton.core.command.Command.LockAcquire) c).timeoutMs();
        }
    }

    private final Map<Key, CompletableFuture<Effect>> waits = new ConcurrentHashMap<>();

    /** Registers (or joins, for a retried request) the wait for {@code key}'s outcome. */
    CompletableFuture<Effect> register(Key key) {
        return waits.computeIfAbsent(key, k -> new CompletableFuture<>());
    }

    void remove(Key key, CompletableFuture<Effect> f) {
        waits.remove(key, f);
    }

    int size() {
        return waits.size();
    }

    /** Called in log order with every applied effect. */
    void onEffect(Effect e) {
        if (e instanceof Effect.PoolWaitEnded p) {
            complete(new Key(Kind.POOL, p.session(), p.requestId(), p.key()), e);
        } else if (e instanceof Effect.LockWaitEnded l) {
            complete(new Key(Kind.LOCK, l.session(), l.requestId(), l.name()), e);
        } else if (e instanceof Effect.SessionEnded s) {
            // Rare (one per session end) and the registry holds only in-flight waits: a scan is fine.
            waits.forEach((k, f) -> {
                if (k.session() == s.session() && waits.remove(k, f)) {
                    f.completeExceptionally(BatonException.unknownSession(
                            "session " + Long.toUnsignedString(s.session()) + (s.expired() ? " expired" : " closed")));
                }
            });
        }
    }

    private void complete(Key key, Effect e) {
        CompletableFuture<Effect> f = waits.remove(key);
        if (f != null) {
            f.complete(e);
        }
    }
}
