package dev.baton.client;

import dev.baton.client.internal.CallStreamForms;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.CallError;
import dev.baton.api.v1.CallReply;
import dev.baton.api.v1.CallRequest;
import dev.baton.api.v1.CallsGrpc;
import dev.baton.api.v1.DispatchGrpc;
import dev.baton.api.v1.EventsGrpc;
import dev.baton.api.v1.KeepAliveAck;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.OpenSessionResponse;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.QueuesGrpc;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionsGrpc;
import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake Baton node serving every method of the eight baton.v1 services (the writes of
 * {@code Calls/Stream} answered by the handlers of their unary methods), in process (named) or over
 * real Netty on a loopback port. It records every request, answers with per-method handlers (default:
 * the reply type's default instance; Open grants {@link #SESSION}), acks keep-alives, can push
 * events on the open keep-alive streams, and adds a {@code baton-leader} trailer to every answer
 * when {@link #leader} is set.
 */
final class FakeNode implements AutoCloseable {
    static final long SESSION = 42;

    /** One received request. */
    record Received(String method, Message request) {
        long requestId() {
            return longField(request, "request_id");
        }

        long session() {
            return longField(request, "session");
        }
    }

    /** Answers a request (or throws a {@link StatusRuntimeException}). */
    @FunctionalInterface
    interface Handler {
        Message handle(Message request) throws Exception;
    }

    static final Metadata.Key<String> BATON_ERROR = Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> BATON_LEADER = Metadata.Key.of("baton-leader", Metadata.ASCII_STRING_MARSHALLER);

    private final boolean netty;
    private String name;
    private Server server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-node");
        t.setDaemon(true);
        return t;
    });

    final List<Received> received = new CopyOnWriteArrayList<>();
    final Map<String, Handler> handlers = new ConcurrentHashMap<>();
    final List<KeepAliveRequest> keepAlives = new CopyOnWriteArrayList<>();
    final List<ServerCallStreamObserver<SessionEvent>> streams = new CopyOnWriteArrayList<>();
    final AtomicInteger streamsOpened = new AtomicInteger();
    final AtomicInteger callStreamsOpened = new AtomicInteger();
    volatile String leader;
    volatile boolean ackKeepAlives = true;
    volatile long grantedTtlMs = 10_000;

    private FakeNode(String name, boolean netty) {
        this.name = name;
        this.netty = netty;
    }

    /** An in-process node named {@code name}. */
    static FakeNode inProcess(String name) {
        FakeNode n = new FakeNode(name, false);
        n.start();
        return n;
    }

    /** A node on a real Netty server bound to 127.0.0.1 on a free port; its name is {@code 127.0.0.1:port}. */
    static FakeNode netty() {
        FakeNode n = new FakeNode(null, true);
        n.start();
        return n;
    }

    String name() {
        return name;
    }

    synchronized void start() {
        ServerBuilder<?> b = netty
                ? Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
                : InProcessServerBuilder.forName(name);
        b.executor(executor);
        for (ServiceDescriptor sd : List.of(SessionsGrpc.getServiceDescriptor(), PoolsGrpc.getServiceDescriptor(),
                LocksGrpc.getServiceDescriptor(), DispatchGrpc.getServiceDescriptor(),
                EventsGrpc.getServiceDescriptor(), QueuesGrpc.getServiceDescriptor(),
                AdminGrpc.getServiceDescriptor(), CallsGrpc.getServiceDescriptor())) {
            b.addService(ServerInterceptors.intercept(service(sd), new LeaderTrailer()));
        }
        try {
            server = b.build().start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (netty) {
            name = "127.0.0.1:" + server.getPort();
        }
    }

    /** Kills the node: every call and stream in progress fails. */
    synchronized void kill() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        streams.clear();
    }

    @Override
    public void close() {
        kill();
        executor.shutdownNow();
    }

    // ---- expectations ---------------------------------------------------------------------------

    void handle(MethodDescriptor<?, ?> method, Handler handler) {
        handlers.put(method.getFullMethodName(), handler);
    }

    List<Received> received(MethodDescriptor<?, ?> method) {
        return received.stream().filter(r -> r.method().equals(method.getFullMethodName())).toList();
    }

    static StatusRuntimeException error(Status.Code code, String batonError) {
        Metadata trailers = new Metadata();
        if (batonError != null) {
            trailers.put(BATON_ERROR, batonError);
        }
        return Status.fromCode(code).withDescription("fake " + code).asRuntimeException(trailers);
    }

    static long longField(Message m, String field) {
        FieldDescriptor f = m.getDescriptorForType().findFieldByName(field);
        return f == null ? -1 : (Long) m.getField(f);
    }

    /** Sends {@code event} on every open keep-alive stream. */
    void push(SessionEvent event) {
        for (ServerCallStreamObserver<SessionEvent> s : streams) {
            synchronized (s) {
                try {
                    s.onNext(event);
                } catch (RuntimeException ignored) {
                    // the stream is gone
                }
            }
        }
    }

    /** Ends every open keep-alive stream with {@code code} (and {@code batonError}). */
    void failStreams(Status.Code code, String batonError) {
        for (ServerCallStreamObserver<SessionEvent> s : streams) {
            synchronized (s) {
                try {
                    s.onError(error(code, batonError));
                } catch (RuntimeException ignored) {
                    // the stream is gone
                }
            }
            streams.remove(s);
        }
    }

    // ---- serving --------------------------------------------------------------------------------

    private ServerServiceDefinition service(ServiceDescriptor sd) {
        ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(sd);
        for (MethodDescriptor<?, ?> md : sd.getMethods()) {
            add(b, md);
        }
        return b.build();
    }

    @SuppressWarnings("unchecked")
    private <Q, R> void add(ServerServiceDefinition.Builder b, MethodDescriptor<Q, R> md) {
        if (md.getFullMethodName().equals(CallsGrpc.getStreamMethod().getFullMethodName())) {
            b.addMethod(md, (ServerCallHandler<Q, R>) (ServerCallHandler<?, ?>) ServerCalls.asyncBidiStreamingCall(
                    (StreamObserver<CallReply> out) -> callStream(out)));
            return;
        }
        if (md.getType() == MethodDescriptor.MethodType.BIDI_STREAMING) {
            b.addMethod(md, (ServerCallHandler<Q, R>) (ServerCallHandler<?, ?>) ServerCalls.asyncBidiStreamingCall(
                    (StreamObserver<SessionEvent> out) -> keepAlive(out)));
            return;
        }
        b.addMethod(md, ServerCalls.asyncUnaryCall((Q request, StreamObserver<R> out) -> {
            try {
                out.onNext((R) answer(md, (Message) request));
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                out.onError(e);
            }
        }));
    }

    /** Records {@code request} and answers it with the method's handler; failures as status exceptions. */
    @SuppressWarnings("unchecked")
    private <Q, R> Message answer(MethodDescriptor<Q, R> md, Message request) {
        received.add(new Received(md.getFullMethodName(), request));
        try {
            Handler h = handlers.get(md.getFullMethodName());
            if (h != null) {
                return h.handle(request);
            } else if (md.getFullMethodName().equals(SessionsGrpc.getOpenMethod().getFullMethodName())) {
                return OpenSessionResponse.newBuilder().setSession(SESSION).setTtlMs(grantedTtlMs).build();
            }
            return (Message) ((MethodDescriptor.PrototypeMarshaller<R>) md.getResponseMarshaller()).getMessagePrototype();
        } catch (StatusRuntimeException e) {
            throw e;
        } catch (InterruptedException e) {
            throw Status.CANCELLED.asRuntimeException();
        } catch (Exception e) {
            throw Status.INTERNAL.withCause(e).withDescription(e.toString()).asRuntimeException();
        }
    }

    /**
     * {@code Calls/Stream}: every call is answered as its unary method would be (same handler, same
     * record), on a thread of its own so that a slow handler holds up no other call.
     */
    private StreamObserver<CallRequest> callStream(StreamObserver<CallReply> out) {
        callStreamsOpened.incrementAndGet();
        ServerCallStreamObserver<CallReply> s = (ServerCallStreamObserver<CallReply>) out;
        s.setOnCancelHandler(() -> {});
        // Each call's handler runs in a context of its own, cancelled by a cancellation, as the real node's.
        Map<Long, io.grpc.Context.CancellableContext> calls = new ConcurrentHashMap<>();
        return new StreamObserver<>() {
            @Override
            public void onNext(CallRequest request) {
                if (request.hasCancel()) {
                    io.grpc.Context.CancellableContext c = calls.remove(request.getCallId());
                    if (c != null) {
                        c.cancel(null);
                    }
                    return;
                }
                MethodDescriptor<?, ?> method = CallStreamForms.method(request);
                Message unwrapped = CallStreamForms.request(request);
                io.grpc.Context.CancellableContext context = io.grpc.Context.current().withCancellation();
                calls.put(request.getCallId(), context);
                executor.execute(context.wrap(() -> {
                    CallReply.Builder reply;
                    try {
                        reply = CallStreamForms.reply(answer(method, unwrapped));
                    } catch (StatusRuntimeException e) {
                        CallError.Builder err = CallError.newBuilder().setCode(e.getStatus().getCode().value());
                        if (e.getStatus().getDescription() != null) {
                            err.setMessage(e.getStatus().getDescription());
                        }
                        String code = e.getTrailers() == null ? null : e.getTrailers().get(BATON_ERROR);
                        if (code != null) {
                            err.setBatonError(code);
                        }
                        reply = CallReply.newBuilder().setError(err);
                    }
                    reply.setCallId(request.getCallId());
                    String l = leader;
                    if (l != null) {
                        reply.setLeader(l);
                    }
                    calls.remove(request.getCallId(), context);
                    synchronized (s) {
                        try {
                            s.onNext(reply.build());
                        } catch (RuntimeException ignored) {
                            // the stream is gone
                        }
                    }
                }));
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {
                synchronized (s) {
                    try {
                        s.onCompleted();
                    } catch (RuntimeException ignored) {
                        // cancelled
                    }
                }
            }
        };
    }

    private StreamObserver<KeepAliveRequest> keepAlive(StreamObserver<SessionEvent> out) {
        ServerCallStreamObserver<SessionEvent> s = (ServerCallStreamObserver<SessionEvent>) out;
        streams.add(s);
        streamsOpened.incrementAndGet();
        s.setOnCancelHandler(() -> streams.remove(s));
        return new StreamObserver<>() {
            @Override
            public void onNext(KeepAliveRequest request) {
                keepAlives.add(request);
                if (ackKeepAlives) {
                    synchronized (s) {
                        try {
                            s.onNext(SessionEvent.newBuilder().setAck(KeepAliveAck.newBuilder()
                                    .setSession(request.getSession()).setTtlMs(grantedTtlMs)).build());
                        } catch (RuntimeException ignored) {
                            // cancelled
                        }
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
                streams.remove(s);
            }

            @Override
            public void onCompleted() {
                streams.remove(s);
                synchronized (s) {
                    try {
                        s.onCompleted();
                    } catch (RuntimeException ignored) {
                        // cancelled
                    }
                }
            }
        };
    }

    /** Adds {@code baton-leader} to every answer (headers-less trailers) while {@link #leader} is set. */
    private final class LeaderTrailer implements ServerInterceptor {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                ServerCallHandler<Q, R> next) {
            return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                @Override
                public void close(Status status, Metadata trailers) {
                    String l = leader;
                    if (l != null) {
                        trailers.put(BATON_LEADER, l);
                    }
                    super.close(status, trailers);
                }
            }, headers);
        }
    }

    static OpenSessionRequest openOf(Received r) {
        return (OpenSessionRequest) r.request();
    }
}
