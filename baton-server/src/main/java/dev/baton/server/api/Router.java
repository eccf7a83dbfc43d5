package dev.baton.server.api;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import dev.baton.api.internal.v1.AnnounceAck;
import dev.baton.api.internal.v1.AnnounceRequest;
import dev.baton.api.internal.v1.ForwardGrpc;
import dev.baton.api.internal.v1.KeepAliveBatch;
import dev.baton.api.internal.v1.KeepAliveBatchAck;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryWriter;
import dev.baton.server.raft.BatonNode;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Where a request goes. Writes run on the leader: proposed through the local batcher when this node
 * leads, otherwise forwarded once to the leader's API address (learned from the replicated address
 * book, {@link Query.ListNodes}) over this node's batched link to it ({@link ForwardLink}: one
 * stream, many commands per message, in submission order). Reads are linearizable on this node
 * (ReadIndex), so they are never forwarded.
 *
 * <p>A forwarded write is never forwarded again: a node that receives a forwarded command and is
 * not the leader answers UNAVAILABLE, and the client retries with the same request id (the core
 * returns the first answer if the first attempt did apply).
 *
 * <p>Only {@link Command.ClientCommand}s go through here: the doors cannot even name a leader-only
 * command to it, and the leader's {@code Forward} service refuses any other. Every forwarded call
 * carries the cluster secret ({@link ClusterSecret}).
 *
 * <h2>Fail-over</h2>
 * A forwarded write in flight to a leader that is paused or cut off would get no answer until its
 * deadline. So every forwarded write not answered yet is failed (with its link) as soon as this
 * node's idea of the leader changes away from the node it went to (this follower's election timeout
 * passed without a heartbeat, or another node won an election). A write that may safely be sent twice (a session request with a request id,
 * or opening a session with a client token: the core answers a repeat with the first answer) is then
 * sent again, every {@value #RETRY_PAUSE_MS} ms, to whichever node leads by then (this one included),
 * until {@value #FORWARD_DEADLINE_MS} ms after it arrived; the same happens when there is no leader
 * yet, or the leader refuses with UNAVAILABLE (starting, stepping down). A call from a gRPC client
 * (it has a deadline) stops retrying a little before that deadline, so that the client hears
 * UNAVAILABLE rather than a deadline, and at once when this node knows no leader, so that a client
 * of a node cut off from the others tries another node as soon as it would have before.
 */
public final class Router implements AutoCloseable {
    private static final long FORWARD_DEADLINE_MS = 10_000;
    /** The pause between two attempts of a write while the leader is unknown or unreachable. */
    static final long RETRY_PAUSE_MS = 20;
    /** A gRPC caller hears the last failure this long before its own deadline. */
    private static final long CALLER_DEADLINE_MARGIN_MS = 250;
    /** How often forwarded writes are checked for their deadline. */
    private static final long LINK_SWEEP_MS = 100;

    private final BatonNode node;
    private final LeaseKeeper leases;
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
    private final LongAdder resent = new LongAdder();
    private final CallerAccess access;
    private volatile boolean closed;

    /**
     * @param clusterSecret      sent with every {@code Forward} call: the leader serves members only
     * @param memberCredentials  how this node's channels to other members' API ports are secured
     *                           (plaintext, or TLS when the API port has it: {@link ApiTls})
     */
    public Router(BatonNode node, LeaseKeeper leases, ClusterSecret clusterSecret, ChannelCredentials memberCredentials) {
        this.node = node;
        this.leases = leases;
        this.clusterSecret = clusterSecret.clientInterceptor();
        this.memberCredentials = Objects.requireNonNull(memberCredentials, "memberCredentials");
        node.addLeaderChangeListener(this::leaderChanged);
        this.access = new CallerAccess(new CallerAccess.Reader() {
            @Override
            public <R> R readLocal(Query<R> q) {
                return node.readLocal(q);
            }

            @Override
            public <R> CompletableFuture<R> read(Query<R> q) {
                return readAnything(q);
            }
        });
    }

    /**
     * The leader is now {@code leaderRaft} (null: none): every forwarded write not answered yet that
     * went elsewhere is failed at once (as UNAVAILABLE: its outcome is unknown) rather than left to
     * its deadline, with its link.
     */
    private void leaderChanged(String leaderRaft) {
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

    /** Frames sent on the forwarding links (for metrics: commands per frame = commands / frames). */
    public long framesForwarded() {
        return framesForwarded.sum();
    }

    /** Commands sent in those frames (for metrics). */
    public long commandsForwarded() {
        return commandsForwarded.sum();
    }

    /** Forwarded writes failed at once because the leader changed away from their target (for metrics). */
    public long forwardsAbandoned() {
        return abandoned.sum();
    }

    /** Writes sent again after an UNAVAILABLE attempt (for metrics). */
    public long writesResent() {
        return resent.sum();
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
        return write(c, (cmd, raft, api, caller, deadline) -> forward(raft, api, cmd, false, null, deadline));
    }

    /** How a forwarded write reaches the leader: given its API address, the caller's context and a deadline. */
    @FunctionalInterface
    private interface Via {
        CompletableFuture<Result> forward(Command.ClientCommand c, String raft, String api, Context caller,
                                          long deadlineNanos);
    }

    /**
     * Runs {@code c} on the leader through {@code via}, once the caller of the gRPC call it is made
     * for (if the port asks for tokens) may send it ({@link CallerAccess}).
     */
    private CompletableFuture<Result> write(Command.ClientCommand c, Via via) {
        Context caller = Context.current();
        AuthTokens.Principal principal = TokenAuth.PRINCIPAL.get(caller);
        if (CallerAccess.unlimited(principal)) {
            return route(c, via, caller);
        }
        return access.authorize(principal, c).thenCompose(allowed -> route(allowed, via, caller));
    }

    /**
     * Runs {@code c} on the leader through {@code via}, retrying it (see the class comment) while
     * that is safe and the failure says the leader is unknown, unreachable or changed.
     */
    private CompletableFuture<Result> route(Command.ClientCommand c, Via via, Context caller) {
        if (node.isLeader()) {
            return writeLocal(c);
        }
        long windowMs = FORWARD_DEADLINE_MS;
        Deadline callerDeadline = caller.getDeadline();
        if (callerDeadline != null) {
            windowMs = Math.min(windowMs, callerDeadline.timeRemaining(TimeUnit.MILLISECONDS) - CALLER_DEADLINE_MARGIN_MS);
        }
        long deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(windowMs, 0));
        if (!resendable(c) || windowMs <= RETRY_PAUSE_MS) {
            return attempt(c, via, caller, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FORWARD_DEADLINE_MS));
        }
        CompletableFuture<Result> out = new CompletableFuture<>();
        retryUntil(c, via, caller, deadlineNanos, out);
        return out;
    }

    private void retryUntil(Command.ClientCommand c, Via via, Context caller, long deadlineNanos, CompletableFuture<Result> out) {
        CompletableFuture<Result> f;
        try {
            f = attempt(c, via, caller, deadlineNanos);
        } catch (RuntimeException e) { // e.g. shutting down
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, t) -> {
            if (t == null) {
                out.complete(r);
                return;
            }
            StatusRuntimeException s = ApiErrors.toStatus(t, null);
            // A gRPC client (its call has a deadline) may be cut off with this node: with no leader in
            // sight it hears UNAVAILABLE at once and tries another node, as before.
            boolean leaderInSight = caller.getDeadline() == null || node.leader().isPresent();
            boolean more = s.getStatus().getCode() == Status.Code.UNAVAILABLE && !closed && !caller.isCancelled()
                    && leaderInSight
                    && deadlineNanos - System.nanoTime() > TimeUnit.MILLISECONDS.toNanos(RETRY_PAUSE_MS);
            if (!more) {
                out.completeExceptionally(s);
                return;
            }
            resent.increment();
            // Off the thread that failed it (an event loop, or the apply thread on a leader change).
            CompletableFuture.delayedExecutor(RETRY_PAUSE_MS, TimeUnit.MILLISECONDS)
                    .execute(() -> retryUntil(c, via, caller, deadlineNanos, out));
        });
    }

    /** True if sending {@code c} twice has the effect of sending it once (the core remembers the first answer). */
    private static boolean resendable(Command.ClientCommand c) {
        return (c instanceof Command.SessionRequest sr && sr.requestId() != 0)
                || (c instanceof Command.OpenSession o && o.clientToken() != null)
                || (c instanceof Command.OpenSessionThen ot && ot.open().clientToken() != null
                        && ot.first().requestId() != 0);
    }

    /** One attempt: locally if this node leads, else forwarded to the leader it knows of. */
    private CompletableFuture<Result> attempt(Command.ClientCommand c, Via via, Context caller, long deadlineNanos) {
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
        return via.forward(c, raftLeader.get(), api.get(), caller, deadlineNanos);
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
        return write(c, (cmd, raft, api, caller, deadline) -> forward(raft, api, cmd, true, null, deadline));
    }

    /**
     * A write that may wait (an acquire with a timeout). Completes with its result like
     * {@link #write}; when it was forwarded and answered QUEUED, the leader also sends the wait's
     * final outcome the moment it applies it, and {@code outcome} gets it (on a transport thread),
     * well before this follower would apply that entry itself. It may never be called (leader
     * change, session end): the caller's own apply stream still delivers the outcome, later.
     */
    public CompletableFuture<Result> writeWithOutcome(Command.ClientCommand c, Consumer<Result> outcome) {
        return write(c, (cmd, raft, api, caller, deadline) -> forward(raft, api, cmd, false, outcome, deadline));
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
            } else if (c instanceof Command.OpenSessionThen && r instanceof Result.SessionOpenedThen ot) {
                leases.opened(ot.opened().session(), ot.opened().ttlMs());
            }
            return r;
        });
    }

    /**
     * A linearizable read on this node; for the caller of the gRPC call it is made for (if the port
     * asks for tokens), only what that caller may see ({@link CallerAccess}).
     */
    public <R> CompletableFuture<R> read(Query<R> q) {
        AuthTokens.Principal principal = TokenAuth.PRINCIPAL.get();
        if (CallerAccess.unlimited(principal)) {
            return readAnything(q);
        }
        return access.read(principal, q, this::readAnything);
    }

    /** Refusals of {@link CallerAccess} (for metrics). */
    public long refusedOutsideKeyPrefixes() {
        return access.refusedOutsidePrefixes();
    }

    /** Refusals of {@link CallerAccess} (for metrics). */
    public long refusedNotSessionOwner() {
        return access.refusedNotOwner();
    }

    private <R> CompletableFuture<R> readAnything(Query<R> q) {
        return node.read(q).handle((r, t) -> {
            if (t != null) {
                throw ApiErrors.toStatus(t, leaderHint());
            }
            return r;
        });
    }

    /**
     * Sends {@code c} over the link to the leader at {@code raft}/{@code api}.
     *
     * @param outcome null, or (for {@link #writeWithOutcome}) what gets a waiting acquire's outcome
     */
    private CompletableFuture<Result> forward(String raft, String api, Command.ClientCommand c, boolean inApplyOrder,
                                              Consumer<Result> outcome, long deadlineNanos) {
        byte[] encoded;
        try {
            encoded = CommandCodec.encodeChecked(c);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(ApiErrors.toStatus(e, null));
        }
        long waitMs = c instanceof Command.PoolAcquire p ? p.timeoutMs()
                : c instanceof Command.LockAcquire l ? l.timeoutMs() : 0;
        ForwardLink link;
        try {
            link = link(raft, api);
        } catch (RuntimeException e) { // shutting down
            return CompletableFuture.failedFuture(ApiErrors.toStatus(e, api));
        }
        CompletableFuture<Result> f = link.submit(encoded, inApplyOrder, waitMs > 0 ? outcome : null, deadlineNanos,
                deadlineNanos + TimeUnit.MILLISECONDS.toNanos(Math.min(Math.max(waitMs, 0), 86_400_000L)));
        // A change between reading the leader and queuing the command was not seen by leaderChanged.
        if (!node.leader().map(raft::equals).orElse(false)) {
            dropLink(link, ApiErrors.unavailable("the leader changed while the call was forwarded to " + api, null));
        }
        return f;
    }

    /**
     * Proposes forwarded commands on this node, which must be the leader, all at once and in order
     * ({@link BatonNode#submitAll}); otherwise like {@link #writeLocal}, one future per command.
     */
    List<CompletableFuture<Result>> writeLocalAll(List<Command.ClientCommand> commands) {
        for (Command.ClientCommand c : commands) {
            if (c instanceof Command.SessionRequest sr && sr.session() != 0) {
                leases.touch(sr.session());
            }
        }
        List<CompletableFuture<Result>> submitted = node.submitAll(commands);
        List<CompletableFuture<Result>> out = new ArrayList<>(submitted.size());
        for (int i = 0; i < submitted.size(); i++) {
            Command.ClientCommand c = commands.get(i);
            out.add(submitted.get(i).handle((r, t) -> {
                if (t != null) {
                    throw ApiErrors.toStatus(t, leaderHint());
                }
                if (c instanceof Command.OpenSession && r instanceof Result.SessionOpened o) {
                    leases.opened(o.session(), o.ttlMs());
                }
                return r;
            }));
        }
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
        String tls = dev.baton.server.tls.HandshakeFailure.explain(s.getStatus().getCause());
        if (tls != null) {
            // Also a misconfigured cluster: say which certificates to check.
            return ApiErrors.unavailable("this node cannot forward to the leader at " + api + ": " + tls + " (the"
                    + " leader's API certificate must be signed by a CA of this node's --tls-ca-file and name " + api
                    + ", and this node's certificate by a CA the leader accepts)", null);
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

    /** A channel to another node's API port (TLS when this node's API port has it), kept for reuse. */
    public ManagedChannel channel(String api) {
        if (closed) {
            throw ApiErrors.unavailable("node is shutting down", null);
        }
        // directExecutor: every callback only completes a future or hands off to an event loop, and a
        // thread hand-off costs ~30 us of CPU on the small VMs measured (docs/benchmark-history.md).
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
