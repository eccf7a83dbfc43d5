package dev.baton.server.line;

import dev.baton.core.command.Command;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.metrics.LineDoorMetrics;
import dev.baton.server.route.LeaseKeeper;
import dev.baton.server.route.WaitingWrites;
import dev.baton.server.route.Router;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.CharsetUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.LongFunction;

/**
 * The PoolCounter front door: poolcounterd's line protocol (described in docs/design.md) on port 7531,
 * so MediaWiki's PHP client, the Python client and STATS exporters work against Baton unchanged.
 * Every TCP connection is a Baton session (opened at its first acquire, closed when the connection
 * closes), and every acquire and release is a command of the replicated state machine, so keys are
 * shared by the whole cluster whichever node a client connects to. See {@link LineConnection} for
 * one connection's life and docs/poolcounter.md for the differences from poolcounterd.
 *
 * <h2>Sessions handed on</h2>
 * A connection that closes cleanly with a provably idle session (nothing held, waited for or in
 * flight) leaves the session on a {@link SessionShelf} rather than closing it, and the next
 * connection's first acquire takes it: a connection per request then costs its acquire and its
 * release, as a kept connection does, instead of two more commands to open and close a session.
 * Shelved sessions are kept alive like those of open connections and closed after
 * {@link #SHELF_IDLE_MS} unused, or when the door stops.
 *
 * <h2>One thread</h2>
 * All connections share one Netty event loop, as poolcounterd serves everything from one libevent
 * loop. Besides being plenty (the work per line is parsing and a queue hand-off; Raft runs on its
 * own threads), it orders events across connections: a client that closes its connection and
 * another that connects right after are seen in that order, and the first one's release is
 * proposed before the second one's acquire (see {@link #settled()}).
 */
public final class LineDoor implements AutoCloseable, LineDoorMetrics {
    private static final Logger LOG = LoggerFactory.getLogger(LineDoor.class);

    /**
     * @param host           address to bind
     * @param port           port (7531 by default; 0: any free port, see {@link #port()})
     * @param maxLineBytes   longest line accepted, without its newline; a longer one is answered
     *                       {@code ERROR LINE_TOO_LONG} and the connection is closed
     * @param maxConnections open connections on this node; the next one is answered
     *                       {@code ERROR TOO_MANY_CONNECTIONS} and closed (counted in {@code connect_errors})
     * @param sessionTtlMs   lease of each connection's session: how long after this node dies (or loses
     *                       the cluster) its connections' slots stay held
     * @param maxConnectionsPerAddress open connections from one client address; the next one is
     *                       answered {@code ERROR TOO_MANY_CONNECTIONS_FROM_ADDRESS} and closed, so one
     *                       host cannot take every connection of the node
     * @param idleTimeoutMs  a connection that holds no slot, waits for nothing and has sent no complete
     *                       line for this long is answered {@code ERROR IDLE_TIMEOUT} and closed; 0: never
     * @param partialLineTimeoutMs a connection whose incomplete line has been sitting this long (a
     *                       client that sends half a line and stops) is answered {@code ERROR LINE_TIMEOUT}
     *                       and closed, whatever it holds; 0: never
     * @param maxBufferedBytes per connection and direction: reading stops while its unsent replies
     *                       exceed this (the client does not read them) or while this much of its
     *                       input waits behind a line being processed; reading resumes when they drain
     * @param allow          client networks that may connect ({@code --line-allow}); any other address is
     *                       answered {@code ERROR NOT_ALLOWED} and closed, before it can send a line
     */
    public record Config(String host, int port, int maxLineBytes, int maxConnections, long sessionTtlMs,
                         int maxConnectionsPerAddress, long idleTimeoutMs, long partialLineTimeoutMs,
                         int maxBufferedBytes, AddressAllowList allow) {
        public static final int DEFAULT_PORT = 7531;
        public static final int DEFAULT_MAX_LINE_BYTES = 1024;
        public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
        /**
         * MediaWiki keeps at most one connection per PoolCounter server per PHP worker, and an app or
         * job server runs a few hundred workers; 1 000 leaves room for NAT in front of several.
         */
        public static final int DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1_000;
        /**
         * MediaWiki connects, sends its acquire at once and closes after its release; exporters send
         * STATS every scrape (seconds to a minute). Five minutes of nothing is a leaked connection.
         */
        public static final long DEFAULT_IDLE_TIMEOUT_MS = 300_000;
        /** A line is one write of under 1 KiB; TCP retransmissions stall it for seconds, not 30. */
        public static final long DEFAULT_PARTIAL_LINE_TIMEOUT_MS = 30_000;
        /**
         * A MediaWiki client has one line and one reply of tens of bytes in flight; a STATS FULL reply is
         * under 1 KiB. 16 KiB per direction is far above any client that reads its replies.
         */
        public static final int DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024;

        public Config {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("line port " + port + " out of range");
            }
            if (maxLineBytes < 64) {
                throw new IllegalArgumentException("max line bytes must be at least 64, got " + maxLineBytes);
            }
            if (maxConnections < 1) {
                throw new IllegalArgumentException("max connections must be positive, got " + maxConnections);
            }
            if (sessionTtlMs <= 0) {
                throw new IllegalArgumentException("session TTL must be positive");
            }
            if (maxConnectionsPerAddress < 1) {
                throw new IllegalArgumentException("line connections per address (--line-max-connections-per-address) must be positive, got "
                        + maxConnectionsPerAddress);
            }
            if (idleTimeoutMs < 0) {
                throw new IllegalArgumentException("line idle timeout (--line-idle-timeout-ms) must be 0 (none) or positive, got " + idleTimeoutMs);
            }
            if (partialLineTimeoutMs < 0) {
                throw new IllegalArgumentException("line partial-line timeout (--line-partial-line-timeout-ms) must be 0 (none) or positive, got "
                        + partialLineTimeoutMs);
            }
            if (maxBufferedBytes < 1024) {
                throw new IllegalArgumentException("line buffered bytes (--line-max-buffered-bytes) must be at least 1024, got " + maxBufferedBytes);
            }
            Objects.requireNonNull(allow, "allow (AddressAllowList.ANY for every address)");
        }

        /** Every client address allowed. */
        public Config(String host, int port, int maxLineBytes, int maxConnections, long sessionTtlMs,
                      int maxConnectionsPerAddress, long idleTimeoutMs, long partialLineTimeoutMs, int maxBufferedBytes) {
            this(host, port, maxLineBytes, maxConnections, sessionTtlMs, maxConnectionsPerAddress, idleTimeoutMs,
                    partialLineTimeoutMs, maxBufferedBytes, AddressAllowList.ANY);
        }

        /** The original parameter list: the new bounds at their defaults. */
        public Config(String host, int port, int maxLineBytes, int maxConnections, long sessionTtlMs) {
            this(host, port, maxLineBytes, maxConnections, sessionTtlMs, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
                    DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_PARTIAL_LINE_TIMEOUT_MS, DEFAULT_MAX_BUFFERED_BYTES);
        }

        public static Config defaults(String host, long sessionTtlMs) {
            return new Config(host, DEFAULT_PORT, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_CONNECTIONS, sessionTtlMs);
        }

        public Config withPort(int p) {
            return new Config(host, p, maxLineBytes, maxConnections, sessionTtlMs, maxConnectionsPerAddress,
                    idleTimeoutMs, partialLineTimeoutMs, maxBufferedBytes, allow);
        }

        public Config withMaxConnectionsPerAddress(int n) {
            return new Config(host, port, maxLineBytes, maxConnections, sessionTtlMs, n, idleTimeoutMs,
                    partialLineTimeoutMs, maxBufferedBytes, allow);
        }

        public Config withTimeouts(long idleMs, long partialLineMs) {
            return new Config(host, port, maxLineBytes, maxConnections, sessionTtlMs, maxConnectionsPerAddress,
                    idleMs, partialLineMs, maxBufferedBytes, allow);
        }

        public Config withMaxBufferedBytes(int n) {
            return new Config(host, port, maxLineBytes, maxConnections, sessionTtlMs, maxConnectionsPerAddress,
                    idleTimeoutMs, partialLineTimeoutMs, n, allow);
        }

        public Config withAllow(AddressAllowList a) {
            return new Config(host, port, maxLineBytes, maxConnections, sessionTtlMs, maxConnectionsPerAddress,
                    idleTimeoutMs, partialLineTimeoutMs, maxBufferedBytes, a);
        }
    }

    private final Config config;
    private final Router router;
    private final LeaseKeeper leases;
    private final WaitingWrites waitingWrites;
    private final String nodeId;
    private final long startMillis = System.currentTimeMillis();
    private final long startNanos = System.nanoTime();
    private final EventLoopGroup loop;
    /** Sessions of open connections, for effects (read on the apply thread) and keep-alives. */
    private final Map<Long, LineConnection> bySession = new ConcurrentHashMap<>();
    /**
     * Connections whose session is being opened, by its token. The open and the first acquire share
     * one entry, and a wait can end in the very next one, before the answer has reached the
     * connection's thread: the apply thread then finds the connection by the session's token.
     */
    private final Map<String, LineConnection> opening = new ConcurrentHashMap<>();
    /** Open connections; changed on the event loop only (concurrent for the metrics' reads). */
    private final Set<LineConnection> open = ConcurrentHashMap.newKeySet();
    // Touched on the event loop only.
    private final Map<InetAddress, Integer> perAddress = new HashMap<>();
    private final List<CompletableFuture<?>> releasingCloses = new ArrayList<>();
    private long connectionSeq;
    private final SessionShelf shelf = new SessionShelf(SHELF_MAX, TimeUnit.MILLISECONDS.toNanos(SHELF_IDLE_MS));
    /** A test's view of the writes connections send, or null; see {@link #interceptWrites}. */
    private volatile BiFunction<Command.ClientCommand, CompletableFuture<Result>, CompletableFuture<Result>> writeHook;

    /** The most one socket read adds to a connection's input. */
    static final int MAX_READ_BYTES = 16 * 1024;
    /**
     * Sessions on the shelf at most. The shelf needs about as many as connections close and are
     * replaced within {@link #SHELF_IDLE_MS}, i.e. the number of clients churning through this node at
     * once (the PHP workers of the app servers that use it: hundreds). Each shelved session counts
     * against the cluster's {@code maxSessions} and is renewed every keep-alive round, so the bound
     * keeps a burst from leaving a door sitting on thousands; past it, sessions are closed as before.
     */
    static final int SHELF_MAX = 256;
    /**
     * A shelved session unused this long is closed. A churning client reconnects within
     * milliseconds, so two seconds only outlast pauses in its traffic; much longer would hold
     * sessions (and the admin listing) of clients long gone.
     */
    static final long SHELF_IDLE_MS = 2_000;

    final AtomicLong connectErrors = new AtomicLong();
    final AtomicLong failedSends = new AtomicLong();
    final AtomicLong releaseMismatch = new AtomicLong();
    final ChannelFutureListener countFailedSend = f -> {
        if (!f.isSuccess()) {
            failedSends.incrementAndGet();
        }
    };
    private final AtomicLong connectionsTotal = new AtomicLong();
    private final AtomicLong refusedMaxConnections = new AtomicLong();
    private final AtomicLong refusedPerAddress = new AtomicLong();
    private final AtomicLong refusedNotAllowed = new AtomicLong();
    final AtomicLong closedIdle = new AtomicLong();
    final AtomicLong closedPartialLine = new AtomicLong();
    final AtomicLong backPressurePauses = new AtomicLong();
    final AtomicInteger pausedConnections = new AtomicInteger();
    private Channel server;
    private volatile boolean closing;

    public LineDoor(Config config, Router router, LeaseKeeper leases, WaitingWrites waitingWrites, String nodeId) {
        this.waitingWrites = waitingWrites;
        this.config = config;
        this.router = router;
        this.leases = leases;
        this.nodeId = nodeId;
        this.loop = new NioEventLoopGroup(1, r -> {
            Thread t = new Thread(r, "baton-line-" + nodeId);
            t.setDaemon(true);
            return t;
        });
    }

    /** Binds the port; throws if it cannot (in use, bad address). */
    public LineDoor start() {
        ServerBootstrap b = new ServerBootstrap()
                .group(loop)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // Unsent replies above the high mark make the channel unwritable: the connection stops
                // reading (and executing) until they drain below the low mark.
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(config.maxBufferedBytes() / 2, config.maxBufferedBytes()))
                // One socket read adds at most this much input beyond the read-ahead bound.
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64, 1024, MAX_READ_BYTES))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connectionsTotal.incrementAndGet();
                        InetAddress from = ch.remoteAddress() == null ? null : ch.remoteAddress().getAddress();
                        String refusal = null;
                        if (closing) {
                            refusal = "ERROR SHUTTING_DOWN\n";
                        } else if (!config.allow().allows(from)) {
                            refusedNotAllowed.incrementAndGet();
                            refusal = "ERROR NOT_ALLOWED\n";
                        } else if (open.size() >= config.maxConnections()) {
                            refusedMaxConnections.incrementAndGet();
                            refusal = "ERROR TOO_MANY_CONNECTIONS\n";
                        } else if (from != null && perAddress.getOrDefault(from, 0) >= config.maxConnectionsPerAddress()) {
                            refusedPerAddress.incrementAndGet();
                            refusal = "ERROR TOO_MANY_CONNECTIONS_FROM_ADDRESS\n";
                        }
                        if (refusal != null) {
                            connectErrors.incrementAndGet();
                            ch.pipeline().addLast(new Refuse(refusal));
                            return;
                        }
                        LineConnection c = new LineConnection(LineDoor.this, ++connectionSeq, from);
                        open.add(c);
                        if (from != null) {
                            perAddress.merge(from, 1, Integer::sum);
                        }
                        ch.pipeline().addLast(c);
                    }
                });
        try {
            server = b.bind(new InetSocketAddress(config.host(), config.port())).sync().channel();
        } catch (Exception e) {
            loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw new IllegalStateException("cannot serve the PoolCounter protocol on " + config.host() + ":"
                    + config.port() + ": " + e.getMessage(), e);
        }
        InetAddress bound = ((InetSocketAddress) server.localAddress()).getAddress();
        if (config.allow().allowsAll() && !bound.isLoopbackAddress()) {
            LOG.warn("The PoolCounter port {} accepts connections from any address (its protocol has no"
                    + " authentication): name the client networks with --line-allow", config.host() + ":" + port());
        }
        long every = Math.max(50, Math.min(1_000, config.sessionTtlMs() / 4));
        loop.scheduleWithFixedDelay(this::keepAlive, every, every, TimeUnit.MILLISECONDS);
        long shortest = Math.min(config.idleTimeoutMs() == 0 ? Long.MAX_VALUE : config.idleTimeoutMs(),
                config.partialLineTimeoutMs() == 0 ? Long.MAX_VALUE : config.partialLineTimeoutMs());
        if (shortest != Long.MAX_VALUE) {
            // One sweep over all connections rather than a timer each: a timeout may run late by a
            // quarter of itself (at most a second), which no client can tell from on time.
            long sweep = Math.max(20, Math.min(1_000, shortest / 4));
            loop.scheduleWithFixedDelay(this::sweepTimeouts, sweep, sweep, TimeUnit.MILLISECONDS);
        }
        long shelfSweep = SHELF_IDLE_MS / 4;
        loop.scheduleWithFixedDelay(this::closeIdleShelved, shelfSweep, shelfSweep, TimeUnit.MILLISECONDS);
        return this;
    }

    /** Answers a connection over a limit and closes it. */
    private static final class Refuse extends ChannelInboundHandlerAdapter {
        private final String reply;

        Refuse(String reply) {
            this.reply = reply;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(ctx.alloc().buffer().writeBytes(reply.getBytes(CharsetUtil.US_ASCII)))
                    .addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg);
        }
    }

    /** The bound port. */
    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    public Config config() {
        return config;
    }

    /** Open connections (approximate when read off the event loop). */
    @Override
    public int connections() {
        return open.size();
    }

    @Override
    public long connectionsTotal() {
        return connectionsTotal.get();
    }

    /** Connections refused (over the limit) or failed to set up, as STATS' connect_errors. */
    @Override
    public long connectErrors() {
        return connectErrors.get();
    }

    /** Replies that could not be written, as STATS' failed_sends. */
    @Override
    public long failedSends() {
        return failedSends.get();
    }

    /** Connections refused because {@link Config#maxConnections()} were open (also in connect_errors). */
    @Override
    public long refusedMaxConnections() {
        return refusedMaxConnections.get();
    }

    /** Connections refused because their address is not in {@link Config#allow()} (also in connect_errors). */
    @Override
    public long refusedNotAllowed() {
        return refusedNotAllowed.get();
    }

    /** Connections refused because their address had {@link Config#maxConnectionsPerAddress()} open (also in connect_errors). */
    @Override
    public long refusedPerAddress() {
        return refusedPerAddress.get();
    }

    /** Connections closed by the idle timeout. */
    @Override
    public long closedIdle() {
        return closedIdle.get();
    }

    /** Connections closed because an incomplete line sat longer than the partial-line timeout. */
    @Override
    public long closedPartialLine() {
        return closedPartialLine.get();
    }

    /** Times a connection stopped being read because its unsent replies exceeded the bound. */
    @Override
    public long backPressurePauses() {
        return backPressurePauses.get();
    }

    /** Connections not being read now because their unsent replies exceed the bound. */
    @Override
    public int pausedConnections() {
        return pausedConnections.get();
    }

    /** Bytes of replies written but not yet sent to the clients, over all connections (approximate off the loop). */
    @Override
    public long unsentBytes() {
        long sum = 0;
        for (LineConnection c : open) {
            sum += c.unsentBytes();
        }
        return sum;
    }

    /** Idle sessions of closed connections kept for the next ones (approximate off the event loop). */
    @Override
    public int shelvedSessions() {
        return shelf.size();
    }

    /** New connections that took a shelved session instead of opening one. */
    @Override
    public long sessionsReused() {
        return shelf.reused();
    }

    /** The ids of the shelved sessions, newest first (read on the event loop); for tests. */
    List<Long> shelvedSessionIds() {
        return onEventLoop(() -> {
            List<Long> ids = new ArrayList<>();
            shelf.forEachSession(ids::add);
            return ids;
        });
    }

    /** Runs {@code task} on the event loop, where connections and the shelf live, and waits for its value. */
    <T> T onEventLoop(java.util.concurrent.Callable<T> task) {
        try {
            return loop.submit(task).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Bytes received and not yet executed, over all connections (read on the event loop). */
    long readAheadBytes() {
        return onEventLoop(() -> {
            long sum = 0;
            for (LineConnection c : open) {
                sum += c.readAheadBytes();
            }
            return sum;
        });
    }

    /**
     * For tests: every write a connection sends passes through {@code hook} with its answer, and the
     * connection gets what the hook returns instead (an answer delayed or lost, as when the link to
     * the leader breaks after the leader applied the command). Null removes it.
     */
    void interceptWrites(BiFunction<Command.ClientCommand, CompletableFuture<Result>, CompletableFuture<Result>> hook) {
        writeHook = hook;
    }

    // ---- for connections -----------------------------------------------------------------------

    Router router() {
        return router;
    }

    /** The answer a connection waits for: {@code answer}, unless a test intercepts it. */
    CompletableFuture<Result> intercepted(Command.ClientCommand c, CompletableFuture<Result> answer) {
        BiFunction<Command.ClientCommand, CompletableFuture<Result>, CompletableFuture<Result>> h = writeHook;
        return h == null ? answer : h.apply(c, answer);
    }

    WaitingWrites waitingWrites() {
        return waitingWrites;
    }

    String sessionToken(long seq) {
        // Unique per connection across restarts of this node: retries of the open are idempotent.
        return "line:" + nodeId + ":" + startMillis + ":" + seq;
    }

    Limits limits() {
        return router.node().readLocal(new Query.GetLimits());
    }

    String stats(String type) {
        View.PoolTotals t = router.node().readLocal(new Query.GetPoolTotals());
        long uptime = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startNanos);
        return LineStats.reply(type, t, new LineStats.DoorCounts(uptime, connectErrors.get(), failedSends.get(),
                releaseMismatch.get()));
    }

    /** {@code c} proposes the open of its session under {@code token}; see {@link #opening}. */
    void sessionOpening(String token, LineConnection c) {
        opening.put(token, c);
    }

    void sessionOpened(String token, long session, LineConnection c) {
        bySession.put(session, c);
        opening.remove(token, c);
        leases.keepAlive(session);
    }

    /** The open failed, or the connection went before it was answered. */
    void sessionNotOpened(String token, LineConnection c) {
        opening.remove(token, c);
    }

    void sessionGone(long session) {
        bySession.remove(session);
    }

    /**
     * A connection closed cleanly and its session is idle (the connection checked): shelve it for
     * the next connection. False when the door stops or the shelf is full: the caller closes it.
     */
    boolean shelve(long session, long nextRequestId) {
        bySession.remove(session);
        if (closing) {
            return false;
        }
        return shelf.put(session, nextRequestId, System.nanoTime());
    }

    /**
     * A shelved session for {@code c}'s first acquire, registered to {@code c} (its effects go there,
     * it stays kept alive); null if there is none and {@code c} opens its own.
     */
    SessionShelf.Shelved adopt(LineConnection c) {
        if (closing) {
            return null;
        }
        SessionShelf.Shelved s = shelf.take();
        if (s != null) {
            bySession.put(s.session(), c);
        }
        return s;
    }

    /** Closes the shelved sessions unused for {@link #SHELF_IDLE_MS}. */
    private void closeIdleShelved() {
        closeShelved(shelf.takeIdle(System.nanoTime()));
    }

    /**
     * Proposes the close of sessions taken off the shelf. On the leader those that came due together
     * are submitted at once (they enter the log together); a follower forwards them one by one, as
     * its connections' closes. Either way a close that fails is retried on its own.
     */
    private CompletableFuture<Void> closeShelved(List<SessionShelf.Shelved> due) {
        if (due.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        long now = System.nanoTime();
        List<Command.CloseSession> commands = new ArrayList<>(due.size());
        for (SessionShelf.Shelved s : due) {
            commands.add(new Command.CloseSession(s.session(), s.nextRequestId()));
        }
        List<CompletableFuture<?>> closes = new ArrayList<>(due.size());
        List<CompletableFuture<Result>> submitted =
                commands.size() > 1 && router.node().isLeader() ? router.node().submitAll(commands) : null;
        for (int i = 0; i < commands.size(); i++) {
            Command.CloseSession close = commands.get(i);
            CompletableFuture<Void> f = new CompletableFuture<>();
            if (submitted == null) {
                proposeClose(close, now, f);
            } else {
                submitted.get(i).whenComplete((r, t) -> {
                    if (t == null) {
                        f.complete(null);
                    } else {
                        proposeClose(close, now, f); // e.g. no longer the leader: through the router
                    }
                });
            }
            closes.add(f);
        }
        return CompletableFuture.allOf(closes.toArray(CompletableFuture[]::new));
    }

    /**
     * Proposes {@code close}, retrying the same command while the failure may be passing, for up to
     * the session TTL: by then, without keep-alives, the lease has run out and the leader ends it.
     */
    private void proposeClose(Command.CloseSession close, long startNanos, CompletableFuture<Void> done) {
        CompletableFuture<?> f;
        try {
            f = router.write(close);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, t) -> {
            if (t == null || !LineConnection.retryable(t)
                    || TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos) >= config.sessionTtlMs()) {
                done.complete(null);
                return;
            }
            try {
                loop.schedule(() -> proposeClose(close, startNanos, done), 200, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                done.complete(null);
            }
        });
    }

    void connectionClosed(LineConnection c) {
        if (open.remove(c) && c.address() != null) {
            perAddress.computeIfPresent(c.address(), (a, n) -> n > 1 ? n - 1 : null);
        }
    }

    private void sweepTimeouts() {
        long now = System.nanoTime();
        long idle = TimeUnit.MILLISECONDS.toNanos(config.idleTimeoutMs());
        long partial = TimeUnit.MILLISECONDS.toNanos(config.partialLineTimeoutMs());
        for (LineConnection c : open) {
            c.checkTimeouts(now, idle, partial);
        }
    }

    /** A closing connection that held or waited for slots: later acquires wait until its close applied. */
    void releasingClose(CompletableFuture<?> f) {
        releasingCloses.add(f);
        f.whenComplete((r, t) -> loop.execute(() -> releasingCloses.remove(f)));
    }

    /**
     * Null when no close that releases slots is in flight; else a future of all of them. An acquire
     * waits for it, so "close, then another client connects and acquires" behaves as on one
     * poolcounterd even when the close has to be forwarded to the leader.
     */
    CompletableFuture<Void> settled() {
        if (releasingCloses.isEmpty()) {
            return null;
        }
        return CompletableFuture.allOf(releasingCloses.toArray(CompletableFuture[]::new))
                .handle((r, t) -> null);
    }

    /**
     * True if a grant to {@code session} may be told to its client now: the leader acknowledged the
     * session recently enough ({@link LeaseKeeper#fresh}).
     */
    boolean grantMayBeTold(long session) {
        return leases.fresh(session, config.sessionTtlMs());
    }

    /** Completes, on any thread, once a grant to {@code session} may be told (true) or never will (false). */
    CompletableFuture<Boolean> whenGrantMayBeTold(long session) {
        return leases.whenFresh(session, config.sessionTtlMs());
    }

    long sessionTtlMs() {
        return config.sessionTtlMs();
    }

    // ---- from the node -------------------------------------------------------------------------

    /**
     * Effects of one applied entry, on the apply thread (must not block). Outcomes of waits and ends
     * of sessions held here are queued on the event loop at once, so they reach the connection in log
     * order relative to the answers of its own commands (which also pass through the apply thread).
     */
    public void onEffects(List<Effect> effects) {
        // opening before bySession: see connectionOf (a session enters bySession before it leaves opening)
        if (opening.isEmpty() && bySession.isEmpty() && shelf.size() == 0) {
            return;
        }
        for (Effect e : effects) {
            long s;
            if (e instanceof Effect.PoolWaitEnded p) {
                s = p.session();
            } else if (e instanceof Effect.SessionEnded se) {
                s = se.session();
            } else {
                continue;
            }
            LineConnection c = connectionOf(s, bySession, opening, this::tokenOf);
            try {
                if (c != null) {
                    c.effect(e);
                } else if (e instanceof Effect.SessionEnded && shelf.holds(s)) {
                    // Expired while this node was cut off, or closed by an admin: never hand it on. Should
                    // a connection take it meanwhile, its acquire is refused (unknown session) and it opens
                    // a new one.
                    loop.execute(() -> shelf.drop(s));
                }
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                return; // the door is closing
            }
        }
    }

    /**
     * The connection an effect for session {@code s} goes to, on the apply thread: the one registered
     * with the session, else the one still opening it (its token read from the state this thread has
     * just updated; the connection registers the session itself when the answer reaches it, since
     * sessions in {@code bySession} are kept alive and a connection that went meanwhile must not be),
     * else null.
     * <p>
     * The connection's thread registers a session by putting it in {@code bySession}, then removing
     * it from {@code opening}, and may do so between this thread's two lookups: missed in the first
     * (not put yet) and in the second (removed already). So a miss in {@code opening} looks in
     * {@code bySession} once more, where the session then is. Without that second look, the outcome of
     * a connection's first acquire, when its wait ended in the entry right after the open, was
     * dropped: the client heard nothing until the wait was reconciled, its timeout plus 3 s later,
     * while its session held the slot.
     */
    static <C> C connectionOf(long s, Map<Long, C> bySession, Map<String, C> opening, LongFunction<String> tokenOf) {
        C c = bySession.get(s);
        if (c != null) {
            return c;
        }
        if (!opening.isEmpty()) {
            String token = tokenOf.apply(s);
            c = token == null ? null : opening.get(token);
            if (c != null) {
                return c;
            }
        }
        return bySession.get(s);
    }

    private String tokenOf(long session) {
        return router.node().readLocal(new Query.GetSessionToken(session));
    }

    private void keepAlive() {
        for (Long s : bySession.keySet()) {
            leases.keepAlive(s);
        }
        shelf.forEachSession(leases::keepAlive);
    }

    /**
     * Stops accepting, closes every connection (their sessions are closed, so their slots pass on at
     * once rather than after the TTL) and the shelved sessions, and waits up to {@code waitMs} for
     * those closes.
     */
    public void close(long waitMs) {
        closing = true;
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            loop.execute(() -> {
                if (server != null) {
                    server.close();
                }
                List<CompletableFuture<?>> closes = new ArrayList<>();
                for (LineConnection c : new ArrayList<>(open)) {
                    closes.add(c.closeForShutdown());
                }
                closes.add(closeShelved(shelf.takeAll()));
                CompletableFuture.allOf(closes.toArray(CompletableFuture[]::new))
                        .whenComplete((r, t) -> done.complete(null));
            });
            done.get(waitMs, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.info("line door: not every session was closed within {} ms; they expire after their TTL", waitMs);
        }
        loop.shutdownGracefully(0, 500, TimeUnit.MILLISECONDS).awaitUninterruptibly(2_000);
    }

    @Override
    public void close() {
        close(3_000);
    }
}
