package dev.baton.client.poolcounter;

import com.google.protobuf.Message;
import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.CloseSessionResponse;
import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.KeepAliveAck;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.LockAcquireRequest;
import dev.baton.api.v1.LockReleaseRequest;
import dev.baton.api.v1.LockReply;
import dev.baton.api.v1.LockStatus;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.OpenSessionResponse;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionInfo;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.BatonClient;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * A scripted, in-process stand-in for a Baton node, for unit tests of the facades: it opens one
 * session, acks keep-alives, records every pool and lock request, and answers them with replaceable
 * handlers (which may throw {@link #error} to fail a call). Defaults: every acquire is granted with a
 * new fence, every release succeeds, the session holds nothing.
 */
public final class FakeBaton implements AutoCloseable {
    /** The session every client of this node gets. */
    public static final long SESSION = 7;
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final Metadata.Key<String> BATON_ERROR =
            Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);

    private final String address = "fake-baton:" + NAMES.incrementAndGet();
    private final Server server;
    private final AtomicLong fences = new AtomicLong(100);

    /** Every pool and lock request and session read received, in order. */
    public final List<Message> requests = new CopyOnWriteArrayList<>();
    /** Answers {@code Pools.Acquire}. */
    public volatile Function<PoolAcquireRequest, PoolReply> poolAcquire = r -> PoolReply.newBuilder()
            .setStatus(PoolStatus.POOL_LOCKED).setKey(r.getKey()).setFence(fences.incrementAndGet()).build();
    /** Answers {@code Pools.Release}. */
    public volatile Function<PoolReleaseRequest, PoolReply> poolRelease = r -> PoolReply.newBuilder()
            .setStatus(PoolStatus.POOL_RELEASED).setKey(r.getKey()).setFence(r.getFence()).build();
    /** Answers {@code Locks.Acquire}. */
    public volatile Function<LockAcquireRequest, LockReply> lockAcquire = r -> LockReply.newBuilder()
            .setStatus(LockStatus.LOCK_LOCKED).setName(r.getName()).setFence(fences.incrementAndGet()).build();
    /** Answers {@code Locks.Release}. */
    public volatile Function<LockReleaseRequest, LockReply> lockRelease = r -> LockReply.newBuilder()
            .setStatus(LockStatus.LOCK_UNLOCKED).setName(r.getName()).setFence(r.getFence()).build();
    /** The lease granted on open and in every keep-alive ack. */
    public volatile long ttlMs = 10_000;
    /** Answers {@code Sessions.Get}. */
    public volatile Function<GetSessionRequest, SessionInfo> sessionGet =
            r -> SessionInfo.newBuilder().setSession(r.getSession()).build();

    /** Starts the node in process, under a name of its own. */
    public FakeBaton() {
        try {
            server = InProcessServerBuilder.forName(address)
                    .addService(new Sessions())
                    .addService(new Pools())
                    .addService(new Locks())
                    .build()
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A client of this node that retries unavailability for {@code retryFor}. */
    public BatonClient client(Duration retryFor) {
        return BatonClient.builder()
                .endpoints(address)
                .channelFactory(a -> InProcessChannelBuilder.forName(a).build())
                .retryFor(retryFor)
                .onSessionLost(e -> {})
                .build();
    }

    /** A failure with gRPC status {@code code} and Baton error {@code batonError} (may be null). */
    public static StatusRuntimeException error(Status.Code code, String batonError) {
        Metadata trailers = new Metadata();
        if (batonError != null) {
            trailers.put(BATON_ERROR, batonError);
        }
        return Status.fromCode(code).withDescription("scripted " + code).asRuntimeException(trailers);
    }

    /** Polls {@code condition} every few milliseconds for up to 30 s; fails saying {@code what} did not happen. */
    public static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            Thread.sleep(5);
        }
    }

    /** The requests of one type received so far. */
    public <T extends Message> List<T> received(Class<T> type) {
        return requests.stream().filter(type::isInstance).map(type::cast).toList();
    }

    @Override
    public void close() {
        server.shutdownNow();
    }

    private <Q extends Message, A> void answer(Q request, Function<Q, A> handler, StreamObserver<A> out) {
        requests.add(request);
        A reply;
        try {
            reply = handler.apply(request);
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        }
        out.onNext(reply);
        out.onCompleted();
    }

    private final class Sessions extends SessionsGrpc.SessionsImplBase {
        @Override
        public void open(OpenSessionRequest request, StreamObserver<OpenSessionResponse> out) {
            out.onNext(OpenSessionResponse.newBuilder().setSession(SESSION).setTtlMs(ttlMs).build());
            out.onCompleted();
        }

        @Override
        public StreamObserver<KeepAliveRequest> keepAlive(StreamObserver<SessionEvent> out) {
            return new StreamObserver<>() {
                @Override
                public void onNext(KeepAliveRequest value) {
                    synchronized (out) {
                        out.onNext(SessionEvent.newBuilder()
                                .setAck(KeepAliveAck.newBuilder().setSession(SESSION).setTtlMs(ttlMs)).build());
                    }
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {
                    synchronized (out) {
                        out.onCompleted();
                    }
                }
            };
        }

        @Override
        public void close(CloseSessionRequest request, StreamObserver<CloseSessionResponse> out) {
            out.onNext(CloseSessionResponse.newBuilder().setSession(request.getSession()).build());
            out.onCompleted();
        }

        @Override
        public void get(GetSessionRequest request, StreamObserver<SessionInfo> out) {
            answer(request, sessionGet, out);
        }
    }

    private final class Pools extends PoolsGrpc.PoolsImplBase {
        @Override
        public void acquire(PoolAcquireRequest request, StreamObserver<PoolReply> out) {
            answer(request, poolAcquire, out);
        }

        @Override
        public void release(PoolReleaseRequest request, StreamObserver<PoolReply> out) {
            answer(request, poolRelease, out);
        }
    }

    private final class Locks extends LocksGrpc.LocksImplBase {
        @Override
        public void acquire(LockAcquireRequest request, StreamObserver<LockReply> out) {
            answer(request, lockAcquire, out);
        }

        @Override
        public void release(LockReleaseRequest request, StreamObserver<LockReply> out) {
            answer(request, lockRelease, out);
        }
    }
}
