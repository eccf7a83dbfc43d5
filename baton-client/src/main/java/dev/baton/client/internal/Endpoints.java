package dev.baton.client.internal;

import io.grpc.ConnectivityState;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The nodes a client talks to: one channel per API address, and the "current" one every new attempt
 * goes to. A failure moves the current endpoint to the next in the list (once per failed endpoint,
 * however many calls saw it fail); a {@code baton-leader} hint makes the leader current, adding it to
 * the list if needed, unless that endpoint failed very recently.
 */
public final class Endpoints {
    private static final System.Logger LOG = System.getLogger(Endpoints.class.getName());

    /** A hint naming an endpoint that failed less than this ago is ignored. */
    public static final long HINT_IGNORE_AFTER_FAILURE_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** Hints never grow the list beyond this many endpoints. */
    public static final int MAX_ENDPOINTS = 64;

    /** One node's API address and its channel. */
    public static final class Endpoint {
        public final String address;
        final ManagedChannel channel;
        /**
         * Where calls start: {@link #channel}, with the client's interceptors (its token) if any, and
         * with the writes sent over {@link #stream} when the client uses the call stream.
         */
        final Channel calls;
        /** The endpoint's call stream, or null if the client makes unary calls only. */
        final CallStream stream;
        volatile long failedAtNanos;
        volatile boolean everFailed;

        Endpoint(String address, ManagedChannel channel, ClientInterceptor interceptor) {
            this(address, channel, interceptor, null);
        }

        /** @param streamTimer the timer of the call stream's deadlines; null: no call stream */
        Endpoint(String address, ManagedChannel channel, ClientInterceptor interceptor, ScheduledExecutorService streamTimer) {
            this.address = address;
            this.channel = channel;
            Channel intercepted = interceptor == null ? channel : ClientInterceptors.intercept(channel, interceptor);
            this.stream = streamTimer == null ? null : new CallStream(intercepted, streamTimer, address);
            this.calls = stream == null ? intercepted : stream;
        }

        boolean failedWithin(long nanos, long now) {
            return everFailed && now - failedAtNanos < nanos;
        }

        @Override
        public String toString() {
            return address;
        }
    }

    private final CopyOnWriteArrayList<Endpoint> list = new CopyOnWriteArrayList<>();
    private final AtomicReference<Endpoint> current = new AtomicReference<>();
    private final Function<String, ManagedChannel> channelFactory;
    private final boolean plaintext;
    private final ClientInterceptor interceptor;
    private final ScheduledExecutorService streamTimer;
    private final Object addLock = new Object();
    private volatile boolean shutdown;

    /**
     * {@code address} with {@code defaultPort} added if it names no port: {@code host},
     * {@code 10.0.0.1} and {@code [::1]} gain one; {@code host:port} and {@code [::1]:port} are kept; a
     * bare IPv6 address is bracketed.
     */
    public static String withDefaultPort(String address, int defaultPort) {
        String a = address.trim();
        if (a.startsWith("[")) {
            return a.contains("]:") ? a : a + ":" + defaultPort;
        }
        int colons = a.length() - a.replace(":", "").length();
        if (colons == 1) {
            return a;
        }
        return colons == 0 ? a + ":" + defaultPort : "[" + a + "]:" + defaultPort;
    }

    public Endpoints(List<String> addresses, Function<String, ManagedChannel> channelFactory) {
        this(addresses, channelFactory, false, null);
    }

    /**
     * @param plaintext   the channels are the client's own plaintext ones (for the hints of {@link Errors#transportHint})
     * @param interceptor on every call (the token), or null
     */
    public Endpoints(List<String> addresses, Function<String, ManagedChannel> channelFactory, boolean plaintext,
              ClientInterceptor interceptor) {
        this(addresses, channelFactory, plaintext, interceptor, null);
    }

    /**
     * @param streamTimer runs the deadlines of calls made over each endpoint's call stream
     *                    ({@link CallStream}); null: every call is a unary call
     */
    public Endpoints(List<String> addresses, Function<String, ManagedChannel> channelFactory, boolean plaintext,
              ClientInterceptor interceptor, ScheduledExecutorService streamTimer) {
        this.channelFactory = channelFactory;
        this.plaintext = plaintext;
        this.interceptor = interceptor;
        this.streamTimer = streamTimer;
        for (String address : addresses) {
            String a = address.trim();
            if (find(a) == null) {
                list.add(new Endpoint(a, Objects.requireNonNull(channelFactory.apply(a), "channel factory returned null"), interceptor,
                        streamTimer));
            }
        }
        current.set(list.get(0));
    }

    /** Whether the channels are known to be plaintext (the client's default channels). */
    public boolean plaintext() {
        return plaintext;
    }

    public Endpoint current() {
        return current.get();
    }

    public List<Endpoint> all() {
        return List.copyOf(list);
    }

    /** Records that {@code ep} failed and, if it is still current, moves on to the next endpoint. */
    public void failed(Endpoint ep) {
        ep.failedAtNanos = System.nanoTime();
        ep.everFailed = true;
        if (list.size() < 2) {
            wake(ep);
            return;
        }
        Endpoint next = next(ep);
        if (current.compareAndSet(ep, next)) {
            LOG.log(Level.DEBUG, "Baton endpoint {0} failed; now using {1}", ep, next);
            wake(next);
        }
    }

    /** Applies a {@code baton-leader} hint received from {@code from} (which may be the leader itself). */
    public void leaderHint(String address, Endpoint from) {
        if (address == null || shutdown) {
            return;
        }
        Endpoint target = find(address);
        if (target == null) {
            synchronized (addLock) {
                target = find(address);
                if (target == null) {
                    if (shutdown || list.size() >= MAX_ENDPOINTS) {
                        return;
                    }
                    ManagedChannel channel;
                    try {
                        channel = channelFactory.apply(address);
                    } catch (RuntimeException e) {
                        LOG.log(Level.DEBUG, "Cannot make a channel for leader " + address, e);
                        return;
                    }
                    if (channel == null) {
                        return;
                    }
                    target = new Endpoint(address, channel, interceptor, streamTimer);
                    list.add(target);
                    LOG.log(Level.DEBUG, "Baton leader {0} added to the endpoints", address);
                }
            }
        }
        if (target != from && target.failedWithin(HINT_IGNORE_AFTER_FAILURE_NANOS, System.nanoTime())) {
            return;
        }
        Endpoint before = current.getAndSet(target);
        if (before != target) {
            LOG.log(Level.DEBUG, "Following Baton leader {0}", target);
            wake(target);
        }
    }

    private Endpoint next(Endpoint ep) {
        List<Endpoint> snapshot = List.copyOf(list);
        int i = snapshot.indexOf(ep);
        return snapshot.get((i + 1) % snapshot.size());
    }

    private Endpoint find(String address) {
        for (Endpoint e : list) {
            if (e.address.equals(address)) {
                return e;
            }
        }
        return null;
    }

    /** A channel in TRANSIENT_FAILURE may wait long before reconnecting; we are about to use it. */
    private static void wake(Endpoint ep) {
        try {
            if (ep.channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
                ep.channel.resetConnectBackoff();
            }
        } catch (UnsupportedOperationException ignored) {
            // some channels cannot report their state
        }
    }

    /** Shuts every channel down, waiting up to {@code waitNanos} in all before forcing them. */
    public void shutdown(long waitNanos) {
        synchronized (addLock) {
            shutdown = true;
        }
        for (Endpoint e : list) {
            if (e.stream != null) {
                e.stream.shutdown(); // a graceful channel shutdown would wait for the long-lived stream
            }
            e.channel.shutdown();
        }
        long deadline = System.nanoTime() + waitNanos;
        for (Endpoint e : list) {
            try {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !e.channel.awaitTermination(left, TimeUnit.NANOSECONDS)) {
                    e.channel.shutdownNow();
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                e.channel.shutdownNow();
            }
        }
        for (Endpoint e : list) {
            e.channel.shutdownNow();
        }
    }
}
