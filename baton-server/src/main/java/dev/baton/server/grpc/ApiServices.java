package dev.baton.server.grpc;

import dev.baton.server.route.Router;
import dev.baton.server.route.LeaseKeeper;
import dev.baton.server.route.WaitingWrites;
import dev.baton.server.route.Caller;

import dev.baton.api.internal.v1.AnnounceAck;
import dev.baton.api.internal.v1.AnnounceRequest;
import dev.baton.api.internal.v1.ForwardGrpc;
import dev.baton.api.internal.v1.KeepAliveBatch;
import dev.baton.api.internal.v1.KeepAliveBatchAck;
import dev.baton.api.v1.*;
import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * The gRPC services of {@code baton.v1} (and the node-to-node {@code Forward} service). Each call
 * turns into a core command (writes, through the {@link Router}) or a linearizable query; nothing
 * here blocks a gRPC thread.
 */
public final class ApiServices {
    private final Router router;
    private final WaitingWrites waitingWrites;
    private final StreamHub streams;
    private final LeaseKeeper leases;
    private final long defaultTtlMs;

    public ApiServices(Router router, WaitingWrites waitingWrites, StreamHub streams, LeaseKeeper leases,
                long defaultTtlMs) {
        this.router = router;
        this.waitingWrites = waitingWrites;
        this.streams = streams;
        this.leases = leases;
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
        return router.write(c, GrpcCaller.current()).thenApply(r -> expect(r, type, map));
    }

    /**
     * A write that may answer QUEUED: answered with the wait's outcome unless the caller asked for
     * the QUEUED answer ({@link WaitingWrites#write}).
     */
    private <R extends Result, T> void waitingWrite(Command.ClientCommand c, boolean returnQueued, Class<R> type,
                                                    Function<R, T> map, StreamObserver<T> out) {
        respond(waitingWrites.write(c, GrpcCaller.current(), returnQueued, cancel -> {
            if (out instanceof ServerCallStreamObserver<T> sco) {
                sco.setOnCancelHandler(cancel);
            }
        }).thenApply(r -> expect(r, type, map)), out);
    }

    /** A linearizable read, of what the current call's caller may see. */
    private <Q> CompletableFuture<Q> read(Query<Q> q) {
        return router.read(q, GrpcCaller.current());
    }

    // ---- sessions -------------------------------------------------------------------------------

    public final class SessionsService extends SessionsGrpc.SessionsImplBase {
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
            respond(read(new Query.GetSession(req.getSession())).thenApply(s -> {
                if (s == null) {
                    throw Status.NOT_FOUND.withDescription("no session " + Long.toUnsignedString(req.getSession()))
                            .asRuntimeException(ApiErrors.trailers("UNKNOWN_SESSION", null));
                }
                return Convert.info(s);
            }), out);
        }

        @Override
        public void list(ListSessionsRequest req, StreamObserver<ListSessionsResponse> out) {
            respond(read(new Query.ListSessionLeases()).thenApply(list -> {
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
                /** An acknowledgement waits for the leader's (see {@code ack}). */
                private boolean ackWaiting;

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
                        read(new Query.GetSession(session)).whenComplete((s, t) -> bind(s, t));
                        return;
                    }
                    if (req.getSession() != 0 && req.getSession() != session) {
                        out.onError(Status.INVALID_ARGUMENT.withDescription("one stream serves one session")
                                .asRuntimeException(ApiErrors.trailers("INVALID_ARGUMENT", null)));
                        return;
                    }
                    if (stream != null) {
                        long arrived = leases.nowNanos();
                        leases.keepAlive(session);
                        ack(arrived);
                    }
                }

                /**
                 * Acknowledges the client's keep-alive once the leader has acknowledged a renewal of
                 * the session sent after it arrived ({@link LeaseKeeper#whenAcknowledgedSince}), not
                 * merely because this node heard it: a node cut off from the leader does not acknowledge,
                 * so the client's stream moves to another node (its keep-alive goes unanswered) while
                 * its session still lives, and is renewed there. One acknowledgement waits at a time;
                 * it answers the keep-alives that came meanwhile too.
                 */
                private void ack(long arrived) {
                    if (ackWaiting) {
                        return;
                    }
                    ackWaiting = true;
                    StreamHub.Stream s = stream;
                    long ttl = ttlMs;
                    leases.whenAcknowledgedSince(session, arrived).thenAccept(renewed -> {
                        synchronized (this) {
                            ackWaiting = false;
                        }
                        if (renewed) {
                            s.ack(ttl);
                        }
                    });
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
                    long arrived = leases.nowNanos();
                    leases.keepAlive(session);
                    ttlMs = s.ttlMs();
                    stream = new StreamHub.Stream(session, out);
                    streams.add(stream);
                    ack(arrived);
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

    public final class PoolsService extends PoolsGrpc.PoolsImplBase {
        @Override
        public void acquire(PoolAcquireRequest req, StreamObserver<PoolReply> out) {
            waitingWrite(Convert.command(req), req.getReturnQueued(), Result.PoolReply.class, Convert::reply, out);
        }

        @Override
        public void release(PoolReleaseRequest req, StreamObserver<PoolReply> out) {
            respond(write(Convert.command(req), Result.PoolReply.class, Convert::reply), out);
        }

        @Override
        public void get(GetPoolRequest req, StreamObserver<PoolInfo> out) {
            respond(read(new Query.GetPool(req.getKey())).thenApply(p -> Convert.info(req.getKey(), p)), out);
        }

        @Override
        public void totals(GetPoolTotalsRequest req, StreamObserver<PoolTotals> out) {
            respond(read(new Query.GetPoolTotals()).thenApply(Convert::info), out);
        }
    }

    // ---- locks ----------------------------------------------------------------------------------

    public final class LocksService extends LocksGrpc.LocksImplBase {
        @Override
        public void acquire(LockAcquireRequest req, StreamObserver<LockReply> out) {
            waitingWrite(Convert.command(req), req.getReturnQueued(), Result.LockReply.class, Convert::reply, out);
        }

        @Override
        public void release(LockReleaseRequest req, StreamObserver<LockReply> out) {
            respond(write(Convert.command(req), Result.LockReply.class, Convert::reply), out);
        }

        @Override
        public void get(GetLockRequest req, StreamObserver<LockInfo> out) {
            respond(read(new Query.GetLock(req.getName())).thenApply(l -> Convert.info(req.getName(), l)), out);
        }
    }

    // ---- dispatch -------------------------------------------------------------------------------

    public final class DispatchService extends DispatchGrpc.DispatchImplBase {
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
            respond(read(new Query.GetGroup(req.getGroup())).thenApply(g -> Convert.info(req.getGroup(), g)),
                    out);
        }
    }

    // ---- events and queues ----------------------------------------------------------------------

    public final class EventsService extends EventsGrpc.EventsImplBase {
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
            respond(read(new Query.GetEvent(req.getName())).thenApply(e -> Convert.info(req.getName(), e)), out);
        }

        @Override
        public void list(ListEventsRequest req, StreamObserver<ListEventsResponse> out) {
            respond(read(new Query.ListEvents()).thenApply(list -> {
                ListEventsResponse.Builder b = ListEventsResponse.newBuilder();
                for (View.Event e : list) {
                    b.addEvents(Convert.info(e.name(), e));
                }
                return b.build();
            }), out);
        }
    }

    public final class QueuesService extends QueuesGrpc.QueuesImplBase {
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
            respond(read(new Query.GetQueue(req.getQueue())).thenApply(q -> Convert.info(req.getQueue(), q)),
                    out);
        }
    }

    // ---- node to node ---------------------------------------------------------------------------

    /**
     * The members-only keep-alive and address calls (the cluster secret is checked by an interceptor
     * before any of this runs). Forwarded writes travel on {@link ForwardLinkService}'s stream.
     */
    public final class ForwardService extends ForwardGrpc.ForwardImplBase {
        @Override
        public void keepAlive(KeepAliveBatch req, StreamObserver<KeepAliveBatchAck> out) {
            if (!router.node().isLeader()) {
                out.onError(ApiErrors.unavailable("not the leader", router.leaderApi().orElse(null)));
                return;
            }
            if (!leases.tracking()) {
                // Just elected, its leases not loaded: it cannot tell a live session from an expired one
                // yet, and the follower would take "known" as an acknowledgement. It asks again in 200 ms.
                out.onError(ApiErrors.unavailable("the leader is loading its session leases", null));
                return;
            }
            KeepAliveBatchAck.Builder b = KeepAliveBatchAck.newBuilder();
            for (long s : req.getSessionsList()) {
                if (!leases.touch(s)) {
                    b.addUnknown(s);
                }
            }
            // The follower takes the answer as the leader's acknowledgement of these sessions (what lets
            // its doors tell grants): answered once a quorum confirms that this node still leads.
            leases.confirmedLeading().whenComplete((v, t) -> {
                if (t != null) {
                    out.onError(ApiErrors.unavailable("leadership not confirmed: " + t.getMessage(),
                            router.leaderApi().orElse(null)));
                    return;
                }
                out.onNext(b.build());
                out.onCompleted();
            });
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
