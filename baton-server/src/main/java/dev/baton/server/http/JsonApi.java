package dev.baton.server.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.baton.api.v1.BatonProto;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Every RPC of {@code baton.v1} as {@code POST /v1/<Service>/<Method>} with the protobuf JSON
 * mapping (docs/http-api.md).
 *
 * <p>It serves nothing itself: each request becomes one call on {@code api}, a channel to the
 * node's own gRPC services (the same instances and the same token check as the gRPC port, reached
 * in-process), so validation, roles, idempotent retries, forwarding to the leader and waiting are
 * the gRPC port's by construction. Only the bearer token of the request travels along as call
 * metadata; no other header of the HTTP request ever reaches the services.
 *
 * <p>The routes are read from the proto descriptor at start-up: every method of every service of
 * {@code baton/v1/baton.proto}, with the generated stub's method descriptor (found by the proto's
 * own naming, so a new RPC is served without code here, and a service without its generated stub
 * stops the start). Nothing of {@code baton.internal} is reachable.
 *
 * <p>Nothing here blocks: a call is started on the connection's event loop and answered when it
 * completes, so a waiting acquire (a long-poll) holds a connection and a call slot, no thread.
 * All the calls of {@link ClientCall} run on that event loop, one connection's at a time.
 */
final class JsonApi {
    static final String PREFIX = "/v1/";
    /** The most a keep-alive may be held open for session events ({@code ?waitMs}). */
    static final long MAX_KEEP_ALIVE_WAIT_MS = 30_000;
    /**
     * A call's deadline beyond the wait its request asks for ({@code timeout_ms}): the time a write
     * may take to reach and pass through the leader, elections included. Past it the call answers
     * DEADLINE_EXCEEDED (504), so no call can hang forever.
     */
    static final long CALL_GRACE_MS = 30_000;

    // The same metadata keys as the gRPC port's (this door cannot name that package; a test
    // compares them).
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> ERROR_KEY = Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> LEADER_KEY = Metadata.Key.of("baton-leader", Metadata.ASCII_STRING_MARSHALLER);

    static final String OCTET_STREAM = "application/octet-stream";

    /** How a method's request and answer map onto one HTTP exchange. */
    enum Shape {
        /** One JSON message in, one out. */
        UNARY,
        /** {@code Sessions/KeepAlive}: one request, the events it brought as {@code {"events":[...]}}. */
        KEEP_ALIVE,
        /** {@code Calls/Stream}: {@code {"calls":[...]}} in, {@code {"replies":[...]}} out. */
        CALL_BATCH,
        /** A server stream of messages with a {@code bytes data} field: their bytes, as one body. */
        BYTES
    }

    record Route(String service, String method, MethodDescriptor<Message, Message> grpc, Message requestPrototype,
                 Shape shape) {
        String path() {
            return PREFIX + service + "/" + method;
        }
    }

    /** The answer side of one HTTP exchange; every method is called on the connection's event loop. */
    interface Exchange {
        java.util.concurrent.ScheduledExecutorService loop();

        /** The whole answer. */
        void reply(HttpDoor.Reply r);

        /** Runs {@code cancel} if the connection closes before the answer is complete. */
        void onAbandoned(Runnable cancel);

        /** A streamed answer's head. */
        void begin(int status, String type, long contentLength);

        /** A part of a streamed answer; {@code taken} runs once it is written and the connection can take more. */
        void part(byte[] bytes, Runnable taken);

        /** The end of a streamed answer ({@code complete} false: it broke off; the connection is closed). */
        void end(boolean complete);
    }

    private static final JsonFormat.Parser PARSER = JsonFormat.parser();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().includingDefaultValueFields()
            .omittingInsignificantWhitespace();

    private final Channel api;
    private final int maxCalls;
    private final Map<String, Route> routes;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final MeterRegistry registry;
    private final Map<String, Counter> callCounters = new ConcurrentHashMap<>();
    private final Counter refusedLimit;

    /**
     * @param api      a channel to the node's own gRPC services
     * @param maxCalls calls in flight at once over this port; more are answered 429
     */
    JsonApi(Channel api, int maxCalls, MeterRegistry registry) {
        this.api = Objects.requireNonNull(api, "api");
        this.maxCalls = maxCalls;
        this.routes = routes();
        this.registry = registry;
        Gauge.builder("baton.http.api.in_flight", inFlight, AtomicInteger::get)
                .description("HTTP/JSON API calls in flight (waiting acquires included)").register(registry);
        Gauge.builder("baton.http.api.in_flight.limit", () -> maxCalls)
                .description("HTTP/JSON API calls in flight a node allows (--http-max-api-calls)").register(registry);
        refusedLimit = Counter.builder("baton.http.requests.refused").tag("reason", "api_calls")
                .description("HTTP requests refused: an HTTP/JSON API call beyond --http-max-api-calls in flight (429)")
                .register(registry);
    }

    /** True if {@code rawPath} belongs to this API (every path under {@code /v1/}). */
    static boolean owns(String rawPath) {
        return rawPath.startsWith(PREFIX);
    }

    /** Every route, by path. */
    Map<String, Route> table() {
        return routes;
    }

    int inFlight() {
        return inFlight.get();
    }

    // ---- the route table ------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    static Map<String, Route> routes() {
        Map<String, Route> out = new LinkedHashMap<>();
        Descriptors.FileDescriptor file = BatonProto.getDescriptor();
        String javaPackage = file.getOptions().getJavaPackage();
        for (Descriptors.ServiceDescriptor service : file.getServices()) {
            ServiceDescriptor stub = stubOf(javaPackage, service);
            Map<String, MethodDescriptor<?, ?>> byName = new LinkedHashMap<>();
            for (MethodDescriptor<?, ?> m : stub.getMethods()) {
                byName.put(m.getBareMethodName(), m);
            }
            for (Descriptors.MethodDescriptor method : service.getMethods()) {
                MethodDescriptor<Message, Message> grpc = (MethodDescriptor<Message, Message>) byName.get(method.getName());
                if (grpc == null) {
                    throw new IllegalStateException("the generated stub of " + service.getFullName() + " has no "
                            + method.getName() + ": rebuild baton-api");
                }
                Message prototype = prototype(grpc.getRequestMarshaller());
                Message responsePrototype = prototype(grpc.getResponseMarshaller());
                Route r = new Route(service.getName(), method.getName(), grpc, prototype,
                        shape(method, responsePrototype));
                out.put(r.path(), r);
            }
        }
        return Collections.unmodifiableMap(out);
    }

    private static ServiceDescriptor stubOf(String javaPackage, Descriptors.ServiceDescriptor service) {
        String name = javaPackage + "." + service.getName() + "Grpc";
        try {
            return (ServiceDescriptor) Class.forName(name, true, JsonApi.class.getClassLoader())
                    .getMethod("getServiceDescriptor").invoke(null);
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalStateException("no generated stub " + name + " for " + service.getFullName(), e);
        }
    }

    private static Message prototype(MethodDescriptor.Marshaller<?> m) {
        if (m instanceof MethodDescriptor.PrototypeMarshaller<?> p && p.getMessagePrototype() instanceof Message msg) {
            return msg;
        }
        throw new IllegalStateException("not a protobuf marshaller: " + m);
    }

    /** Null: a streaming method this door has no mapping for (answered 501, and a test fails). */
    private static Shape shape(Descriptors.MethodDescriptor method, Message responsePrototype) {
        boolean in = method.isClientStreaming();
        boolean out = method.isServerStreaming();
        if (!in && !out) {
            return Shape.UNARY;
        }
        if (in && out && method.getInputType().getName().equals("KeepAliveRequest")) {
            return Shape.KEEP_ALIVE;
        }
        if (in && out && method.getInputType().getName().equals("CallRequest")) {
            return Shape.CALL_BATCH;
        }
        Descriptors.FieldDescriptor data = responsePrototype.getDescriptorForType().findFieldByName("data");
        if (!in && data != null && data.getType() == Descriptors.FieldDescriptor.Type.BYTES && !data.isRepeated()) {
            return Shape.BYTES;
        }
        return null;
    }

    // ---- one call -------------------------------------------------------------------------------

    /**
     * Answers one request (on the connection's event loop; returns at once, the answer follows).
     *
     * @param rawPath       the path, still percent-encoded
     * @param rawQuery      the query string, or null
     * @param authorization the {@code Authorization} header, or null
     */
    void handle(String rawPath, String rawQuery, byte[] body, String authorization, Exchange ex) {
        Route route = routes.get(rawPath);
        if (route == null) {
            ex.reply(error(404, Status.Code.NOT_FOUND, "UNKNOWN_METHOD", "no method " + rawPath + "; the API serves"
                    + " POST /v1/<Service>/<Method> for the services of baton.v1 (docs/http-api.md)", null));
            return;
        }
        if (route.shape() == null) {
            ex.reply(error(501, Status.Code.UNIMPLEMENTED, "UNIMPLEMENTED", route.path()
                    + " is a streaming method without an HTTP/JSON mapping; use gRPC", null));
            return;
        }
        Call call;
        try {
            call = switch (route.shape()) {
                case UNARY -> new Unary(route, parse(route.requestPrototype(), body), ex);
                case KEEP_ALIVE -> new KeepAlive(route, parse(route.requestPrototype(), body), waitMs(rawQuery), ex);
                case CALL_BATCH -> new CallBatch(route, calls(route.requestPrototype(), body), ex);
                case BYTES -> new Bytes(route, parse(route.requestPrototype(), body), ex);
            };
        } catch (BadRequest e) {
            count(route, Status.Code.INVALID_ARGUMENT);
            ex.reply(error(400, Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", e.getMessage(), null));
            return;
        }
        if (inFlight.incrementAndGet() > maxCalls) {
            inFlight.decrementAndGet();
            refusedLimit.increment();
            count(route, Status.Code.RESOURCE_EXHAUSTED);
            ex.reply(error(429, Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "this node has " + maxCalls
                    + " HTTP/JSON API calls in flight, the most it allows (--http-max-api-calls); try again"
                    + " shortly or on another node", null).with("Retry-After", "1"));
            return;
        }
        call.start(authorization);
    }

    /** The request can not be read: 400 before any call is made. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }

    static Message parse(Message prototype, byte[] body) throws BadRequest {
        Message.Builder b = prototype.newBuilderForType();
        String text = new String(body, StandardCharsets.UTF_8);
        if (text.isBlank()) {
            return b.build();
        }
        try {
            PARSER.merge(text, b);
        } catch (InvalidProtocolBufferException e) {
            throw new BadRequest("the body is not a " + prototype.getDescriptorForType().getFullName()
                    + " in JSON: " + e.getMessage());
        } catch (RuntimeException e) { // the parser's own checks (numbers out of range and such)
            throw new BadRequest("the body is not a " + prototype.getDescriptorForType().getFullName()
                    + " in JSON: " + e);
        }
        return b.build();
    }

    /** {@code {"calls":[CallRequest...]}}. */
    static List<Message> calls(Message prototype, byte[] body) throws BadRequest {
        String text = new String(body, StandardCharsets.UTF_8);
        if (text.isBlank()) {
            return List.of();
        }
        JsonElement root;
        try {
            root = JsonParser.parseString(text);
        } catch (JsonParseException e) {
            throw new BadRequest("the body is not JSON: " + e.getMessage());
        }
        if (!(root instanceof JsonObject o)) {
            throw new BadRequest("the body must be {\"calls\":[...]}");
        }
        for (String key : o.keySet()) {
            if (!key.equals("calls")) {
                throw new BadRequest("unknown field '" + key + "': the body must be {\"calls\":[...]}");
            }
        }
        JsonElement calls = o.get("calls");
        if (calls == null || calls.isJsonNull()) {
            return List.of();
        }
        if (!(calls instanceof JsonArray a)) {
            throw new BadRequest("\"calls\" must be an array of " + prototype.getDescriptorForType().getFullName());
        }
        List<Message> out = new ArrayList<>(a.size());
        for (JsonElement e : a) {
            out.add(parse(prototype, e.toString().getBytes(StandardCharsets.UTF_8)));
        }
        return out;
    }

    static long waitMs(String rawQuery) throws BadRequest {
        if (rawQuery == null || rawQuery.isEmpty()) {
            return 0;
        }
        long wait = 0;
        for (String kv : rawQuery.split("&")) {
            int eq = kv.indexOf('=');
            String k = eq < 0 ? kv : kv.substring(0, eq);
            if (!k.equals("waitMs")) {
                throw new BadRequest("unknown query parameter '" + k + "' (only waitMs)");
            }
            try {
                wait = Long.parseLong(eq < 0 ? "" : kv.substring(eq + 1));
            } catch (NumberFormatException e) {
                throw new BadRequest("waitMs must be a number of milliseconds");
            }
            if (wait < 0) {
                throw new BadRequest("waitMs must not be negative");
            }
        }
        return Math.min(wait, MAX_KEEP_ALIVE_WAIT_MS);
    }

    /** What a request asks to wait for, ms: its {@code timeout_ms}, or the longest of a batch's calls. */
    static long requestedWaitMs(Message m) {
        long wait = 0;
        for (Map.Entry<Descriptors.FieldDescriptor, Object> f : m.getAllFields().entrySet()) {
            String name = f.getKey().getName();
            if ((name.equals("timeout_ms") || name.equals("deadline_ms")) && f.getValue() instanceof Long l) {
                wait = Math.max(wait, l < 0 ? Long.MAX_VALUE : l); // uint64 beyond 2^63: "forever"
            } else if (f.getValue() instanceof Message inner) {
                wait = Math.max(wait, requestedWaitMs(inner)); // the request inside a CallRequest
            }
        }
        return wait;
    }

    static long deadlineMs(long waitMs) {
        long d = waitMs + CALL_GRACE_MS;
        return d < 0 ? Long.MAX_VALUE / 2 : d;
    }

    // ---- answers --------------------------------------------------------------------------------

    static String json(Message m) {
        try {
            return PRINTER.print(m);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e); // only for Any fields with unknown types: baton.v1 has none
        }
    }

    static HttpDoor.Reply ok(String json) {
        return new HttpDoor.Reply(200, HttpDoor.JSON, json.getBytes(StandardCharsets.UTF_8),
                Map.of("Cache-Control", "no-store"));
    }

    /** The HTTP status of a gRPC code (docs/http-api.md). */
    static int httpStatus(Status.Code code) {
        return STATUS.get(code);
    }

    private static final Map<Status.Code, Integer> STATUS = statusTable();

    private static Map<Status.Code, Integer> statusTable() {
        EnumMap<Status.Code, Integer> m = new EnumMap<>(Status.Code.class);
        m.put(Status.Code.OK, 200);
        m.put(Status.Code.CANCELLED, 499);
        m.put(Status.Code.UNKNOWN, 500);
        m.put(Status.Code.INVALID_ARGUMENT, 400);
        m.put(Status.Code.DEADLINE_EXCEEDED, 504);
        m.put(Status.Code.NOT_FOUND, 404);
        m.put(Status.Code.ALREADY_EXISTS, 409);
        m.put(Status.Code.PERMISSION_DENIED, 403);
        m.put(Status.Code.RESOURCE_EXHAUSTED, 429);
        m.put(Status.Code.FAILED_PRECONDITION, 400);
        m.put(Status.Code.ABORTED, 409);
        m.put(Status.Code.OUT_OF_RANGE, 400);
        m.put(Status.Code.UNIMPLEMENTED, 501);
        m.put(Status.Code.INTERNAL, 500);
        m.put(Status.Code.UNAVAILABLE, 503);
        m.put(Status.Code.DATA_LOSS, 500);
        m.put(Status.Code.UNAUTHENTICATED, 401);
        return m;
    }

    /** The error body of the API: {@code {"code","status","error","message"[,"leader"]}}. */
    static HttpDoor.Reply error(int http, Status.Code code, String batonError, String message, String leader) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("code", code.value());
        body.put("status", code.name());
        body.put("error", batonError == null ? code.name() : batonError);
        body.put("message", message == null ? "" : message);
        if (leader != null && !leader.isEmpty()) {
            body.put("leader", leader);
        }
        HttpDoor.Reply r = HttpDoor.Reply.json(http, body);
        if (http == 401) {
            r = r.with("WWW-Authenticate", "Bearer realm=\"baton\"");
        }
        return r;
    }

    /** The answer for a call that ended with {@code status}. */
    static HttpDoor.Reply error(Status status, Metadata trailers) {
        String batonError = trailers == null ? null : trailers.get(ERROR_KEY);
        String leader = trailers == null ? null : trailers.get(LEADER_KEY);
        return error(httpStatus(status.getCode()), status.getCode(), batonError, status.getDescription(), leader);
    }

    private void count(Route route, Status.Code code) {
        callCounters.computeIfAbsent(route.path() + " " + code.name(), k -> Counter.builder("baton.http.api.calls")
                .tag("service", route.service()).tag("method", route.method()).tag("status", code.name())
                .description("HTTP/JSON API calls answered, by method and gRPC status").register(registry))
                .increment();
    }

    // ---- the calls ------------------------------------------------------------------------------

    /** One gRPC call behind one HTTP exchange. Every method runs on the connection's event loop. */
    private abstract class Call extends ClientCall.Listener<Message> {
        final Route route;
        final Exchange ex;
        ClientCall<Message, Message> call;
        private boolean finished;

        Call(Route route, Exchange ex) {
            this.route = route;
            this.ex = ex;
        }

        abstract long deadlineMs();

        abstract void send();

        void start(String authorization) {
            Metadata headers = new Metadata();
            if (authorization != null) {
                headers.put(AUTHORIZATION, authorization);
            }
            call = api.newCall(route.grpc(), CallOptions.DEFAULT.withDeadlineAfter(deadlineMs(), TimeUnit.MILLISECONDS));
            ex.onAbandoned(() -> {
                if (!finished) {
                    call.cancel("the HTTP client went away", null);
                }
            });
            try {
                call.start(this, headers);
                send();
            } catch (RuntimeException e) {
                call.cancel("failed to start", e);
                finish(Status.INTERNAL.withDescription(String.valueOf(e)), null);
            }
        }

        // The listener may be called on any thread (the one that completed the call): hop to the loop.
        @Override
        public final void onMessage(Message m) {
            loop(() -> message(m));
        }

        @Override
        public final void onClose(Status status, Metadata trailers) {
            loop(() -> finish(status, trailers));
        }

        private void loop(Runnable r) {
            try {
                ex.loop().execute(r);
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                if (!finished) {
                    finished = true;
                    inFlight.decrementAndGet();
                }
            }
        }

        void message(Message m) {}

        private void finish(Status status, Metadata trailers) {
            if (finished) {
                return;
            }
            finished = true;
            inFlight.decrementAndGet();
            count(route, status.getCode());
            try {
                closed(status, trailers);
            } catch (RuntimeException e) {
                ex.reply(error(500, Status.Code.INTERNAL, "INTERNAL", String.valueOf(e), null));
            }
        }

        /** The call ended: answer. */
        abstract void closed(Status status, Metadata trailers);
    }

    private final class Unary extends Call {
        private final Message request;
        private Message response;

        Unary(Route route, Message request, Exchange ex) {
            super(route, ex);
            this.request = request;
        }

        @Override
        long deadlineMs() {
            return JsonApi.deadlineMs(requestedWaitMs(request));
        }

        @Override
        void send() {
            call.request(2);
            call.sendMessage(request);
            call.halfClose();
        }

        @Override
        void message(Message m) {
            response = m;
        }

        @Override
        void closed(Status status, Metadata trailers) {
            if (!status.isOk()) {
                ex.reply(error(status, trailers));
            } else if (response == null) {
                ex.reply(error(500, Status.Code.INTERNAL, "INTERNAL", "the call ended without an answer", null));
            } else {
                ex.reply(ok(json(response)));
            }
        }
    }

    /**
     * One keep-alive: the stream is opened, the request sent, and the stream half-closed once the
     * ack came (or, with {@code waitMs}, once an event other than an ack came or the time passed);
     * the server then ends the stream and the answer lists what it sent.
     */
    private final class KeepAlive extends Call {
        private final Message request;
        private final long waitMs;
        private final List<Message> events = new ArrayList<>();
        private boolean halfClosed;
        private ScheduledFuture<?> timer;

        KeepAlive(Route route, Message request, long waitMs, Exchange ex) {
            super(route, ex);
            this.request = request;
            this.waitMs = waitMs;
        }

        @Override
        long deadlineMs() {
            return JsonApi.deadlineMs(waitMs);
        }

        @Override
        void send() {
            call.request(Integer.MAX_VALUE); // the stream only lives for the exchange; events are few
            call.sendMessage(request);
        }

        @Override
        void message(Message m) {
            events.add(m);
            boolean ack = m.getAllFields().keySet().stream().anyMatch(f -> f.getName().equals("ack"));
            if (waitMs == 0 || !ack) {
                halfClose();
            } else if (timer == null) {
                timer = ex.loop().schedule(this::halfClose, waitMs, TimeUnit.MILLISECONDS);
            }
        }

        private void halfClose() {
            if (!halfClosed) {
                halfClosed = true;
                call.halfClose();
            }
        }

        @Override
        void closed(Status status, Metadata trailers) {
            if (timer != null) {
                timer.cancel(false);
            }
            // A session that ended while the request waited: its sessionEnded event is the answer
            // (the next keep-alive gets UNKNOWN_SESSION).
            if (!status.isOk() && events.isEmpty()) {
                ex.reply(error(status, trailers));
                return;
            }
            ex.reply(ok(list("events", events)));
        }
    }

    private final class CallBatch extends Call {
        private final List<Message> calls;
        private final List<Message> replies = new ArrayList<>();

        CallBatch(Route route, List<Message> calls, Exchange ex) {
            super(route, ex);
            this.calls = calls;
        }

        @Override
        long deadlineMs() {
            long wait = 0;
            for (Message c : calls) {
                wait = Math.max(wait, requestedWaitMs(c));
            }
            return JsonApi.deadlineMs(wait);
        }

        @Override
        void send() {
            call.request(Math.max(1, calls.size()));
            for (Message c : calls) {
                call.sendMessage(c);
            }
            call.halfClose();
        }

        @Override
        void message(Message m) {
            replies.add(m);
        }

        @Override
        void closed(Status status, Metadata trailers) {
            if (!status.isOk()) {
                ex.reply(error(status, trailers));
                return;
            }
            ex.reply(ok(list("replies", replies)));
        }
    }

    /**
     * A stream of byte chunks (Admin/Backup) as one body, sent as it comes: one chunk is asked of
     * the call at a time, the next once the connection took the last, so a slow reader slows the
     * node's reading of the file instead of filling memory.
     */
    private final class Bytes extends Call {
        private final Message request;
        private boolean begun;

        Bytes(Route route, Message request, Exchange ex) {
            super(route, ex);
            this.request = request;
        }

        @Override
        long deadlineMs() {
            return TimeUnit.HOURS.toMillis(1); // a large state over a slow link
        }

        @Override
        void send() {
            call.request(1);
            call.sendMessage(request);
            call.halfClose();
        }

        @Override
        void message(Message m) {
            Descriptors.Descriptor d = m.getDescriptorForType();
            if (!begun) {
                begun = true;
                Descriptors.FieldDescriptor total = d.findFieldByName("total_bytes");
                long length = total == null ? -1 : (Long) m.getField(total);
                ex.begin(200, OCTET_STREAM, length);
            }
            ByteString data = (ByteString) m.getField(d.findFieldByName("data"));
            ex.part(data.toByteArray(), () -> call.request(1));
        }

        @Override
        void closed(Status status, Metadata trailers) {
            if (begun) {
                ex.end(status.isOk());
            } else if (!status.isOk()) {
                ex.reply(error(status, trailers));
            } else {
                ex.reply(new HttpDoor.Reply(200, OCTET_STREAM, new byte[0], Map.of("Cache-Control", "no-store")));
            }
        }
    }

    private static String list(String name, List<Message> messages) {
        StringBuilder b = new StringBuilder("{\"").append(name).append("\":[");
        for (int i = 0; i < messages.size(); i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append(json(messages.get(i)));
        }
        return b.append("]}").toString();
    }
}
