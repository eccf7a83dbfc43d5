package dev.baton.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.api.v1.CallReply;
import dev.baton.api.v1.CallRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolsGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The call stream against a transport that calls back while holding its own lock, as gRPC's OkHttp
 * transport does on a channel with a direct executor: a sender that waits for the transport's lock
 * must never hold a lock that such a callback takes.
 */
class CallStreamLockTest {
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    @Test
    void aStreamEndingUnderTheTransportsLockWhileACallIsSentDoesNotDeadlock() throws Exception {
        assertNoDeadlock(listener -> listener.onClose(Status.UNAVAILABLE.withDescription("connection lost"), new Metadata()));
    }

    @Test
    void aReplyArrivingUnderTheTransportsLockWhileACallIsSentDoesNotDeadlock() throws Exception {
        assertNoDeadlock(listener -> listener.onMessage(CallReply.newBuilder().setCallId(999).build()));
    }

    /**
     * Thread A sends a call; inside the transport's {@code sendMessage} it waits until thread B holds
     * the transport's lock and is calling {@code callback} on the stream's listener, then asks for that
     * lock. B releases the lock once the callback returns. If A held a lock the callback takes, neither
     * would move: A gives up on the transport's lock after a generous while, and the test fails.
     */
    private void assertNoDeadlock(Consumer<ClientCall.Listener<CallReply>> callback) throws Exception {
        LockingTransport t = new LockingTransport();
        CallStream stream = new CallStream(t, timer, "test:1");
        ClientCall<PoolAcquireRequest, PoolReply> c = stream.newCall(PoolsGrpc.getAcquireMethod(), CallOptions.DEFAULT);
        AtomicReference<Status> closed = new AtomicReference<>();
        c.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.set(status);
            }
        }, new Metadata());
        c.sendMessage(PoolAcquireRequest.newBuilder().setKey("k").build());

        Thread b = new Thread(() -> {
            try {
                t.senderInside.await();
                t.lock.lock();
                try {
                    t.callbackHoldsLock.countDown();
                    callback.accept(t.listener.get());
                } finally {
                    t.lock.unlock();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "transport-callback");
        b.start();
        Thread a = new Thread(c::halfClose, "sender"); // sends the call on the stream
        a.start();
        a.join(60_000);
        b.join(60_000);

        assertThat(a.isAlive() || b.isAlive()).as("threads still stuck").isFalse();
        assertThat(t.senderGotLock).as("the sender got the transport's lock while the callback ran").isTrue();
    }

    /** A channel whose one stream's {@code sendMessage} needs a lock that its callbacks are made under. */
    private static final class LockingTransport extends Channel {
        final ReentrantLock lock = new ReentrantLock();
        final CountDownLatch senderInside = new CountDownLatch(1);
        final CountDownLatch callbackHoldsLock = new CountDownLatch(1);
        final AtomicReference<ClientCall.Listener<CallReply>> listener = new AtomicReference<>();
        volatile boolean senderGotLock;
        private final AtomicBoolean first = new AtomicBoolean(true);

        @Override
        @SuppressWarnings("unchecked")
        public <Req, Resp> ClientCall<Req, Resp> newCall(MethodDescriptor<Req, Resp> method, CallOptions options) {
            return (ClientCall<Req, Resp>) new ClientCall<CallRequest, CallReply>() {
                @Override
                public void start(Listener<CallReply> l, Metadata headers) {
                    listener.set(l);
                }

                @Override
                public void request(int n) {}

                @Override
                public void cancel(String message, Throwable cause) {}

                @Override
                public void halfClose() {}

                @Override
                public void sendMessage(CallRequest message) {
                    if (!first.compareAndSet(true, false)) {
                        return;
                    }
                    senderInside.countDown();
                    try {
                        callbackHoldsLock.await();
                        // A real transport would wait for ever; 20 s is far beyond a callback's work.
                        if (lock.tryLock(20, TimeUnit.SECONDS)) {
                            senderGotLock = true;
                            lock.unlock();
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            };
        }

        @Override
        public String authority() {
            return "test:1";
        }
    }
}
