package dev.baton.server.grpc;

import dev.baton.api.v1.KeepAliveAck;
import dev.baton.api.v1.SessionEvent;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Result;
import dev.baton.server.route.LeaseKeeper;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The keep-alive streams held by this node and the delivery of effects to them.
 *
 * <p>What a stream receives: the wait outcomes of its session (for acquires made with
 * {@code return_queued}), its session's end (after which the stream is closed with
 * FAILED_PRECONDITION), and every completed event and claimable queue in the cluster (hints for
 * blocked claimers; they are skipped while the client is not reading, so a slow client cannot make
 * the node buffer without bound — a client that must not miss one re-reads the queue).
 */
public final class StreamHub {
    /** One client stream; gRPC observers are not thread-safe, so every send holds the stream's lock. */
    static final class Stream {
        final long session;
        final ServerCallStreamObserver<SessionEvent> out;
        private boolean done;

        Stream(long session, ServerCallStreamObserver<SessionEvent> out) {
            this.session = session;
            this.out = out;
        }

        synchronized boolean send(SessionEvent e, boolean droppable) {
            if (done || out.isCancelled() || (droppable && !out.isReady())) {
                return false;
            }
            try {
                out.onNext(e);
                return true;
            } catch (RuntimeException ex) {
                done = true;
                return false;
            }
        }

        /**
         * Acknowledges a keep-alive. Dropped while the client is not reading (gRPC's send buffer past
         * its ready threshold): a client that sends keep-alives without reading the answers would
         * otherwise make the node buffer one ack per keep-alive without bound. A reading client is
         * never refused one; a dropped ack costs a reading client nothing but the next one.
         */
        synchronized boolean ack(long ttlMs) {
            return send(SessionEvent.newBuilder().setAck(KeepAliveAck.newBuilder().setSession(session).setTtlMs(ttlMs))
                    .build(), true);
        }

        synchronized void fail(io.grpc.StatusRuntimeException status) {
            if (done) {
                return;
            }
            done = true;
            try {
                out.onError(status);
            } catch (RuntimeException ignored) {
                // already cancelled by the client
            }
        }

        synchronized void complete() {
            if (done) {
                return;
            }
            done = true;
            try {
                out.onCompleted();
            } catch (RuntimeException ignored) {
                // already cancelled by the client
            }
        }
    }

    private final Map<Long, Set<Stream>> bySession = new ConcurrentHashMap<>();
    private final Set<Stream> all = ConcurrentHashMap.newKeySet();
    final AtomicLong dropped = new AtomicLong();
    private volatile LeaseKeeper leases;

    public void add(Stream s) {
        bySession.computeIfAbsent(s.session, k -> ConcurrentHashMap.newKeySet()).add(s);
        all.add(s);
    }

    public void remove(Stream s) {
        all.remove(s);
        bySession.computeIfPresent(s.session, (k, set) -> {
            set.remove(s);
            return set.isEmpty() ? null : set;
        });
    }

    public int size() {
        return all.size();
    }

    /** Sessions with at least one stream on this node. */
    Set<Long> sessions() {
        return bySession.keySet();
    }

    /** Ends every stream of a session that no longer exists. */
    public void sessionGone(long session, boolean expired) {
        Set<Stream> set = bySession.remove(session);
        if (set == null) {
            return;
        }
        for (Stream s : set) {
            all.remove(s);
            s.fail(Status.FAILED_PRECONDITION.withDescription("session " + Long.toUnsignedString(session) + (expired ? " expired" : " ended"))
                    .asRuntimeException(ApiErrors.trailers("UNKNOWN_SESSION", null)));
        }
    }

    /**
     * Grants are sent to a session's streams only once {@code leases} says they may be told
     * ({@link LeaseKeeper#whenFresh}): a node that learns a grant late, after being cut off, does not
     * tell one whose session the leader has expired since. A grant held back is sent after whatever
     * the stream receives meanwhile; if the session ends first it is not sent at all.
     */
    public void tellGrantsWith(LeaseKeeper leases) {
        this.leases = leases;
    }

    /** Called in log order with every applied effect. */
    public void onEffect(Effect e) {
        if (e instanceof Effect.PoolWaitEnded p) {
            toSession(p.session(), Convert.event(e), p.status() == Result.PoolStatus.LOCKED);
        } else if (e instanceof Effect.LockWaitEnded l) {
            toSession(l.session(), Convert.event(e), l.status() == Result.LockStatus.LOCKED);
        } else if (e instanceof Effect.SessionEnded s) {
            toSession(s.session(), Convert.event(e));
            sessionGone(s.session(), s.expired());
        } else {
            if (all.isEmpty()) {
                return;
            }
            SessionEvent ev = Convert.event(e);
            for (Stream s : all) {
                if (!s.send(ev, true)) {
                    dropped.incrementAndGet();
                }
            }
        }
    }

    private void toSession(long session, SessionEvent ev, boolean grant) {
        LeaseKeeper l = leases;
        if (!grant || l == null || !bySession.containsKey(session)) {
            toSession(session, ev);
            return;
        }
        l.whenFresh(session).thenAccept(told -> {
            if (told) {
                toSession(session, ev);
            }
        });
    }

    private void toSession(long session, SessionEvent ev) {
        Set<Stream> set = bySession.get(session);
        if (set != null) {
            for (Stream s : set) {
                s.send(ev, false);
            }
        }
    }

    public void closeAll() {
        for (Stream s : all) {
            s.fail(Status.UNAVAILABLE.withDescription("node shutting down")
                    .asRuntimeException(ApiErrors.trailers(ApiErrors.UNAVAILABLE, null)));
        }
        all.clear();
        bySession.clear();
    }
}
