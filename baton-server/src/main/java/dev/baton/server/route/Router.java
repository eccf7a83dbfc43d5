package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.security.AuthTokens;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Where a request goes. Writes run on the leader: proposed through the local batcher when this node
 * leads, otherwise forwarded once to the leader's API address (learned from the replicated address
 * book, {@link Query.ListNodes}) through the {@link Forwarder} (on gRPC: one batched
 * stream to it, many commands per message, in submission order). Reads are linearizable on this node
 * (ReadIndex), so they are never forwarded.
 *
 * <p>A forwarded write is never forwarded again: a node that receives a forwarded command and is
 * not the leader answers UNAVAILABLE, and the client retries with the same request id (the core
 * returns the first answer if the first attempt did apply).
 *
 * <p>Only {@link Command.ClientCommand}s go through here: the doors cannot even name a leader-only
 * command to it, and the leader's {@code Forward} service refuses any other. Every forwarded call
 * carries the cluster secret.
 *
 * <h2>Fail-over</h2>
 * A forwarded write in flight to a leader that is paused or cut off would get no answer until its
 * deadline. So every forwarded write not answered yet is failed (with its link) as soon as this
 * node's idea of the leader changes away from the node it went to (this follower's election timeout
 * passed without a heartbeat, or another node won an election). A write that may safely be sent twice (a session request with a request id,
 * or opening a session with a client token: the core answers a repeat with the first answer) is then
 * sent again, every {@value #RETRY_PAUSE_MS} ms, to whichever node leads by then (this one included),
 * until {@value #FORWARD_DEADLINE_MS} ms after it arrived; the same happens when there is no leader
 * yet, or the leader refuses with UNAVAILABLE (starting, stepping down). A call from a client with a
 * deadline (gRPC) stops retrying a little before that deadline, so that the client hears
 * UNAVAILABLE rather than a deadline, and at once when this node knows no leader, so that a client
 * of a node cut off from the others tries another node as soon as it would have before.
 */
public final class Router implements AutoCloseable {
    private static final long FORWARD_DEADLINE_MS = 10_000;
    /** The pause between two attempts of a write while the leader is unknown or unreachable. */
    static final long RETRY_PAUSE_MS = 20;
    /** A caller with a deadline hears the last failure this long before it. */
    private static final long CALLER_DEADLINE_MARGIN_MS = 250;

    private final BatonNode node;
    private final LeaseKeeper leases;
    private final Forwarder forwarder;
    private final LongAdder resent = new LongAdder();
    private final CallerAccess access;
    private volatile boolean closed;

    /** @param forwarder how writes reach the leader when this node does not lead */
    public Router(BatonNode node, LeaseKeeper leases, Forwarder forwarder) {
        this.node = node;
        this.leases = leases;
        this.forwarder = Objects.requireNonNull(forwarder, "forwarder");
        node.addLeaderChangeListener(forwarder::leaderChanged);
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

    /** Frames sent to leaders (for metrics: commands per frame = commands / frames). */
    public long framesForwarded() {
        return forwarder.framesForwarded();
    }

    /** Commands sent in those frames (for metrics). */
    public long commandsForwarded() {
        return forwarder.commandsForwarded();
    }

    /** Forwarded writes failed at once because the leader changed away from their target (for metrics). */
    public long forwardsAbandoned() {
        return forwarder.forwardsAbandoned();
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

    /** Runs a write on the leader, wherever that is, for a trusted caller; fails with a {@link BatonException}. */
    public CompletableFuture<Result> write(Command.ClientCommand c) {
        return write(c, Caller.TRUSTED);
    }

    /** Runs a write on the leader, wherever that is, once {@code caller} may send it; fails with a {@link BatonException}. */
    public CompletableFuture<Result> write(Command.ClientCommand c, Caller caller) {
        return write(c, caller, (cmd, raft, api, deadline) -> forwarder.forward(raft, api, cmd, false, null, deadline));
    }

    /** How a forwarded write reaches the leader: given its Raft endpoint, API address and a deadline. */
    @FunctionalInterface
    private interface Via {
        CompletableFuture<Result> forward(Command.ClientCommand c, String raft, String api, long deadlineNanos);
    }

    /**
     * Runs {@code c} on the leader through {@code via}, once the caller (if the door asks for tokens)
     * may send it ({@link CallerAccess}).
     */
    private CompletableFuture<Result> write(Command.ClientCommand c, Caller caller, Via via) {
        long sentAt = leases.nowNanos();
        AuthTokens.Principal principal = caller.principal();
        CompletableFuture<Result> f = CallerAccess.unlimited(principal) ? route(c, via, caller)
                : access.authorize(principal, c).thenCompose(allowed -> route(allowed, via, caller));
        if (c instanceof Command.CloseSession
                || !(c instanceof Command.OpenSession || c instanceof Command.OpenSessionThen
                        || (c instanceof Command.SessionRequest sr && sr.session() != 0))) {
            return f;
        }
        return f.thenApply(r -> {
            acknowledged(c, r, sentAt);
            return r;
        });
    }

    /**
     * The leader answered {@code c}, sent at {@code sentAtNanos}: it renewed the session on receipt
     * (or opened it), so the answer acknowledges the session's lease as of then (what lets this node's
     * doors tell grants, {@link LeaseKeeper#fresh}). An answer that the session is unknown does not.
     */
    private void acknowledged(Command.ClientCommand c, Result r, long sentAtNanos) {
        if (r instanceof Result.Rejected rej && rej.code() == dev.baton.core.command.ErrorCode.UNKNOWN_SESSION) {
            return;
        }
        if (c instanceof Command.SessionRequest sr && sr.session() != 0) {
            leases.acknowledged(sr.session(), sentAtNanos);
        } else if (r instanceof Result.SessionOpened o) {
            leases.acknowledged(o.session(), sentAtNanos);
        } else if (r instanceof Result.SessionOpenedThen ot) {
            leases.acknowledged(ot.opened().session(), sentAtNanos);
        }
    }

    /** The session leases this router renews and acknowledges. */
    public LeaseKeeper leases() {
        return leases;
    }

    /**
     * Runs {@code c} on the leader through {@code via}, retrying it (see the class comment) while
     * that is safe and the failure says the leader is unknown, unreachable or changed.
     */
    private CompletableFuture<Result> route(Command.ClientCommand c, Via via, Caller caller) {
        if (node.isLeader()) {
            return writeLocal(c);
        }
        long windowMs = FORWARD_DEADLINE_MS;
        if (caller.hasDeadline()) {
            windowMs = Math.min(windowMs, caller.remainingMs() - CALLER_DEADLINE_MARGIN_MS);
        }
        long deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(windowMs, 0));
        if (!resendable(c) || windowMs <= RETRY_PAUSE_MS) {
            return attempt(c, via, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FORWARD_DEADLINE_MS));
        }
        CompletableFuture<Result> out = new CompletableFuture<>();
        retryUntil(c, via, caller, deadlineNanos, out);
        return out;
    }

    private void retryUntil(Command.ClientCommand c, Via via, Caller caller, long deadlineNanos, CompletableFuture<Result> out) {
        CompletableFuture<Result> f;
        try {
            f = attempt(c, via, deadlineNanos);
        } catch (RuntimeException e) { // e.g. shutting down
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, t) -> {
            if (t == null) {
                out.complete(r);
                return;
            }
            BatonException b = BatonException.of(t, null);
            // A caller with a deadline (a gRPC client) may be cut off with this node: with no leader in
            // sight it hears UNAVAILABLE at once and tries another node, as before.
            boolean leaderInSight = !caller.hasDeadline() || node.leader().isPresent();
            boolean more = b.code() == BatonException.Code.UNAVAILABLE && !closed && !caller.isCancelled()
                    && leaderInSight
                    && deadlineNanos - System.nanoTime() > TimeUnit.MILLISECONDS.toNanos(RETRY_PAUSE_MS);
            if (!more) {
                out.completeExceptionally(b);
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
    private CompletableFuture<Result> attempt(Command.ClientCommand c, Via via, long deadlineNanos) {
        if (node.isLeader()) {
            return writeLocal(c);
        }
        Optional<String> raftLeader = node.leader();
        if (raftLeader.isEmpty()) {
            return CompletableFuture.failedFuture(BatonException.unavailable("no leader", null));
        }
        if (raftLeader.get().equals(node.options().endpoint())) {
            // We are the leader by Raft but not yet accepting writes (older entries still applying).
            return CompletableFuture.failedFuture(BatonException.unavailable("leader is starting", null));
        }
        Optional<String> api = apiOf(raftLeader.get());
        if (api.isEmpty()) {
            return CompletableFuture.failedFuture(BatonException.unavailable(
                    "the leader " + raftLeader.get() + " has not announced its API address yet", null));
        }
        CompletableFuture<Result> f = via.forward(c, raftLeader.get(), api.get(), deadlineNanos);
        // A change between reading the leader and queuing the command was not seen by the listener.
        if (!node.leader().map(raftLeader.get()::equals).orElse(false)) {
            forwarder.leaderChanged(node.leader().orElse(null));
        }
        return f;
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
        return write(c, Caller.TRUSTED, (cmd, raft, api, deadline) -> forwarder.forward(raft, api, cmd, true, null, deadline));
    }

    /**
     * A write that may wait (an acquire with a timeout). Completes with its result like
     * {@link #write}; when it was forwarded and answered QUEUED, the leader also sends the wait's
     * final outcome the moment it applies it, and {@code outcome} gets it (on a transport thread),
     * well before this follower would apply that entry itself. It may never be called (leader
     * change, session end): the caller's own apply stream still delivers the outcome, later.
     */
    public CompletableFuture<Result> writeWithOutcome(Command.ClientCommand c, Caller caller, Consumer<Result> outcome) {
        return write(c, caller, (cmd, raft, api, deadline) -> forwarder.forward(raft, api, cmd, false, outcome, deadline));
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
                throw BatonException.of(t, leaderHint());
            }
            if (c instanceof Command.OpenSession && r instanceof Result.SessionOpened o) {
                leases.opened(o.session(), o.ttlMs());
            } else if (c instanceof Command.OpenSessionThen && r instanceof Result.SessionOpenedThen ot) {
                leases.opened(ot.opened().session(), ot.opened().ttlMs());
            }
            return r;
        });
    }

    /** A linearizable read on this node, for a trusted caller. */
    public <R> CompletableFuture<R> read(Query<R> q) {
        return readAnything(q);
    }

    /** A linearizable read on this node; only what {@code caller} may see ({@link CallerAccess}). */
    public <R> CompletableFuture<R> read(Query<R> q, Caller caller) {
        AuthTokens.Principal principal = caller.principal();
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
                throw BatonException.of(t, leaderHint());
            }
            return r;
        });
    }

    /**
     * Proposes forwarded commands on this node, which must be the leader, all at once and in order
     * ({@link BatonNode#submitAll}); otherwise like {@link #writeLocal}, one future per command.
     */
    public List<CompletableFuture<Result>> writeLocalAll(List<Command.ClientCommand> commands) {
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
                    throw BatonException.of(t, leaderHint());
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
        return forwarder.keepAlives(api, sessions);
    }

    /**
     * Tells the leader at {@code api} where this node's API listens; the leader checks that this
     * node is a member and writes the address-book entry itself (a follower cannot propose it).
     */
    public CompletableFuture<Void> announce(String api, String raftEndpoint, String nodeId, String apiEndpoint) {
        return forwarder.announce(api, raftEndpoint, nodeId, apiEndpoint);
    }

    @Override
    public void close() {
        closed = true;
        forwarder.close();
    }
}
