package dev.baton.server.grpc;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import dev.baton.api.internal.v1.AnnounceAck;
import dev.baton.api.internal.v1.AnnounceRequest;
import dev.baton.api.internal.v1.ForwardGrpc;
import dev.baton.api.internal.v1.KeepAliveBatch;
import dev.baton.api.internal.v1.KeepAliveBatchAck;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.route.Forwarder;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * How this node reaches the other members' API ports over gRPC: one batched link per leader for
 * forwarded writes ({@link ForwardLink}), the members-only {@code Forward} calls (keep-alives,
 * address announcements) and the channels they use. Every call carries the cluster secret
 * ({@link ClusterSecret}). Failures leave here as {@link dev.baton.server.route.BatonException}s.
 */
public final class PeerForwarding implements Forwarder {
    /** How often forwarded writes are checked for their deadline. */
    private static final long LINK_SWEEP_MS = 100;

    private final BatonNode node;
    private final ClientInterceptor clusterSecret;
    private final ChannelCredentials memberCredentials;
    private final ConcurrentHashMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    /** The batched links to the leader (by Raft endpoint and API address), failed when the leader changes away. */
    private final ConcurrentHashMap<String, ForwardLink> links = new ConcurrentHashMap<>();
    private final ForwardLink.Limits linkLimits = ForwardLink.Limits.defaults();
    /** Fails forwarded writes past their deadline; one daemon thread, started with the first link. */
    private volatile ScheduledExecutorService linkTimer;
    private final LongAdder framesForwarded = new LongAdder();
    private final LongAdder commandsForwarded = new LongAdder();
    private final LongAdder abandoned = new LongAdder();
    private volatile boolean closed;

    /**
     * @param clusterSecret      sent with every call: the leader serves members only
     * @param memberCredentials  how this node's channels to other members' API ports are secured
     *                           (plaintext, or TLS when the API port has it: {@link ApiTls})
     */
    public PeerForwarding(BatonNode node, ClusterSecret clusterSecret, ChannelCredentials memberCredentials) {
        this.node = node;
        this.clusterSecret = clusterSecret.clientInterceptor();
        this.memberCredentials = Objects.requireNonNull(memberCredentials, "memberCredentials");
    }

    @Override
    public void leaderChanged(String leaderRaft) {
        for (ForwardLink link : links.values()) {
            if (!link.raft().equals(leaderRaft)) {
                dropLink(link, ApiErrors.unavailable("the leader changed while the call was forwarded to "
                        + link.api(), null));
            }
        }
    }

    private void dropLink(ForwardLink link, StatusRuntimeException why) {
        links.remove(link.raft() + "|" + link.api(), link);
        abandoned.add(link.fail(why));
    }

    /** The link to the leader at {@code raft}/{@code api}, opened if there is none (or it broke). */
    private ForwardLink link(String raft, String api) {
        ForwardLink link = links.get(raft + "|" + api);
        if (link != null) {
            return link;
        }
        ManagedChannel ch = channel(api);
        startLinkTimer();
        return links.computeIfAbsent(raft + "|" + api, k -> new ForwardLink(raft, api, ch, clusterSecret, linkLimits,
                node::whenApplied, framesForwarded, commandsForwarded, broken -> links.remove(k, broken)));
    }

    private void startLinkTimer() {
        if (linkTimer != null) {
            return;
        }
        synchronized (links) {
            if (linkTimer != null || closed) {
                return;
            }
            ScheduledExecutorService t = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread th = new Thread(r, "baton-forward-deadlines");
                th.setDaemon(true);
                return th;
            });
            t.scheduleWithFixedDelay(() -> {
                long now = System.nanoTime();
                for (ForwardLink l : links.values()) {
                    l.expire(now);
                }
            }, LINK_SWEEP_MS, LINK_SWEEP_MS, TimeUnit.MILLISECONDS);
            linkTimer = t;
        }
    }

    @Override
    public long framesForwarded() {
        return framesForwarded.sum();
    }

    @Override
    public long commandsForwarded() {
        return commandsForwarded.sum();
    }

    @Override
    public long forwardsAbandoned() {
        return abandoned.sum();
    }

    @Override
    public CompletableFuture<Result> forward(String raft, String api, Command.ClientCommand c, boolean inApplyOrder,
                                             Consumer<Result> outcome, long deadlineNanos) {
        byte[] encoded;
        try {
            encoded = CommandCodec.encodeChecked(c);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(ApiErrors.toBaton(e, null));
        }
        long waitMs = c instanceof Command.PoolAcquire p ? p.timeoutMs()
                : c instanceof Command.LockAcquire l ? l.timeoutMs() : 0;
        ForwardLink link;
        try {
            link = link(raft, api);
        } catch (RuntimeException e) { // shutting down
            return CompletableFuture.failedFuture(ApiErrors.toBaton(e, api));
        }
        return link.submit(encoded, inApplyOrder, waitMs > 0 ? outcome : null, deadlineNanos,
                deadlineNanos + TimeUnit.MILLISECONDS.toNanos(Math.min(Math.max(waitMs, 0), 86_400_000L)))
                .exceptionally(t -> {
                    throw ApiErrors.toBaton(t, null);
                });
    }

    @Override
    public CompletableFuture<List<Long>> keepAlives(String api, List<Long> sessions) {
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
                out.completeExceptionally(ApiErrors.toBaton(t, null));
            }
        }, MoreExecutors.directExecutor());
        return out;
    }

    @Override
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
                out.completeExceptionally(ApiErrors.toBaton(forwardFailure(t, api), null));
            }
        }, MoreExecutors.directExecutor());
        return out;
    }

    private ForwardGrpc.ForwardFutureStub forwardFutureStub(String api) {
        return ForwardGrpc.newFutureStub(channel(api)).withInterceptors(clusterSecret);
    }

    /**
     * A failed call to the leader as the status for this node's client. The leader refusing this
     * node's cluster secret is a misconfigured cluster, not the client's fault: UNAVAILABLE (another
     * node may serve it), saying what the operator has to fix.
     */
    static StatusRuntimeException forwardFailure(Throwable t, String api) {
        StatusRuntimeException s = ApiErrors.toStatus(t, api);
        if (s.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
            return ApiErrors.unavailable("this node cannot forward to the leader at " + api + ": the leader refused"
                    + " its cluster secret (every node needs the same --cluster-secret-file)", null);
        }
        String tls = dev.baton.server.security.HandshakeFailure.explain(s.getStatus().getCause());
        if (tls != null) {
            // Also a misconfigured cluster: say which certificates to check.
            return ApiErrors.unavailable("this node cannot forward to the leader at " + api + ": " + tls + " (the"
                    + " leader's API certificate must be signed by a CA of this node's --tls-ca-file and name " + api
                    + ", and this node's certificate by a CA the leader accepts)", null);
        }
        return s;
    }

    /**
     * The forwarding link's stream to the leader failed (the leader died, a connection broke): every
     * command on it has an unknown outcome, whatever code the transport chose (a TLS connection cut
     * mid-stream can end as UNKNOWN "channel closed"). Unknown outcomes are UNAVAILABLE: the router
     * sends the command again (to a new leader) with the same request id, which the core answers
     * once, and a client hearing it does the same.
     */
    static StatusRuntimeException linkBroken(Throwable t, String api) {
        StatusRuntimeException s = forwardFailure(t, api);
        if (s.getStatus().getCode() == Status.Code.UNAVAILABLE) {
            return s;
        }
        return ApiErrors.unavailable("the forwarding link to the leader at " + api + " broke ("
                + s.getStatus().getCode() + (s.getStatus().getDescription() == null ? "" : ": "
                + s.getStatus().getDescription()) + "); the outcome is unknown, send it again", null);
    }

    /** A channel to another node's API port (TLS when this node's API port has it), kept for reuse. */
    public ManagedChannel channel(String api) {
        if (closed) {
            throw ApiErrors.unavailable("node is shutting down", null);
        }
        // directExecutor: every callback only completes a future or hands off to an event loop, and a
        // thread hand-off costs ~30 us of CPU on the small VMs measured (BENCHMARKS.md).
        return channels.computeIfAbsent(api, a -> Grpc.newChannelBuilder(a, memberCredentials)
                .directExecutor().build());
    }

    @Override
    public void close() {
        closed = true;
        for (ForwardLink link : links.values()) {
            link.fail(ApiErrors.unavailable("node is shutting down", null));
        }
        links.clear();
        synchronized (links) {
            if (linkTimer != null) {
                linkTimer.shutdownNow();
            }
        }
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
