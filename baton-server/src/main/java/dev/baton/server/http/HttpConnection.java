package dev.baton.server.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP connection: answers its requests one at a time, in order, and closes it when it is too
 * slow. Everything here runs on the door's event loop, except {@link HttpDoor#handle} on a handler
 * thread.
 *
 * <p>A connection is always in one phase, and all but one have a deadline:
 * <ul>
 *   <li>{@code IDLE}: no request begun; closed after the idle timeout (a kept-alive connection
 *       nobody uses, or one opened and never written to);</li>
 *   <li>{@code READING}: the first bytes of a request arrived; the whole request (head and body)
 *       must follow within the request timeout, else 408 and close. This is what stops a client
 *       that sends half a request from holding anything but its own socket;</li>
 *   <li>{@code ANSWERING}: a handler thread works on it; no deadline here, each handler bounds its
 *       own waits (1 s for member status and readiness, 15 s for a forced close);</li>
 *   <li>{@code WRITING}: the answer is sent; the client must take it within the request timeout.</li>
 * </ul>
 * While answering and writing, the connection is not read (auto-read off): a client pipelining
 * requests is served in order and cannot queue more than {@link #MAX_PIPELINED} of them.
 */
final class HttpConnection extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(HttpConnection.class);
    static final int MAX_PIPELINED = 16;

    private enum Phase { IDLE, READING, ANSWERING, WRITING, LINGERING, CLOSED }

    /**
     * After a refusal, how long the connection keeps reading and dropping what the client still sends
     * (the rest of an oversized body) before it closes, and how many bytes at most. Closing a socket
     * with unread bytes resets it, and a client still sending its body then loses the answer (the 413)
     * that was already on its way; so the door stops sending (FIN) and drains for a while instead:
     * until the client closes, or {@link #LINGER_QUIET_MS} pass without a byte from it, or
     * {@link #LINGER_MAX_MS} in all, or {@link #LINGER_BYTES} were dropped (a bound for a client that
     * would send forever).
     */
    static final long LINGER_QUIET_MS = 5_000;
    static final long LINGER_MAX_MS = 30_000;
    static final long LINGER_BYTES = 8L << 20;

    /**
     * A complete request, its body already released; copied first for the JSON API, the only
     * endpoints that read one.
     */
    private record Pending(HttpDoor.Request request, boolean keepAlive, HttpDoor.Reply failure, byte[] body) {}

    private final HttpDoor door;
    private final ArrayDeque<Pending> pipelined = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Phase phase = Phase.IDLE;
    private ScheduledFuture<?> timer;
    /** Bytes dropped while lingering after a refusal, and when the lingering started. */
    private long lingered;
    private long lingerSinceNanos;
    /** The JSON API exchange being answered, or null. */
    private ApiExchange exchange;

    HttpConnection(HttpDoor door) {
        this.door = door;
    }

    /** The handler in front of the HTTP decoder that sees a request's first bytes arrive. */
    ChannelHandler clock() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                if (phase == Phase.LINGERING) {
                    if (msg instanceof io.netty.buffer.ByteBuf b) {
                        lingered += b.readableBytes();
                    }
                    ReferenceCountUtil.release(msg);
                    long left = LINGER_MAX_MS - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lingerSinceNanos);
                    if (lingered > LINGER_BYTES || left <= 0) {
                        c.close();
                    } else {
                        arm(Math.min(LINGER_QUIET_MS, left)); // the client is still sending: wait on
                    }
                    return;
                }
                if (phase == Phase.IDLE) {
                    phase = Phase.READING;
                    arm(door.config().requestTimeoutMs());
                }
                c.fireChannelRead(msg);
            }
        };
    }

    @Override
    public void handlerAdded(ChannelHandlerContext c) {
        this.ctx = c;
    }

    @Override
    public void channelActive(ChannelHandlerContext c) {
        arm(door.config().idleTimeoutMs());
        c.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext c) {
        phase = Phase.CLOSED;
        cancel();
        pipelined.clear();
        if (exchange != null) {
            exchange.abandoned();
        }
        c.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
        LOG.debug("HTTP connection {} failed", c.channel().remoteAddress(), cause);
        c.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext c, Object msg) {
        if (!(msg instanceof FullHttpRequest req)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        Pending p;
        try {
            HttpDoor.Request r = new HttpDoor.Request(req.method().name(), req.uri(), req.headers());
            byte[] body = door.isApi(r) ? ByteBufUtil.getBytes(req.content()) : null;
            p = new Pending(r, HttpUtil.isKeepAlive(req), malformed(req.decoderResult()), body);
        } finally {
            req.release();
        }
        if (phase == Phase.ANSWERING || phase == Phase.WRITING) {
            if (pipelined.size() >= MAX_PIPELINED) {
                door.refusedMalformed.increment();
                c.close();
                return;
            }
            pipelined.add(p);
            return;
        }
        if (phase != Phase.CLOSED) {
            start(p);
        }
    }

    private HttpDoor.Reply malformed(DecoderResult r) {
        if (r.isSuccess()) {
            return null;
        }
        Throwable t = r.cause();
        if (t instanceof TooLongHttpLineException) {
            return HttpDoor.Reply.error(414, "URI_TOO_LONG", "request line over " + HttpDoor.MAX_LINE_BYTES + " bytes");
        }
        if (t instanceof TooLongHttpHeaderException || t instanceof TooLongFrameException) {
            return HttpDoor.Reply.error(431, "HEADERS_TOO_LARGE", "request headers over " + HttpDoor.MAX_HEADER_BYTES
                    + " bytes");
        }
        return HttpDoor.Reply.error(400, "BAD_REQUEST", "not a valid HTTP request: " + t.getMessage());
    }

    private void start(Pending p) {
        cancel();
        phase = Phase.ANSWERING;
        ctx.channel().config().setAutoRead(false);
        if (p.failure() != null) {
            door.refusedMalformed.increment();
            send(p.request().method(), p.failure(), true);
            return;
        }
        if (p.body() != null) {
            answerApi(p);
            return;
        }
        try {
            door.handlers.execute(() -> {
                HttpDoor.Reply r;
                try {
                    r = door.handle(p.request());
                } catch (Throwable t) { // an Error: answer, so the connection does not hang, then let it fly
                    ctx.executor().execute(() -> send(p.request().method(),
                            HttpDoor.Reply.error(500, "INTERNAL", String.valueOf(t)), true));
                    throw t;
                }
                ctx.executor().execute(() -> send(p.request().method(), r, !p.keepAlive()));
            });
        } catch (RejectedExecutionException e) {
            door.refusedBusy.increment();
            send(p.request().method(), HttpDoor.Reply.error(503, "UNAVAILABLE", "every HTTP handler is busy; try again")
                    .with("Retry-After", "1"), !p.keepAlive());
        }
    }

    /**
     * A JSON API request: answered when its call completes, no handler thread held meanwhile. The
     * connection is read while the call is pending (it is not idle, so no idle timeout applies), so
     * that a client that gives up is noticed and its call cancelled (its call slot freed);
     * what it pipelines meanwhile is bounded as always ({@link #MAX_PIPELINED}).
     */
    private void answerApi(Pending p) {
        ApiExchange x = new ApiExchange(p);
        exchange = x;
        HttpDoor.Reply refused = door.apiRefusal(p.request());
        if (refused != null) {
            x.reply(refused);
            return;
        }
        ctx.channel().config().setAutoRead(true);
        door.answerApi(p.request(), p.body(), x);
    }

    /** One JSON API exchange; every method runs on the event loop. */
    private final class ApiExchange implements JsonApi.Exchange {
        private final Pending p;
        private boolean answered;
        private Runnable onAbandoned;

        ApiExchange(Pending p) {
            this.p = p;
        }

        @Override
        public java.util.concurrent.ScheduledExecutorService loop() {
            return ctx.executor();
        }

        private boolean current() {
            return exchange == this && !answered && phase != Phase.CLOSED;
        }

        @Override
        public void reply(HttpDoor.Reply r) {
            if (!current()) {
                return;
            }
            answered = true;
            exchange = null;
            ctx.channel().config().setAutoRead(false);
            send(p.request().method(), r, !p.keepAlive());
        }

        @Override
        public void onAbandoned(Runnable cancel) {
            onAbandoned = cancel;
        }

        void abandoned() {
            exchange = null;
            if (!answered && onAbandoned != null) {
                answered = true;
                onAbandoned.run();
            }
        }

        @Override
        public void begin(int status, String type, long contentLength) {
            if (!current()) {
                return;
            }
            ctx.channel().config().setAutoRead(false);
            io.netty.handler.codec.http.HttpResponse head = new io.netty.handler.codec.http.DefaultHttpResponse(
                    HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            head.headers().set("X-Content-Type-Options", "nosniff");
            head.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
            if (contentLength >= 0) {
                head.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
            } else {
                HttpUtil.setTransferEncodingChunked(head, true);
            }
            // The connection ends with the stream: a broken-off body must not look like the next answer.
            head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            phase = Phase.WRITING;
            ctx.write(head);
        }

        @Override
        public void part(byte[] bytes, Runnable taken) {
            if (!current()) {
                return;
            }
            // The client must keep taking the answer: each part within the request timeout.
            arm(door.config().requestTimeoutMs());
            ctx.writeAndFlush(new io.netty.handler.codec.http.DefaultHttpContent(Unpooled.wrappedBuffer(bytes)))
                    .addListener(f -> {
                        if (f.isSuccess() && current()) {
                            cancel(); // no clock while the next part is made
                            taken.run();
                        }
                    });
        }

        @Override
        public void end(boolean complete) {
            if (!current()) {
                return;
            }
            answered = true;
            exchange = null;
            cancel();
            if (!complete) {
                ctx.close();
                return;
            }
            ctx.writeAndFlush(io.netty.handler.codec.http.LastHttpContent.EMPTY_LAST_CONTENT)
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Answers a request the aggregator refused (its body is too large) and closes the connection. */
    void refuse(HttpDoor.Reply r) {
        cancel();
        pipelined.clear();
        phase = Phase.ANSWERING;
        ctx.channel().config().setAutoRead(false);
        send("POST", r, true, true);
    }

    private void send(String method, HttpDoor.Reply r, boolean close) {
        send(method, r, close, false);
    }

    /** @param linger after a refusal: the request may still be arriving, so close as {@link #linger} does */
    private void send(String method, HttpDoor.Reply r, boolean close, boolean linger) {
        if (phase == Phase.CLOSED) {
            return;
        }
        boolean head = method.equals("HEAD");
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()),
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(r.body()));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.type());
        resp.headers().set("X-Content-Type-Options", "nosniff");
        for (Map.Entry<String, String> h : r.headers().entrySet()) {
            resp.headers().set(h.getKey(), h.getValue());
        }
        resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
        resp.headers().set(HttpHeaderNames.CONNECTION, close ? HttpHeaderValues.CLOSE : HttpHeaderValues.KEEP_ALIVE);
        phase = Phase.WRITING;
        arm(door.config().requestTimeoutMs());
        ctx.writeAndFlush(resp).addListener(f -> {
            cancel();
            if (f.isSuccess() && close && linger) {
                linger();
                return;
            }
            if (!f.isSuccess() || close) {
                ctx.close();
                return;
            }
            if (phase != Phase.WRITING) {
                return; // closed meanwhile
            }
            phase = Phase.IDLE;
            Pending next = pipelined.poll();
            if (next != null) {
                start(next);
            } else {
                arm(door.config().idleTimeoutMs());
                ctx.channel().config().setAutoRead(true);
            }
        });
    }

    /**
     * The answer to a refused request is written: stop sending (the client reads the answer, then
     * the end of the stream), drop whatever it still sends (see {@link #LINGER_QUIET_MS}), then close
     * (at once if the client closes first).
     */
    private void linger() {
        if (phase == Phase.CLOSED || !(ctx.channel() instanceof io.netty.channel.socket.DuplexChannel d)) {
            ctx.close();
            return;
        }
        phase = Phase.LINGERING;
        lingerSinceNanos = System.nanoTime();
        arm(LINGER_QUIET_MS);
        d.shutdownOutput().addListener(f -> {
            if (!f.isSuccess()) {
                ctx.close();
                return;
            }
            ctx.channel().config().setAutoRead(true);
        });
    }

    // ---- deadlines ------------------------------------------------------------------------------

    private void arm(long ms) {
        cancel();
        timer = ctx.executor().schedule(this::expired, ms, TimeUnit.MILLISECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expired() {
        timer = null;
        switch (phase) {
            case IDLE -> {
                door.timedOutIdle.increment();
                ctx.close();
            }
            case READING -> {
                door.timedOutRequest.increment();
                pipelined.clear();
                ctx.channel().config().setAutoRead(false);
                // The answer may not get through to a client that does not read either: close regardless.
                phase = Phase.ANSWERING;
                send("GET", HttpDoor.Reply.error(408, "REQUEST_TIMEOUT", "request not received within "
                        + door.config().requestTimeoutMs() + " ms"), true);
                ctx.executor().schedule(() -> {
                    ctx.close();
                }, 1, TimeUnit.SECONDS);
            }
            case WRITING -> {
                door.timedOutResponse.increment();
                ctx.close();
            }
            case LINGERING -> ctx.close();
            default -> { }
        }
    }
}
