package dev.baton.server.api;

import dev.baton.api.internal.v1.AnnounceAck;
import dev.baton.api.internal.v1.AnnounceRequest;
import dev.baton.api.internal.v1.ForwardGrpc;
import dev.baton.api.internal.v1.KeepAliveBatch;
import dev.baton.api.internal.v1.KeepAliveBatchAck;
import dev.baton.api.v1.*;
import dev.baton.core.command.Command;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The gRPC services of {@code baton.v1} (and the node-to-node {@code Forward} service). Each call
 * turns into a core command (writes, through the {@link Router}) or a linearizable query; nothing
 * here blocks a gRPC thread.
 */
final class ApiServices {
    /** A wait that outlives its own timeout by this much is reconciled by re-proposing the request. */
    static final long RECONCILE_GRACE_MS = 3_000;

    private final Router router;
    private final WaitRegistry waits;
    private final StreamHub streams;
    private final LeaseKeeper leases;
    private final ScheduledExecutorService timer;
    private final long defaultTtlMs;

    ApiServices(Router router, WaitRegistry waits, StreamHub streams, LeaseKeeper leases,
                ScheduledExecutorService timer, long defaultTtlMs) {
        this.router = router;
        this.waits = waits;
        this.streams = streams;
        this.leases = leases;
        this.timer = timer;
        this.defaultTtlMs = defaultTtlMs;
    }

    // ---- plumbing -------------------------------------------------------------------------------

    static <T> void respond(CompletableFuture<T> f, StreamObserver<T> out) {
        f.whenComplete((v, t) -> {
            if (t != null) {
                out.onError(ApiErrors.toStatus(t, null));
            } else {
                out.onNext(v);
                out.onCompleted();
            }
        });
    }

    /** The result of a write as the expected type, a rejection as its gRPC status. */
    static <R extends Result, T> T expect(Result r, Class<R> type, Function<R, T> map) {
        if (r instanceof Result.Rejected rej) {
            throw ApiErrors.rejected(rej);
        }
        if (type.isInstance(r)) {
            return map.apply(type.cast(r));
        }
        throw Status.INTERNAL.withDescription("unexpected result " + r).asRuntimeException();
    }

    <R extends Result, T> CompletableFuture<T> write(Command.ClientCommand c, Class<R> type, Function<R, T> map) {
        return router.write(c).thenApply(r -> expect(r, type, map));
    }

    /**
     * A write that may answer QUEUED: waits here for the wait's outcome unless the caller asked for
     * the QUEUED answer. If the outcome is not seen within the wait's own timeout plus a grace
     * period (an effect this node never applied, e.g. folded into an installed snapshot), the same
     * request is proposed again: its remembered answer is the final outcome.
     */
    private <R extends Result, T> void waitingWrite(Command.SessionRequest c, WaitRegistry.Key key, long timeoutMs,
                                                    Class<R> type, Function<R, Boolean> queued,
                                                    Function<R, T> map, Function<Effect, T> mapEffect,
                                                    StreamObserver<T> out) {
        if (key == null) {
            respond(write(c, type, map), out);
            return;
        }
        CompletableFuture<Effect> ended = waits.register(key);
        if (out instanceof ServerCallStreamObserver<T> sco) {
            sco.setOnCancelHandler(() -> waits.remove(key, ended));
        }
        // Removed however it ends, also when the leader's outcome came first (see writeWithOutcome).
        ended.whenComplete((e, t) -> waits.remove(key, ended));
        CompletableFuture<T> f = router.writeWithOutcome(c, r -> {
            if (type.isInstance(r) && !queued.apply(type.cast(r))) {
                ended.complete(asEffect(c, r)); // from the leader, ahead of this follower's own apply
            }
        }).thenCompose(r -> {
            R typed = expect(r, type, x -> x);
            if (queued.apply(typed)) {
                scheduleReconcile(c, ended, timeoutMs, type, queued, mapEffect, map);
                return ended.thenApply(mapEffect);
            }
            waits.remove(key, ended);
            return CompletableFuture.completedFuture(map.apply(typed));
        });
        f.whenComplete((v, t) -> {
            if (t != null) {
                waits.remove(key, ended);
            }
        });
        respond(f, out);
    }

    private <R extends Result, T> void scheduleReconcile(Command.SessionRequest c, CompletableFuture<Effect> ended, long timeoutMs,
                                                         Class<R> type, Function<R, Boolean> queued,
                                                         Function<Effect, T> mapEffect, Function<R, T> map) {
        long delay = Math.min(timeoutMs, 86_400_000L) + RECONCILE_GRACE_MS;
        timer.schedule(() -> {
            if (ended.isDone()) {
                return;
            }
            router.write(c).whenComplete((r, t) -> {
                if (ended.isDone()) {
                    return;
                }
                if (t != null || !type.isInstance(r) || queued.apply(type.cast(r))) {
                    // Still waiting (or no leader right now): look again later.
                    scheduleReconcile(c, ended, 0, type, queued, mapEffect, map);
                    return;
                }
                ended.complete(asEffect(c, r));
            });
        }, delay, TimeUnit.MILLISECONDS);
    }

    /** A wait's outcome as the remembered final answer of its request. */
    static Result asResult(Effect e) {
        if (e instanceof Effect.PoolWaitEnded p) {
            return new Result.PoolReply(p.status(), p.key(), p.fence());
        }
        Effect.LockWaitEnded l = (Effect.LockWaitEnded) e;
        return new Result.LockReply(l.status(), l.name(), l.fence());
    }

    /** The wait outcome of a remembered final answer, shaped as the effect that was missed. */
    private static Effect asEffect(Command c, Result r) {
        var sr = (Command.SessionRequest) c;
        if (r instanceof Result.PoolReply p) {
            return new Effect.PoolWaitEnded(sr.session(), sr.requestId(), p.key(), p.status(), p.fence());
        }
        Result.LockReply l = (Result.LockReply) r;
        return new Effect.LockWaitEnded(sr.session(), sr.requestId(), l.name(), l.status(), l.fence());
    }

    // ---- sessions -------------------------------------------------------------------------------

    final class SessionsService extends SessionsGrpc.SessionsImplBase {
        @Override
        public void open(OpenSessionRequest req, StreamObserver<OpenSessionResponse> out) {
            long ttl = req.getTtlMs() == 0 ? defaultTtlMs : req.getTtlMs();
            respond(write(new Command.OpenSession(Convert.orNull(req.getClientToken()), ttl),
                    Result.SessionOpened.class, o -> OpenSessionResponse.newBuilder().setSession(o.session())
                            .setTtlMs(o.ttlMs()).setExisting(o.existing()).setNextRequestId(o.nextRequestId()).build()), out);
        }

        @Override
        public void close(CloseSessionRequest req, StreamObserver<CloseSessionResponse> out) {
            respond(write(new Command.CloseSession(req.getSession(), req.getRequestId()), Result.SessionClosed.class,
                    c -> CloseSessionResponse.newBuilder().setSession(c.session()).build()), out);
        }

        @Override
        public void get(GetSessionRequest req, StreamObserver<SessionInfo> out) {
            respond(router.read(new Query.GetSession(req.getSession())).thenApply(s -> {
                if (s == null) {
                    throw Status.NOT_FOUND.withDescription("no session " + Long.toUnsignedString(req.getSession()))
                            .asRuntimeException(ApiErrors.trailers("UNKNOWN_SESSION", null));
                }
                return Convert.info(s);
            }), out);
        }

        @Override
        public void list(ListSessionsRequest req, StreamObserver<ListSessionsResponse> out) {
            respond(router.read(new Query.ListSessionLeases()).thenApply(list -> {
                ListSessionsResponse.Builder b = ListSessionsResponse.newBuilder();
                for (View.SessionLease l : list) {
                    b.addSessions(SessionLease.newBuilder().setSession(l.id()).setTtlMs(l.ttlMs()));
                }
                return b.build();
            }), out);
        }

        @Override
        public StreamObserver<KeepAliveRequest> keepAlive(StreamObserver<SessionEvent> responses) {
            ServerCallStreamObserver<SessionEvent> out = (ServerCallStreamObserver<SessionEvent>) responses;
            return new StreamObserver<>() {
                private StreamHub.Stream stream; // set once the session is checked
                private long session;
                private long ttlMs;
                private boolean checking;

                @Override
                public synchronized void onNext(KeepAliveRequest req) {
                    if (session == 0) {
                        if (req.getSession() == 0) {
                            out.onError(Status.INVALID_ARGUMENT.withDescription("the first keep-alive names the session")
                                    .asRuntimeException(ApiErrors.trailers("INVALID_ARGUMENT", null)));
                            return;
                        }
                        session = req.getSession();
                        checking = true;
                        // A linearizable check: the session may have been opened through another node a
                        // moment ago. It also checks the caller may keep this session alive (its own,
                        // when the port asks for tokens): the lease is renewed only once it passed.
                        router.read(new Query.GetSession(session)).whenComplete((s, t) -> bind(s, t));
                        return;
                    }
                    if (req.getSession() != 0 && req.getSession() != session) {
                        out.onError(Status.INVALID_ARGUMENT.withDescription("one stream serves one session")
                                .asRuntimeException(ApiErrors.trailers("INVALID_ARGUMENT", null)));
                        return;
                    }
                    if (stream != null) {
                        leases.keepAlive(session);
                        stream.ack(ttlMs);
                    }
                }

                private synchronized void bind(View.Session s, Throwable t) {
                    checking = false;
                    if (t != null) {
                        out.onError(ApiErrors.toStatus(t, router.leaderApi().orElse(null)));
                        return;
                    }
                    if (s == null) {
                        out.onError(Status.FAILED_PRECONDITION.withDescription("no session " + Long.toUnsignedString(session))
                                .asRuntimeException(ApiErrors.trailers("UNKNOWN_SESSION", null)));
                        return;
                    }
                    leases.keepAlive(session);
                    ttlMs = s.ttlMs();
                    stream = new StreamHub.Stream(session, out);
                    streams.add(stream);
                    stream.ack(ttlMs);
                }

                @Override
                public synchronized void onError(Throwable t) {
                    if (stream != null) {
                        streams.remove(stream);
                    }
                }

                @Override
                public synchronized void onCompleted() {
                    if (stream != null) {
                        streams.remove(stream);
                        stream.complete();
                    } else if (!checking) {
                        out.onCompleted();
                    }
                }
            };
        }
    }

    // ---- pools ----------------------------------------------------------------------------------

    final class PoolsService extends PoolsGrpc.PoolsImplBase {
        @Override
        public void acquire(PoolAcquireRequest req, StreamObserver<PoolReply> out) {
            Command.PoolAcquire c = Convert.command(req);
            WaitRegistry.Key key = !req.getReturnQueued() && req.getTimeoutMs() > 0
                    ? new WaitRegistry.Key(WaitRegistry.Kind.POOL, c.session(), c.requestId(), c.key()) : null;
            waitingWrite(c, key, req.getTimeoutMs(), Result.PoolReply.class,
                    p -> p.status() == Result.PoolStatus.QUEUED, Convert::reply,
                    e -> Convert.reply((Effect.PoolWaitEnded) e), out);
        }

        @Override
        public void release(PoolReleaseRequest req, StreamObserver<PoolReply> out) {
            respond(write(Convert.command(req), Result.PoolReply.class, Convert::reply), out);
        }

        @Override
        public void get(GetPoolRequest req, StreamObserver<PoolInfo> out) {
            respond(router.read(new Query.GetPool(req.getKey())).thenApply(p -> Convert.info(req.getKey(), p)), out);
        }

        @Override
        public void totals(GetPoolTotalsRequest req, StreamObserver<PoolTotals> out) {
            respond(router.read(new Query.GetPoolTotals()).thenApply(Convert::info), out);
        }
    }

    // ---- locks ----------------------------------------------------------------------------------

    final class LocksService extends LocksGrpc.LocksImplBase {
        @Override
        public void acquire(LockAcquireRequest req, StreamObserver<LockReply> out) {
            Command.LockAcquire c = Convert.command(req);
            WaitRegistry.Key key = !req.getReturnQueued() && req.getTimeoutMs() > 0
                    ? new WaitRegistry.Key(WaitRegistry.Kind.LOCK, c.session(), c.requestId(), c.name()) : null;
            waitingWrite(c, key, req.getTimeoutMs(), Result.LockReply.class,
                    l -> l.status() == Result.LockStatus.QUEUED, Convert::reply,
                    e -> Convert.reply((Effect.LockWaitEnded) e), out);
        }

        @Override
        public void release(LockReleaseRequest req, StreamObserver<LockReply> out) {
            respond(write(Convert.command(req), Result.LockReply.class, Convert::reply), out);
        }

        @Override
        public void get(GetLockRequest req, StreamObserver<LockInfo> out) {
            respond(router.read(new Query.GetLock(req.getName())).thenApply(l -> Convert.info(req.getName(), l)), out);
        }
    }

    // ---- dispatch -------------------------------------------------------------------------------

    final class DispatchService extends DispatchGrpc.DispatchImplBase {
        private void dispatch(Command.ClientCommand c, StreamObserver<DispatchReply> out) {
            respond(write(c, Result.DispatchReply.class, Convert::reply), out);
        }

        @Override
        public void init(DispatchInitRequest req, StreamObserver<DispatchReply> out) {
            Command.ClientCommand c;
            try {
                c = Convert.command(req);
            } catch (StatusRuntimeException e) {
                out.onError(e);
                return;
            }
            dispatch(c, out);
        }

        @Override
        public void advance(DispatchAdvanceRequest req, StreamObserver<DispatchReply> out) {
            dispatch(Convert.command(req), out);
        }

        @Override
        public void select(DispatchSelectRequest req, StreamObserver<DispatchReply> out) {
            dispatch(Convert.command(req), out);
        }

        @Override
        public void lock(DispatchLockRequest req, StreamObserver<DispatchReply> out) {
            dispatch(Convert.command(req), out);
        }

        @Override
        public void release(DispatchReleaseRequest req, StreamObserver<DispatchReply> out) {
            dispatch(Convert.command(req), out);
        }

        @Override
        public void setDisabled(DispatchSetDisabledRequest req, StreamObserver<DispatchReply> out) {
            dispatch(Convert.command(req), out);
        }

        @Override
        public void getGroup(GetGroupRequest req, StreamObserver<GroupInfo> out) {
            respond(router.read(new Query.GetGroup(req.getGroup())).thenApply(g -> Convert.info(req.getGroup(), g)),
                    out);
        }
    }

    // ---- events and queues ----------------------------------------------------------------------

    final class EventsService extends EventsGrpc.EventsImplBase {
        @Override
        public void begin(EventBeginRequest req, StreamObserver<EventReply> out) {
            respond(write(Convert.command(req), Result.EventReply.class, Convert::reply), out);
        }

        @Override
        public void complete(EventCompleteRequest req, StreamObserver<EventReply> out) {
            respond(write(Convert.command(req), Result.EventReply.class, Convert::reply), out);
        }

        @Override
        public void get(GetEventRequest req, StreamObserver<EventInfo> out) {
            respond(router.read(new Query.GetEvent(req.getName())).thenApply(e -> Convert.info(req.getName(), e)), out);
        }

        @Override
        public void list(ListEventsRequest req, StreamObserver<ListEventsResponse> out) {
            respond(router.read(new Query.ListEvents()).thenApply(list -> {
                ListEventsResponse.Builder b = ListEventsResponse.newBuilder();
                for (View.Event e : list) {
                    b.addEvents(Convert.info(e.name(), e));
                }
                return b.build();
            }), out);
        }
    }

    final class QueuesService extends QueuesGrpc.QueuesImplBase {
        @Override
        public void enqueue(QueueEnqueueRequest req, StreamObserver<QueueReply> out) {
            respond(write(Convert.command(req), Result.QueueReply.class, Convert::reply), out);
        }

        @Override
        public void claim(QueueClaimRequest req, StreamObserver<QueueReply> out) {
            respond(write(Convert.command(req), Result.QueueReply.class, Convert::reply), out);
        }

        @Override
        public void done(QueueDoneRequest req, StreamObserver<QueueReply> out) {
            respond(write(Convert.command(req), Result.QueueReply.class, Convert::reply), out);
        }

        @Override
        public void retry(QueueRetryRequest req, StreamObserver<QueueReply> out) {
            respond(write(Convert.command(req), Result.QueueReply.class, Convert::reply), out);
        }

        @Override
        public void get(GetQueueRequest req, StreamObserver<QueueInfo> out) {
            respond(router.read(new Query.GetQueue(req.getQueue())).thenApply(q -> Convert.info(req.getQueue(), q)),
                    out);
        }
    }

    // ---- node to node ---------------------------------------------------------------------------

    /**
     * The members-only keep-alive and address calls (the cluster secret is checked by an interceptor
     * before any of this runs). Forwarded writes travel on {@link ForwardLinkService}'s stream.
     */
    final class ForwardService extends ForwardGrpc.ForwardImplBase {
        @Override
        public void keepAlive(KeepAliveBatch req, StreamObserver<KeepAliveBatchAck> out) {
            if (!router.node().isLeader()) {
                out.onError(ApiErrors.unavailable("not the leader", router.leaderApi().orElse(null)));
                return;
            }
            KeepAliveBatchAck.Builder b = KeepAliveBatchAck.newBuilder();
            for (long s : req.getSessionsList()) {
                if (!leases.touch(s)) {
                    b.addUnknown(s);
                }
            }
            out.onNext(b.build());
            out.onCompleted();
        }

        @Override
        public void announce(AnnounceRequest req, StreamObserver<AnnounceAck> out) {
            BatonNode node = router.node();
            if (!node.isLeader()) {
                out.onError(ApiErrors.unavailable("not the leader", router.leaderApi().orElse(null)));
                return;
            }
            String raft = req.getRaftAddress();
            if (raft.equals(node.options().endpoint()) || !node.peers().contains(raft)) {
                out.onError(Status.FAILED_PRECONDITION.withDescription(raft + " is not a member this leader can"
                                + " announce (members: " + node.peers() + "; the leader announces itself)")
                        .asRuntimeException(ApiErrors.trailers("NOT_A_MEMBER", null)));
                return;
            }
            if (req.getApiAddress().isEmpty()) {
                out.onError(Status.INVALID_ARGUMENT.withDescription("api_address must be host:port")
                        .asRuntimeException(ApiErrors.trailers("INVALID_ARGUMENT", null)));
                return;
            }
            // Created here, by the leader, from the checked request: never decoded from the caller's bytes.
            respond(node.submit(new Command.AnnounceNode(raft, req.getNodeId(), req.getApiAddress())).handle((r, t) -> {
                if (t != null) {
                    throw ApiErrors.toStatus(t, null);
                }
                if (r instanceof Result.Rejected rej) {
                    throw ApiErrors.rejected(rej);
                }
                return AnnounceAck.getDefaultInstance();
            }), out);
        }
    }
}
