package dev.baton.server.api;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import dev.baton.api.internal.v1.AnnounceAck;
import dev.baton.api.internal.v1.AnnounceRequest;
import dev.baton.api.internal.v1.ForwardGrpc;
import dev.baton.api.internal.v1.KeepAliveBatch;
import dev.baton.api.internal.v1.KeepAliveBatchAck;
import dev.baton.api.internal.v1.ProposeRequest;
import dev.baton.api.internal.v1.ProposeResponse;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryWriter;
import dev.baton.server.raft.BatonNode;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Where a request goes. Writes run on the leader: proposed through the local batcher when this node
 * leads, otherwise forwarded once to the leader's API address (learned from the replicated address
 * book, {@link Query.ListNodes}) with {@code Forward.Propose}. Reads are linearizable on this node
 * (ReadIndex), so they are never forwarded.
 *
 * <p>Only {@link Command.ClientCommand}s go through here: the doors cannot even name a leader-only
 * command to it, and the leader's {@code Forward} service refuses any other. Every forwarded call
 * carries the cluster secret ({@link ClusterSecret}).
 *
 * <p>A forwarded write is never forwarded again: a node that receives {@code Forward.Propose} and
 * is not the leader answers UNAVAILABLE, and the client retries with the same request id (the core
 * returns the first answer if the first attempt did apply).
 */
public final class Router implements AutoCloseable {
    private static final long FORWARD_DEADLINE_MS = 10_000;

    private final BatonNode node;
    private final LeaseKeeper leases;
    private final ClientInterceptor clusterSecret;
    private final ConcurrentHashMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** @param clusterSecret sent with every {@code Forward} call: the leader serves members only */
    public Router(BatonNode node, LeaseKeeper leases, ClusterSecret clusterSecret) {
        this.node = node;
        this.leases = leases;
        this.clusterSecret = clusterSecret.clientInterceptor();
    }

    public BatonNode node() {
        return node;
    }

    /** The leader's API address, if a leader is known and has announced itself. */
    public Optional<String> leaderApi() {
        Optional<String> raft = node.leader();
        if (raft.isEmpty()) {
            return Optional.empty();
        }
        return apiOf(raft.get());
    }

    /** The API address the address book has for a Raft endpoint. */
    public Optional<String> apiOf(String raftEndpoint) {
        for (View.Node n : node.readLocal(new Query.ListNodes())) {
            if (n.raftEndpoint().equals(raftEndpoint) && !n.apiEndpoint().isEmpty()) {
                return Optional.of(n.apiEndpoint());
            }
        }
        return Optional.empty();
    }

    private String leaderHint() {
        return leaderApi().orElse(null);
    }

    /** Runs a write on the leader, wherever that is; fails with a gRPC status exception. */
    public CompletableFuture<Result> write(Command.ClientCommand c) {
        return write(c, api -> forward(api, c, false));
    }

    /** How a write reaches the leader from a follower, given the leader's API address. */
    private CompletableFuture<Result> write(Command.ClientCommand c, java.util.function.Function<String, CompletableFuture<Result>> via) {
        if (node.isLeader()) {
            return writeLocal(c);
        }
        Optional<String> raftLeader = node.leader();
        if (raftLeader.isEmpty()) {
            return CompletableFuture.failedFuture(ApiErrors.unavailable("no leader", null));
        }
        if (raftLeader.get().equals(node.options().endpoint())) {
            // We are the leader by Raft but not yet accepting writes (older entries still applying).
            return CompletableFuture.failedFuture(ApiErrors.unavailable("leader is starting", null));
        }
        Optional<String> api = apiOf(raftLeader.get());
        if (api.isEmpty()) {
            return CompletableFuture.failedFuture(ApiErrors.unavailable(
                    "the leader " + raftLeader.get() + " has not announced its API address yet", null));
        }
        return via.apply(api.get());
    }

    /**
     * Like {@link #write} but in apply order on this node: the returned future completes only after
     * this node has applied the command's entry and handed its effects (and those of every earlier
     * entry) to the {@link dev.baton.server.raft.EffectListener}. Locally that is how proposals
     * complete anyway; a forwarded write waits for this node to catch up to the leader's answer. A
     * front door that writes both effects and answers to one connection (the line protocol) needs
     * this to keep them in log order.
     */
    public CompletableFuture<Result> writeInApplyOrder(Command.ClientCommand c) {
        return write(c, api -> forward(api, c, true));
    }

    /**
     * A write that may wait (an acquire with a timeout). Completes with its result like
     * {@link #write}; when it was forwarded and answered QUEUED, the leader also sends the wait's
     * final outcome the moment it applies it, and {@code outcome} gets it (on a transport thread),
     * well before this follower would apply that entry itself. It may never be called (leader
     * change, session end): the caller's own apply stream still delivers the outcome, later.
     */
    public CompletableFuture<Result> writeWithOutcome(Command.ClientCommand c, Consumer<Result> outcome) {
        return write(c, api -> forwardWait(api, c, outcome));
    }

    private CompletableFuture<Result> forwardWait(String api, Command.ClientCommand c, Consumer<Result> outcome) {
        byte[] encoded;
        try {
            encoded = CommandCodec.encodeChecked(c);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(ApiErrors.toStatus(e, null));
        }
        long waitMs = c instanceof Command.PoolAcquire p ? p.timeoutMs()
                : c instanceof Command.LockAcquire l ? l.timeoutMs() : 0;
        CompletableFuture<Result> first = new CompletableFuture<>();
        forwardStub(api)
                .withDeadlineAfter(FORWARD_DEADLINE_MS + Math.min(waitMs, 86_400_000L), TimeUnit.MILLISECONDS)
                .proposeWait(ProposeRequest.newBuilder().setCommand(ByteString.copyFrom(encoded)).build(),
                        new StreamObserver<ProposeResponse>() {
                            @Override
                            public void onNext(ProposeResponse r) {
                                Result result;
                                try {
                                    result = decodeResult(r.getResult().toByteArray());
                                } catch (RuntimeException e) {
                                    first.completeExceptionally(ApiErrors.toStatus(e, null));
                                    return;
                                }
                                if (!first.complete(result)) {
                                    outcome.accept(result);
                                }
                            }

                            @Override
                            public void onError(Throwable t) {
                                first.completeExceptionally(forwardFailure(t, api)); // no-op once answered
                            }

                            @Override
                            public void onCompleted() {
                                // Every call ends here, almost always answered already: build the
                                // exception (a stack trace: 1 % of a follower's CPU) only if it is needed.
                                if (!first.isDone()) {
                                    first.completeExceptionally(ApiErrors.unavailable("no answer from the leader", api));
                                }
                            }
                        });
        return first;
    }

    /**
     * Proposes on this node, which must be the leader (else UNAVAILABLE with a leader hint). A
     * session request counts as a sign of life of its session.
     */
    public CompletableFuture<Result> writeLocal(Command.ClientCommand c) {
        if (c instanceof Command.SessionRequest sr && sr.session() != 0) {
            leases.touch(sr.session());
        }
        CompletableFuture<Result> f = node.submit(c);
        return f.handle((r, t) -> {
            if (t != null) {
                throw ApiErrors.toStatus(t, leaderHint());
            }
            if (c instanceof Command.OpenSession && r instanceof Result.SessionOpened o) {
                leases.opened(o.session(), o.ttlMs());
            }
            return r;
        });
    }

    /** A linearizable read on this node. */
    public <R> CompletableFuture<R> read(Query<R> q) {
        return node.read(q).handle((r, t) -> {
            if (t != null) {
                throw ApiErrors.toStatus(t, leaderHint());
            }
            return r;
        });
    }

    private CompletableFuture<Result> forward(String api, Command.ClientCommand c, boolean inApplyOrder) {
        byte[] encoded;
        try {
            encoded = CommandCodec.encodeChecked(c);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(ApiErrors.toStatus(e, null));
        }
        CompletableFuture<Result> out = new CompletableFuture<>();
        var call = forwardFutureStub(api).withDeadlineAfter(FORWARD_DEADLINE_MS, TimeUnit.MILLISECONDS)
                .propose(ProposeRequest.newBuilder().setCommand(ByteString.copyFrom(encoded)).build());
        Futures.addCallback(call, new FutureCallback<ProposeResponse>() {
            @Override
            public void onSuccess(ProposeResponse r) {
                Result result;
                try {
                    result = decodeResult(r.getResult().toByteArray());
                } catch (RuntimeException e) {
                    out.completeExceptionally(ApiErrors.toStatus(e, null));
                    return;
                }
                if (inApplyOrder && r.getAppliedIndex() > 0) {
                    node.whenApplied(r.getAppliedIndex()).thenRun(() -> out.complete(result));
                } else {
                    out.complete(result);
                }
            }

            @Override
            public void onFailure(Throwable t) {
                // A transport failure to the leader: the outcome is unknown; the client retries.
                out.completeExceptionally(forwardFailure(t, api));
            }
        }, MoreExecutors.directExecutor());
        return out;
    }

    /** Sends keep-alives of sessions streamed here to the leader; answers the sessions it does not know. */
    public CompletableFuture<List<Long>> forwardKeepAlives(String api, List<Long> sessions) {
        CompletableFuture<List<Long>> out = new CompletableFuture<>();
        var call = forwardFutureStub(api).withDeadlineAfter(5, TimeUnit.SECONDS)
                .keepAlive(KeepAliveBatch.newBuilder().addAllSessions(sessions).build());
        Futures.addCallback(call, new FutureCallback<KeepAliveBatchAck>() {
            @Override
            public void onSuccess(KeepAliveBatchAck r) {
                out.complete(r.getUnknownList());
            }

            @Override
            public void onFailure(Throwable t) {
                out.completeExceptionally(t);
            }
        }, MoreExecutors.directExecutor());
        return out;
    }

    /**
     * Tells the leader at {@code api} where this node's gRPC API listens; the leader checks that this
     * node is a member and writes the address-book entry itself (a follower cannot propose it).
     */
    public CompletableFuture<Void> announce(String api, String raftEndpoint, String nodeId, String apiEndpoint) {
        CompletableFuture<Void> out = new CompletableFuture<>();
        var call = forwardFutureStub(api).withDeadlineAfter(5, TimeUnit.SECONDS)
                .announce(AnnounceRequest.newBuilder().setRaftAddress(raftEndpoint).setNodeId(nodeId)
                        .setApiAddress(apiEndpoint).build());
        Futures.addCallback(call, new FutureCallback<AnnounceAck>() {
            @Override
            public void onSuccess(AnnounceAck r) {
                out.complete(null);
            }

            @Override
            public void onFailure(Throwable t) {
                out.completeExceptionally(forwardFailure(t, api));
            }
        }, MoreExecutors.directExecutor());
        return out;
    }

    private ForwardGrpc.ForwardStub forwardStub(String api) {
        return ForwardGrpc.newStub(channel(api)).withInterceptors(clusterSecret);
    }

    private ForwardGrpc.ForwardFutureStub forwardFutureStub(String api) {
        return ForwardGrpc.newFutureStub(channel(api)).withInterceptors(clusterSecret);
    }

    /**
     * A failed call to the leader as the status for this node's client. The leader refusing this
     * node's cluster secret is a misconfigured cluster, not the client's fault: UNAVAILABLE (another
     * node may serve it), saying what the operator has to fix.
     */
    private static StatusRuntimeException forwardFailure(Throwable t, String api) {
        StatusRuntimeException s = ApiErrors.toStatus(t, api);
        if (s.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
            return ApiErrors.unavailable("this node cannot forward to the leader at " + api + ": the leader refused"
                    + " its cluster secret (every node needs the same --cluster-secret-file)", null);
        }
        return s;
    }

    static byte[] encodeResult(Result r) {
        BinaryWriter w = new BinaryWriter(64);
        CommandCodec.encodeResult(w, r);
        return w.toByteArray();
    }

    static Result decodeResult(byte[] b) {
        return CommandCodec.decodeResult(new BinaryReader(b));
    }

    /** A plaintext channel to another node's API port, kept for reuse. */
    public ManagedChannel channel(String api) {
        if (closed) {
            throw ApiErrors.unavailable("node is shutting down", null);
        }
        // directExecutor: every callback only completes a future or hands off to an event loop, and a
        // thread hand-off costs ~30 us of CPU on the small VMs measured (BENCHMARKS.md).
        return channels.computeIfAbsent(api, a -> ManagedChannelBuilder.forTarget(a).usePlaintext()
                .directExecutor().build());
    }

    @Override
    public void close() {
        closed = true;
        for (ManagedChannel ch : channels.values()) {
            ch.shutdownNow();
        }
        for (ManagedChannel ch : channels.values()) {
            try {
                ch.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
