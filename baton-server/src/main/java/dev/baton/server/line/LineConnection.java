package dev.baton.server.line;

import dev.baton.core.command.Command;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.server.route.BatonException;
import dev.baton.server.route.Caller;
import dev.baton.server.route.WaitingWrites;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.util.ByteProcessor;
import io.netty.util.CharsetUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One PoolCounter connection, which is one Baton session: opened by its first acquire, or taken
 * from the door's {@link SessionShelf} (left there idle by a connection that closed before it).
 *
 * <h2>Order</h2>
 * Lines are executed one at a time, in order (pipelined and fragmented input both work: received
 * bytes are kept and a line is cut from them when its turn comes). A line that needs the state
 * machine (an acquire, a release) is proposed and the next line waits for its answer; an acquire
 * answered QUEUED does not hold the line up: its outcome ({@code LOCKED}, {@code DONE},
 * {@code TIMEOUT}) arrives later as an effect, while the
 * client may go on (with {@code RELEASE} to give up, or {@code STATS}). What the client reads is
 * the order in which the cluster decided (see {@link #send}); the outcome of an acquire can arrive
 * before its own QUEUED answer is in (a forwarded write answered by a leader that had already moved
 * on), so such an outcome is kept until the answer comes. An outcome may arrive twice (from the
 * leader and from this node's apply stream): the second finds no matching waiting slot and is dropped.
 *
 * <h2>Slots</h2>
 * The session's pool slots live in the replicated state; {@link #slots} mirrors them (newest last)
 * from the answers and effects seen here, to know which reply a malformed acquire gets (poolcounterd
 * checks {@code LOCK_HELD} and {@code WAIT_FOR_RESPONSE} before syntax) and which wait is pending.
 * A waiting slot's outcome is a {@link WaitingWrites.Wait}: this connection feeds it the outcomes it
 * sees in its own order, and it reconciles a wait whose outcome never comes (effects folded into a
 * snapshot this node installed) by proposing the same acquire again.
 *
 * <h2>Failures</h2>
 * Writes are retried with the same request id while there is no leader or it cannot be reached, for
 * up to {@link #RETRY_FOR_MS}; then the client gets {@code ERROR UNAVAILABLE} and the connection is
 * closed (the outcome of the last command is unknown, and closing the session is the only way not to
 * leave a slot held that the client does not know about). A connection closed while its first
 * acquire, which opens its session, is in flight sees the open through (retried like any write, as
 * opens by token are idempotent) and closes the session it answers, rather than leave it, and
 * whatever slot it got, to its lease. If the session ends under a live
 * connection (its lease expired while this node was cut off), the client gets
 * {@code ERROR SESSION_LOST} and the connection is closed, as a poolcounterd restart would.
 *
 * <h2>Bounds</h2>
 * A client cannot make the node hold more for it than {@link LineDoor.Config#maxBufferedBytes()} of
 * unsent replies (past that the connection is not read, so its lines wait in the client's socket)
 * and as much again of input read ahead, plus one socket read; see {@link #updateReading}. Idle and
 * incomplete-line timeouts are in {@link #checkTimeouts}.
 */
final class LineConnection extends ChannelInboundHandlerAdapter {
    static final long RETRY_FOR_MS = 10_000;
    /** How long a connection closed with a last error line may take to send it; a client that does not read is cut off. */
    static final long CLOSE_GRACE_MS = 10_000;

    private static final class Slot {
        final Command.PoolAcquire acquire;
        boolean waiting;
        /** While waiting: the wait's outcome. */
        WaitingWrites.Wait wait;

        Slot(Command.PoolAcquire acquire, boolean waiting) {
            this.acquire = acquire;
            this.waiting = waiting;
        }
    }

    private final LineDoor door;
    private final long seq;
    private final InetAddress address;
    private Channel ch;
    private long session;
    private long nextRequestId = 1;
    /**
     * Bytes received and not yet executed: complete lines waiting behind a busy line or unsent
     * replies, then possibly the start of an incomplete one. Lines are cut from it one at a time, when
     * they run, so pipelined input is held as bytes (bounded, see {@link #updateReading}), never as a
     * queue of parsed requests.
     */
    private LineFramer in;
    private final ArrayList<Slot> slots = new ArrayList<>(4);
    private boolean busy;
    private boolean closed;
    /** A last error line is on its way; nothing more is read, executed or written. */
    private boolean closing;
    private boolean sessionLost;
    private boolean flush;
    /** Not read because the client does not read its replies (counted in the door's paused connections). */
    private boolean paused;
    /** When the incomplete line at the end of {@link #in} began (System.nanoTime), 0 if there is none. */
    private long partialSince;
    /** When the last complete line started executing, the connection opened, or it last held or waited for a slot. */
    private long lastLineNanos = System.nanoTime();
    /** The acquire whose answer is awaited, and its wait (which keeps its outcome if that was applied first). */
    private long acquireInFlight;
    private WaitingWrites.Wait inFlight;
    private CompletableFuture<Void> closedSession;
    /** The first acquire on a session taken from the door's shelf is in flight. */
    private boolean adopting;
    /** The shelved session ended while that acquire was in flight; its answer says which came first. */
    private boolean endedWhileAdopting;

    LineConnection(LineDoor door, long seq, InetAddress address) {
        this.door = door;
        this.seq = seq;
        this.address = address;
    }

    InetAddress address() {
        return address;
    }

    // ---- Netty ---------------------------------------------------------------------------------

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ch = ctx.channel();
        in = new LineFramer(ctx.alloc(), door.config().maxLineBytes());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf buf = (ByteBuf) msg;
        try {
            if (closed || closing || in == null || in.tooLong()) {
                return; // nothing after an overlong line or a last error is read
            }
            int lastNewline = buf.forEachByteDesc(ByteProcessor.FIND_LF);
            if (lastNewline >= 0) {
                partialSince = lastNewline == buf.writerIndex() - 1 ? 0 : System.nanoTime();
            } else if (partialSince == 0) {
                partialSince = System.nanoTime();
            }
            in.append(buf);
        } finally {
            buf.release();
        }
        if (in.tooLong()) {
            partialSince = 0; // nothing more is read; the line is answered in turn
        }
        drain();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        drain(); // writable again: go on with the lines read ahead, and read again
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            org.slf4j.LoggerFactory.getLogger(LineConnection.class).warn("line connection failed", cause);
        }
        ctx.close(); // reset by peer and the like: the close handling below releases everything
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (closed) {
            return;
        }
        gone();
        closeSession();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (in != null) {
            in.release();
            in = null;
        }
    }

    private void gone() {
        closed = true;
        if (session == 0) {
            door.sessionNotOpened(door.sessionToken(seq), this); // an open in flight no longer has anyone to tell
        }
        if (paused) {
            paused = false;
            door.pausedConnections.decrementAndGet();
        }
        door.connectionClosed(this);
    }

    /** Unsent reply bytes (Netty's count, with its per-write overhead); any thread. */
    long unsentBytes() {
        Channel c = ch;
        ChannelOutboundBuffer b = c == null ? null : c.unsafe().outboundBuffer();
        return b == null ? 0 : b.totalPendingWriteBytes();
    }

    /** Received bytes not yet executed; on the event loop. */
    int readAheadBytes() {
        return in == null ? 0 : in.buffered();
    }

    /**
     * From the door's periodic sweep. An incomplete line sitting too long closes the connection
     * whatever it holds (a client that sends half a line and stops is broken, and a slowloris
     * otherwise); the idle timeout never closes a connection that holds or waits for a slot or has a
     * line in progress, as MediaWiki holds a slot for the whole of a long render without a word.
     */
    void checkTimeouts(long now, long idleNanos, long partialNanos) {
        if (closed || closing || ch == null) {
            return;
        }
        boolean reading = ch.config().isAutoRead();
        if (partialNanos > 0 && partialSince != 0 && reading && now - partialSince >= partialNanos) {
            door.closedPartialLine.incrementAndGet();
            reply("ERROR LINE_TIMEOUT\n");
            closeAfterFlush();
            return;
        }
        if (busy || !slots.isEmpty()) {
            lastLineNanos = now; // idle time counts from when it last held or waited for something
            return;
        }
        boolean partialTimed = partialNanos > 0 && partialSince != 0 && reading;
        if (idleNanos > 0 && !partialTimed && now - lastLineNanos >= idleNanos) {
            door.closedIdle.incrementAndGet();
            reply("ERROR IDLE_TIMEOUT\n");
            closeAfterFlush();
        }
    }

    // ---- executing lines -----------------------------------------------------------------------

    /**
     * Executes received lines in order until one has to wait for the cluster, the client has more
     * unsent replies than the bound, or no complete line is left; then decides whether to read on.
     */
    private void drain() {
        if (closed) {
            return;
        }
        while (!busy && !closing && ch.isWritable()) {
            Object next = in.next();
            if (next == null) {
                break;
            }
            if (next == LineFramer.TOO_LONG) {
                reply("ERROR LINE_TOO_LONG\n");
                closeAfterFlush();
                return;
            }
            lastLineNanos = System.nanoTime();
            execute((byte[]) next);
        }
        if (closed) {
            return;
        }
        in.compact();
        updateReading();
        if (flush && !closing) {
            flush = false;
            ch.flush();
        }
    }

    /**
     * Reads while the client's unsent replies are under the bound (the channel is writable) and,
     * while a line waits for the cluster, while less than the bound of input waits behind it. When
     * neither holds, the only input kept is an incomplete line, itself bounded by the line limit.
     */
    private void updateReading() {
        boolean writable = ch.isWritable();
        if (!writable && !paused && !closing) {
            paused = true;
            door.pausedConnections.incrementAndGet();
            door.backPressurePauses.incrementAndGet();
        } else if (writable && paused) {
            paused = false;
            door.pausedConnections.decrementAndGet();
        }
        boolean read = !closing && in != null && !in.tooLong() && writable
                && (!busy || in.buffered() < door.config().maxBufferedBytes());
        if (read != ch.config().isAutoRead()) {
            if (read && partialSince != 0) {
                partialSince = System.nanoTime(); // the client could not send the rest while we did not read
            }
            ch.config().setAutoRead(read);
        }
    }

    private void execute(byte[] line) {
        LineRequest r = LineParser.parse(line, line.length);
        if (r instanceof LineRequest.Acquire a) {
            acquire(a);
        } else if (r instanceof LineRequest.Release) {
            release();
        } else if (r instanceof LineRequest.Stats s) {
            reply(door.stats(s.type()));
        } else {
            reply("ERROR BAD_COMMAND\n");
        }
    }

    private void acquire(LineRequest.Acquire a) {
        Limits limits = door.limits();
        boolean slotCheckFirst = slots.size() >= limits.maxSlotsPerSession()
                || (!slots.isEmpty() && slots.get(slots.size() - 1).waiting);
        if (!a.syntaxOk() && !slotCheckFirst) {
            reply("ERROR BAD_SYNTAX\n");
            return;
        }
        // A malformed acquire on a full or waiting connection still goes to the core, which answers
        // LOCK_HELD / WAIT_FOR_RESPONSE first (and counts them, as poolcounterd's stats do).
        long timeoutMs = Math.min(a.timeoutSeconds() * 1000, limits.maxWaitMs());
        busy = true;
        CompletableFuture<Void> barrier = door.settled();
        Runnable go = () -> {
            if (session == 0) {
                adoptShelved();
            }
            Command.PoolAcquire c = new Command.PoolAcquire(session, nextRequestId++, a.key() == null ? "" : a.key(),
                    a.workers(), a.maxQueue(), timeoutMs, a.forAnyone());
            acquireInFlight = c.requestId();
            inFlight = door.waitingWrites().track(ch.eventLoop());
            if (adopting) {
                propose(c, result -> adoptedAcquired(c, result));
            } else if (session != 0) {
                propose(c, result -> acquired(c, result));
            } else {
                openWith(c);
            }
        };
        if (barrier == null) {
            go.run();
        } else {
            barrier.whenComplete((v, t) -> ch.eventLoop().execute(() -> {
                if (!closed) {
                    go.run();
                }
            }));
        }
    }

    private void acquired(Command.PoolAcquire c, Result r) {
        if (r instanceof Result.PoolReply p && p.status() == PoolStatus.LOCKED && !door.grantMayBeTold(c.session())) {
            // The answer waited for this node to apply that far, and the node was cut off meanwhile:
            // held until the leader acknowledges the session again (see waitEnded). Still busy.
            door.whenGrantMayBeTold(c.session()).thenAccept(told -> ch.eventLoop().execute(() -> {
                if (closed || closing) {
                    return;
                }
                if (told) {
                    acquired(c, r);
                } else {
                    acquireInFlight = 0;
                    dropInFlight();
                    lose();
                    done();
                }
            }));
            return;
        }
        acquireInFlight = 0;
        WaitingWrites.Wait w = inFlight;
        inFlight = null;
        if (r instanceof Result.PoolReply p && p.status() == PoolStatus.QUEUED && w != null) {
            Slot s = new Slot(c, true);
            slots.add(s);
            s.wait = w;
            // Completed now if the outcome was applied first; else when it comes, in log order.
            w.outcome().whenComplete((outcome, t) -> waitEnded(s, outcome, t));
            if (!w.isDone()) {
                w.queued(c);
            }
        } else {
            if (w != null) {
                w.answeredAtOnce(r);
            }
            if (r instanceof Result.PoolReply p) {
                switch (p.status()) {
                    case LOCKED -> {
                        slots.add(new Slot(c, false));
                        reply("LOCKED\n");
                    }
                    default -> reply(p.status().name() + "\n"); // QUEUE_FULL, TIMEOUT, LOCK_HELD
                }
            } else {
                rejected(r);
            }
        }
        done();
    }

    private void release() {
        if (session == 0) {
            door.releaseMismatch.incrementAndGet();
            reply("NOT_LOCKED\n");
            return;
        }
        busy = true;
        propose(new Command.PoolRelease(session, nextRequestId++, null, 0), r -> {
            if (r instanceof Result.PoolReply p && p.status() == PoolStatus.RELEASED) {
                if (!slots.isEmpty()) {
                    Slot s = slots.remove(slots.size() - 1);
                    cancelWait(s); // a cancelled wait sends nothing to anyone (poolcounterd sent DONE)
                }
                reply("RELEASED\n");
            } else if (r instanceof Result.PoolReply p && p.status() == PoolStatus.NOT_LOCKED) {
                slots.clear();
                reply("NOT_LOCKED\n");
            } else {
                rejected(r);
            }
            done();
        });
    }

    private void rejected(Result r) {
        if (r instanceof Result.Rejected rej) {
            switch (rej.code()) {
                case WAIT_FOR_RESPONSE -> reply("ERROR WAIT_FOR_RESPONSE\n");
                case INVALID_ARGUMENT -> reply("ERROR BAD_SYNTAX\n");
                case LIMIT_EXCEEDED -> reply("ERROR LIMIT_EXCEEDED\n");
                case UNKNOWN_SESSION -> lose();
                default -> reply("ERROR " + rej.code().name() + "\n");
            }
        } else {
            reply("ERROR INTERNAL\n");
        }
    }

    private void done() {
        busy = false;
        drain();
    }

    // ---- the session ---------------------------------------------------------------------------

    /**
     * The connection's first acquire: its session is opened by the same command, so the acquire
     * enters the log where the door read it, before any line read after it (poolcounterd's clients
     * rely on that order), and a connection per request costs one proposal for its first line.
     */
    private void openWith(Command.PoolAcquire first) {
        String token = door.sessionToken(seq);
        door.sessionOpening(token, this);
        propose(new Command.OpenSessionThen(new Command.OpenSession(token, door.sessionTtlMs()), first), r -> {
            if (r instanceof Result.SessionOpenedThen o) {
                session = o.opened().session();
                door.sessionOpened(token, session, this);
                acquired(first.withSession(session), o.first());
            } else {
                door.sessionNotOpened(token, this);
                acquireInFlight = 0;
                dropInFlight();
                rejected(r); // e.g. the session limit: ERROR LIMIT_EXCEEDED
                done();
            }
        });
    }

    /**
     * Takes a session from the door's shelf, if it has one, for the first acquire: the acquire is
     * then a plain acquire on it, carrying on its request ids.
     */
    private void adoptShelved() {
        SessionShelf.Shelved s = door.adopt(this);
        if (s != null) {
            session = s.session();
            nextRequestId = s.nextRequestId();
            adopting = true;
        }
    }

    /** The answer to the first acquire on a session taken from the shelf. */
    private void adoptedAcquired(Command.PoolAcquire c, Result r) {
        adopting = false;
        boolean ended = endedWhileAdopting;
        endedWhileAdopting = false;
        if (r instanceof Result.Rejected rej && rej.code() == ErrorCode.UNKNOWN_SESSION) {
            // The shelved session ended before this acquire reached it (it expired while this node was
            // cut off), so the acquire did nothing: open a session of our own, as without the shelf.
            door.sessionGone(session);
            session = 0;
            dropInFlight();
            inFlight = door.waitingWrites().track(ch.eventLoop());
            openWith(c.withSession(0));
            return;
        }
        if (ended) {
            // It ended after this acquire was applied: whatever the acquire got went with it.
            acquireInFlight = 0;
            dropInFlight();
            lose();
            done();
            return;
        }
        acquired(c, r);
    }

    /**
     * Whether this connection's session may be handed on to a later connection: it holds and waits
     * for nothing, no command of it is in flight or of unknown outcome, and the connection was closed
     * by its client (a connection the door closes with an error may have left a command's outcome
     * unknown). When in doubt, the session is closed.
     */
    private boolean idle() {
        return !closing && !busy && !adopting && slots.isEmpty() && acquireInFlight == 0 && inFlight == null;
    }

    /** Proposes the close of this connection's session, once; retried like any write. */
    private CompletableFuture<Void> closeSession() {
        if (closedSession != null) {
            return closedSession;
        }
        closedSession = new CompletableFuture<>();
        for (Slot s : slots) {
            cancelWait(s);
        }
        dropInFlight();
        if (session == 0 || sessionLost) {
            closedSession.complete(null);
            return closedSession;
        }
        long s = session;
        if (idle() && door.shelve(s, nextRequestId)) {
            closedSession.complete(null); // the next connection's first acquire takes it
            return closedSession;
        }
        door.sessionGone(s); // no more keep-alives: if the close cannot be written, the lease runs out
        if (!slots.isEmpty() || busy) { // busy: an acquire in flight may have been granted
            door.releasingClose(closedSession);
        }
        CompletableFuture<Void> f = closedSession;
        write(new Command.CloseSession(s, nextRequestId++), System.nanoTime(), r -> f.complete(null),
                t -> f.complete(null));
        return f;
    }

    /** The node is stopping: close the socket (which closes the session) and report when done. */
    CompletableFuture<Void> closeForShutdown() {
        if (ch != null && ch.isOpen()) {
            ch.close();
        }
        if (!closed) {
            gone();
        }
        return closeSession();
    }

    /** The session ended under us (expired while this node was cut off). */
    private void lose() {
        if (closed) {
            return;
        }
        sessionLost = true;
        door.sessionGone(session);
        slots.clear();
        reply("ERROR SESSION_LOST\n");
        closeAfterFlush();
    }

    // ---- effects -------------------------------------------------------------------------------

    /** From the apply thread: hop onto the event loop, keeping the order. */
    void effect(Effect e) {
        Channel c = ch;
        if (c == null) {
            return;
        }
        c.eventLoop().execute(() -> onEffect(e));
    }

    private void onEffect(Effect e) {
        if (closed) {
            return;
        }
        if (e instanceof Effect.SessionEnded ended) {
            if (session != 0 && ended.session() != session) {
                return; // a shelved session this connection took and gave up (it had ended): not ours now
            }
            if (adopting) {
                endedWhileAdopting = true; // the acquire's answer tells whether it ran before the end
                return;
            }
            lose();
            return;
        }
        Effect.PoolWaitEnded w = (Effect.PoolWaitEnded) e;
        if (session != 0 && w.session() != session) {
            return;
        }
        if (w.status() == PoolStatus.RELEASED) {
            // Only this connection's own RELEASE cancels its session's wait, and that RELEASE's answer
            // takes the slot off (this outcome may come before it: it must not take a second slot).
            return;
        }
        if (w.requestId() == acquireInFlight && inFlight != null) {
            inFlight.complete(w); // kept until its QUEUED answer comes
            return;
        }
        Slot top = slots.isEmpty() ? null : slots.get(slots.size() - 1);
        if (top == null || !top.waiting || top.wait == null || top.acquire.requestId() != w.requestId()) {
            return; // a repeat (replay after a restart) or a wait already settled
        }
        top.wait.complete(w); // waitEnded, through the wait's outcome
    }

    /**
     * The outcome of the wait of slot {@code s}, on the event loop: from an effect, from the leader,
     * or learned by reconciling. An outcome of a slot no longer waiting (released, the connection
     * closed) is dropped.
     */
    private void waitEnded(Slot s, Result outcome, Throwable t) {
        if (closed || !s.waiting || slots.isEmpty() || slots.get(slots.size() - 1) != s
                || t instanceof CancellationException) {
            return;
        }
        if (t != null) {
            lose(); // the session ended while the slot waited
            return;
        }
        PoolStatus status = ((Result.PoolReply) outcome).status();
        if (status == PoolStatus.LOCKED && !door.grantMayBeTold(session)) {
            // This node learnt the grant late (it was cut off): the leader may have expired the session
            // since and given the slot to someone else. Told once the leader acknowledges the session
            // again; if it is gone instead, the client hears ERROR SESSION_LOST and never LOCKED.
            door.whenGrantMayBeTold(session).thenAccept(told -> ch.eventLoop().execute(() -> {
                if (closed || closing) {
                    return;
                }
                if (told) {
                    waitEnded(s, outcome, null);
                } else {
                    lose();
                }
            }));
            return;
        }
        waitEnded(s, status);
        drain();
    }

    /** A wait of the top slot ended: LOCKED (now held), DONE or TIMEOUT (slot gone). */
    private void waitEnded(Slot top, PoolStatus status) {
        cancelWait(top);
        switch (status) {
            case LOCKED -> {
                top.waiting = false;
                reply("LOCKED\n");
            }
            case DONE, TIMEOUT -> {
                slots.remove(top);
                reply(status.name() + "\n");
            }
            default -> slots.remove(top); // RELEASED: we cancelled it ourselves; nothing to say
        }
    }

    private static void cancelWait(Slot s) {
        if (s.wait != null) {
            WaitingWrites.Wait w = s.wait;
            s.wait = null;
            w.cancel();
        }
    }

    /** Forgets the wait of the acquire in flight, if any. */
    private void dropInFlight() {
        if (inFlight != null) {
            WaitingWrites.Wait w = inFlight;
            inFlight = null;
            w.cancel();
        }
    }

    // ---- writes to the cluster -----------------------------------------------------------------

    /** A write for the current line: on failure the client hears UNAVAILABLE and the connection closes. */
    private void propose(Command.ClientCommand c, Consumer<Result> onResult) {
        write(c, System.nanoTime(), onResult, t -> {
            reply("ERROR UNAVAILABLE\n");
            closeAfterFlush();
        });
    }

    /**
     * Proposes {@code c} (in apply order, see the class comment), retrying the same command (same
     * request id) while the failure says nothing about it having applied, for up to
     * {@link #RETRY_FOR_MS} from {@code startNanos}. Callbacks run on the event loop.
     */
    private void write(Command.ClientCommand c, long startNanos, Consumer<Result> onResult, Consumer<Throwable> onFailure) {
        CompletableFuture<Result> f;
        try {
            f = door.intercepted(c, send(c));
        } catch (RuntimeException e) { // e.g. the node is shutting down
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, t) -> ch.eventLoop().execute(() -> {
            if (t == null) {
                if (!closed || c instanceof Command.CloseSession) {
                    onResult.accept(r);
                } else if (r instanceof Result.SessionOpenedThen o) {
                    // Opened for a connection that has gone meanwhile: close it rather than wait for its TTL.
                    door.sessionNotOpened(door.sessionToken(seq), this);
                    door.sessionGone(o.opened().session());
                    write(new Command.CloseSession(o.opened().session(), 2), System.nanoTime(), x -> {}, x -> {});
                }
                return;
            }
            boolean isClose = c instanceof Command.CloseSession;
            // The open of a session the connection has not learnt yet: the close proposed by
            // channelInactive knows no session to close, so if the open applied, only its answer can
            // tell which (the retry of an open by token answers the same session, then closed above).
            boolean isOpen = c instanceof Command.OpenSessionThen;
            if (closed && !isClose && !isOpen) {
                return; // the close proposed by channelInactive takes care of whatever this did
            }
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
            long budget = isClose ? door.sessionTtlMs() : RETRY_FOR_MS;
            if (!retryable(t) || elapsedMs >= budget) {
                if (!closed || isClose) {
                    onFailure.accept(t);
                } // else an open given up: if it applied, its session's lease runs out
                return;
            }
            long backoff = Math.min(200, 20L << Math.min(4, elapsedMs / 200));
            ch.eventLoop().schedule(() -> write(c, startNanos, onResult, onFailure), backoff, TimeUnit.MILLISECONDS);
        }));
    }

    /**
     * Sends a write the fastest way that keeps what the client reads in log order. On the leader
     * every answer already comes after the effects of earlier entries. On a follower an answer comes
     * straight from the leader, ahead of this node's own apply, which is only a problem when an
     * outcome for this connection may still be on its way: when its newest slot is waiting. Then the
     * answer waits for this node to apply that far. A waiting acquire asks the leader for its outcome
     * too, which spares the client the follower's apply lag (up to a heartbeat when the log is idle).
     */
    private CompletableFuture<Result> send(Command.ClientCommand c) {
        if (!slots.isEmpty() && slots.get(slots.size() - 1).waiting) {
            return door.router().writeInApplyOrder(c);
        }
        if (c instanceof Command.PoolAcquire a && a.timeoutMs() > 0) {
            return door.router().writeWithOutcome(c, Caller.TRUSTED, outcome -> {
                if (outcome instanceof Result.PoolReply p) {
                    effect(new Effect.PoolWaitEnded(a.session(), a.requestId(), p.key(), p.status(), p.fence()));
                }
            });
        }
        return door.router().write(c);
    }

    static boolean retryable(Throwable t) {
        Throwable c = BatonException.unwrap(t);
        if (c instanceof BatonException b) {
            BatonException.Code code = b.code();
            return code != BatonException.Code.INVALID_ARGUMENT && code != BatonException.Code.FAILED_PRECONDITION
                    && code != BatonException.Code.NOT_FOUND && code != BatonException.Code.OUT_OF_RANGE;
        }
        return !(c instanceof IllegalArgumentException);
    }

    // ---- writes to the client ------------------------------------------------------------------

    private void reply(String s) {
        if (closed || closing) {
            return;
        }
        ch.write(ch.alloc().buffer(s.length()).writeBytes(s.getBytes(CharsetUtil.US_ASCII)))
                .addListener(door.countFailedSend);
        flush = true;
    }

    /** Sends what was written (the last line an error) and closes; nothing more is read or written. */
    private void closeAfterFlush() {
        if (closing) {
            return;
        }
        flush = false;
        closing = true;
        ch.config().setAutoRead(false);
        ch.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        // A client that does not read would otherwise keep the connection and its unsent replies forever.
        Channel c = ch;
        ScheduledFuture<?> cutOff = c.eventLoop().schedule(() -> {
            c.close();
        }, CLOSE_GRACE_MS, TimeUnit.MILLISECONDS);
        c.closeFuture().addListener(f -> cutOff.cancel(false));
    }
}
