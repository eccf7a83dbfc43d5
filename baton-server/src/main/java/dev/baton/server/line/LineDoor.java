package dev.baton.server.line;

import dev.baton.core.command.Effect;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.server.api.LeaseKeeper;
import dev.baton.server.api.Router;
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
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.util.CharsetUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The PoolCounter front door: poolcounterd's line protocol (seed-systems.md §1.2–1.7) on port 7531,
 * so MediaWiki's PHP client, the Python client and STATS exporters work against Baton unchanged.
 * Every TCP connection is a Baton session (opened at its first acquire, closed when the connection
 * closes), and every acquire and release is a command of the replicated state machine, so keys are
 * shared by the whole cluster whichever node a client connects to. See {@link LineConnection} for
 * one connection's life and docs/poolcounter.md for the differences from poolcounterd.
 *
 * <h2>One thread</h2>
 * All connections share one Netty event loop, as poolcounterd serves everything from one libevent
 * loop. Besides being plenty (the work per line is parsing and a queue hand-off; Raft runs on its
 * own threads), it orders events across connections: a client that closes its connection and
 * another that connects right after are seen in that order, and the first one's release is
 * proposed before the second one's acquire (see {@link #settled()}).
 */
public final class LineDoor implements AutoCloseable {
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
     */
    public record Config(String host, int port, int maxLineBytes, int maxConnections, long sessionTtlMs) {
        public static final int DEFAULT_PORT = 7531;
        public static final int DEFAULT_MAX_LINE_BYTES = 1024;
        public static final int DEFAULT_MAX_CONNECTIONS = 10_000;

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
        }

        public static Config defaults(String host, long sessionTtlMs) {
            return new Config(host, DEFAULT_PORT, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_CONNECTIONS, sessionTtlMs);
        }

        public Config withPort(int p) {
            return new Config(host, p, maxLineBytes, maxConnections, sessionTtlMs);
        }
    }

    private final Config config;
    private final Router router;
    private final LeaseKeeper leases;
    private final String nodeId;
    private final long startMillis = System.currentTimeMillis();
    private final long startNanos = System.nanoTime();
    private final EventLoopGroup loop;
    /** Sessions of open connections, for effects (read on the apply thread) and keep-alives. */
    private final Map<Long, LineConnection> bySession = new ConcurrentHashMap<>();
    // Touched on the event loop only.
    private final Set<LineConnection> open = new HashSet<>();
    private final List<CompletableFuture<?>> releasingCloses = new ArrayList<>();
    private long connectionSeq;

    final AtomicLong connectErrors = new AtomicLong();
    final AtomicLong failedSends = new AtomicLong();
    final AtomicLong releaseMismatch = new AtomicLong();
    final ChannelFutureListener countFailedSend = f -> {
        if (!f.isSuccess()) {
            failedSends.incrementAndGet();
        }
    };
    private final AtomicLong connectionsTotal = new AtomicLong();
    private Channel server;
    private volatile boolean closing;

    public LineDoor(Config config, Router router, LeaseKeeper leases, String nodeId) {
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
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connectionsTotal.incrementAndGet();
                        if (closing || open.size() >= config.maxConnections()) {
                            connectErrors.incrementAndGet();
                            ch.pipeline().addLast(new Refuse());
                            return;
                        }
                        LineConnection c = new LineConnection(LineDoor.this, ++connectionSeq);
                        open.add(c);
                        ch.pipeline().addLast(new LineBasedFrameDecoder(config.maxLineBytes(), true, true), c);
                    }
                });
        try {
            server = b.bind(new InetSocketAddress(config.host(), config.port())).sync().channel();
        } catch (Exception e) {
            loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw new IllegalStateException("cannot serve the PoolCounter protocol on " + config.host() + ":"
                    + config.port() + ": " + e.getMessage(), e);
        }
        long every = Math.max(50, Math.min(1_000, config.sessionTtlMs() / 4));
        loop.scheduleWithFixedDelay(this::keepAlive, every, every, TimeUnit.MILLISECONDS);
        return this;
    }

    /** Answers a connection over the limit and closes it. */
    private final class Refuse extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(ctx.alloc().buffer().writeBytes(
                    (closing ? "ERROR SHUTTING_DOWN\n" : "ERROR TOO_MANY_CONNECTIONS\n").getBytes(CharsetUtil.US_ASCII)))
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
    public int connections() {
        return open.size();
    }

    public long connectionsTotal() {
        return connectionsTotal.get();
    }

    /** Connections refused (over the limit) or failed to set up, as STATS' connect_errors. */
    public long connectErrors() {
        return connectErrors.get();
    }

    /** Replies that could not be written, as STATS' failed_sends. */
    public long failedSends() {
        return failedSends.get();
    }

    // ---- for connections -----------------------------------------------------------------------

    Router router() {
        return router;
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

    void sessionOpened(long session, LineConnection c) {
        bySession.put(session, c);
        leases.keepAlive(session);
    }

    void sessionGone(long session) {
        bySession.remove(session);
    }

    void connectionClosed(LineConnection c) {
        open.remove(c);
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
        if (bySession.isEmpty()) {
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
            LineConnection c = bySession.get(s);
            if (c != null) {
                try {
                    c.effect(e);
                } catch (java.util.concurrent.RejectedExecutionException stopping) {
                    return; // the door is closing
                }
            }
        }
    }

    private void keepAlive() {
        for (Long s : bySession.keySet()) {
            leases.keepAlive(s);
        }
    }

    /**
     * Stops accepting, closes every connection (their sessions are closed, so their slots pass on at
     * once rather than after the TTL) and waits up to {@code waitMs} for those closes.
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
