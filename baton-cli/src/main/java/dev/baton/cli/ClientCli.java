package dev.baton.cli;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.ProtocolMessageEnum;
import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.CloseSessionRequest;
import dev.baton.api.v1.CloseSessionResponse;
import dev.baton.api.v1.DispatchGrpc;
import dev.baton.api.v1.DispatchReleaseRequest;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.DumpResponse;
import dev.baton.api.v1.ListSessionsRequest;
import dev.baton.api.v1.ListSessionsResponse;
import dev.baton.api.v1.LockReleaseRequest;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.PoolReleaseRequest;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.QueueDoneRequest;
import dev.baton.api.v1.QueueRetryRequest;
import dev.baton.api.v1.QueuesGrpc;
import dev.baton.api.v1.SessionLease;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.api.v1.SnapshotResponse;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.client.DispatchGroup;
import dev.baton.client.DispatchReply;
import dev.baton.client.DispatchTarget;
import dev.baton.client.EventInfo;
import dev.baton.client.EventReply;
import dev.baton.client.EventStatus;
import dev.baton.client.LockInfo;
import dev.baton.client.LockReply;
import dev.baton.client.LockStatus;
import dev.baton.client.PoolHolder;
import dev.baton.client.PoolInfo;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.PoolTotals;
import dev.baton.client.PoolWaiter;
import dev.baton.client.QueueInfo;
import dev.baton.client.QueueItem;
import dev.baton.client.QueueReply;
import dev.baton.client.events.ClaimedItem;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The client commands of {@code baton}: {@code status}, {@code snapshot}, {@code pool},
 * {@code lock}, {@code dispatch}, {@code events}, {@code queue}, {@code sessions}. Each runs as a
 * new Baton session that ends when the command exits (so whatever it acquired is released then,
 * unless {@code --hold} keeps it), or acts as an existing session given with {@code --session}.
 *
 * <p>Exit codes: 0 done; 1 refused by the cluster or unreachable; 2 bad usage; 3 done, but the
 * outcome was not the one asked for (an acquire that did not get {@code LOCKED}, a release of
 * nothing, a claim that got no item).
 */
final class ClientCli {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int NOT_GRANTED = 3;

    private ClientCli() {}

    /** Options every client command takes. */
    static final class Common {
        @Option(names = {"-e", "--endpoints"}, split = ",", defaultValue = "127.0.0.1:7530",
                description = "API addresses of one or more nodes (default: ${DEFAULT-VALUE}).")
        List<String> endpoints;

        enum Output { text, json }

        @Option(names = {"-o", "--output"}, defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
        Output output;

        @Option(names = "--timeout-ms", defaultValue = "30000", converter = dev.baton.server.Durations.Millis.class,
                description = "Give up on an unreachable cluster after this long: 30s, 500ms, ... (a bare number is ms;"
                        + " default: ${DEFAULT-VALUE}).")
        long timeoutMs;

        @Mixin
        CliTls tls = new CliTls();

        @Mixin
        CliToken token = new CliToken();

        boolean json() {
            return output == Output.json;
        }

        BatonClient client() {
            return token.apply(tls.apply(BatonClient.builder().endpoints(endpoints).retryFor(Duration.ofMillis(timeoutMs))))
                    .build();
        }

        /**
         * Prints a reply (one of the client's records, or a message of a raw call) as JSON or text;
         * returns the exit code the caller decides.
         */
        int print(Object reply, String text, int code) {
            if (json()) {
                System.out.println(Json.of(reply));
            } else {
                System.out.println(text);
            }
            return code;
        }

        /** Runs {@code body} with a client (a new session), mapping failures to exit code 1. */
        int withClient(Function<BatonClient, Integer> body) {
            BatonClient client;
            try {
                client = client();
            } catch (IllegalArgumentException | IllegalStateException e) { // the TLS and token options
                System.err.println("baton: " + e.getMessage());
                return 2;
            } catch (BatonException | StatusRuntimeException e) {
                System.err.println("baton: " + e.getMessage() + hint(e));
                return FAILED;
            }
            try (BatonClient c = client) {
                return body.apply(c);
            } catch (BatonException | StatusRuntimeException e) {
                System.err.println("baton: " + e.getMessage() + hint(e));
                return FAILED;
            }
        }

        /** Runs {@code body} with a raw channel (acting as an existing session, or reading). */
        int withChannel(Function<ManagedChannel, Integer> body) {
            ManagedChannel ch;
            try {
                ch = tls.channel(endpoints.get(0), token.interceptor());
            } catch (IllegalArgumentException e) {
                System.err.println("baton: " + e.getMessage());
                return 2;
            }
            try {
                return body.apply(ch);
            } catch (StatusRuntimeException e) {
                String code = e.getTrailers() == null ? null
                        : e.getTrailers().get(io.grpc.Metadata.Key.of("baton-error", io.grpc.Metadata.ASCII_STRING_MARSHALLER));
                System.err.println("baton: " + e.getStatus().getCode() + (code == null ? "" : " [" + code + "]")
                        + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription())
                        + tls.hint(e.getStatus()) + token.hint(e.getStatus().getCode()));
                return FAILED;
            } finally {
                ch.shutdownNow();
            }
        }

        /** The TLS hint for a failure of the client or of a raw call. */
        private String hint(RuntimeException e) {
            if (e instanceof StatusRuntimeException s) {
                return tls.hint(s.getStatus()) + token.hint(s.getStatus().getCode());
            }
            if (e instanceof dev.baton.client.AccessDeniedException denied) {
                return token.hint(denied.statusCode());
            }
            return tls.hint(e.getMessage());
        }

        long deadlineMs() {
            return timeoutMs;
        }
    }

    /** A command that only groups subcommands: without one, it prints its usage and exits with 2. */
    abstract static class Group implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().usage(System.err);
            return 2;
        }
    }

    /** Sleeps for {@code --hold}, keeping the session (and what it holds) alive meanwhile. */
    static void hold(Duration d) {
        if (d == null || d.isZero()) {
            return;
        }
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * JSON for the client's records and the raw calls' messages: field names in camelCase, numbers as
     * JSON numbers (64-bit ones too), enums by name, byte payloads as UTF-8 text.
     */
    static final class Json {
        private Json() {}

        static String of(Object value) {
            StringBuilder b = new StringBuilder();
            write(value, b);
            return b.toString();
        }

        private static void write(Object v, StringBuilder b) {
            if (v == null) {
                b.append("null");
            } else if (v instanceof String s) {
                string(s, b);
            } else if (v instanceof Number || v instanceof Boolean) {
                b.append(v);
            } else if (v instanceof Enum<?> e) {
                string(e.name(), b);
            } else if (v instanceof Descriptors.EnumValueDescriptor e) {
                string(e.getName(), b);
            } else if (v instanceof ProtocolMessageEnum e) {
                string(((Enum<?>) e).name(), b);
            } else if (v instanceof byte[] bytes) {
                string(new String(bytes, StandardCharsets.UTF_8), b);
            } else if (v instanceof ByteString bytes) {
                string(bytes.toStringUtf8(), b);
            } else if (v instanceof ClaimedItem c) {
                b.append("{\"queue\":");
                string(c.queue(), b);
                b.append(",\"id\":");
                string(c.id(), b);
                b.append(",\"payload\":");
                string(c.payloadUtf8(), b);
                b.append(",\"fence\":").append(c.fence()).append(",\"attempts\":").append(c.attempts()).append('}');
            } else if (v instanceof Record r) {
                b.append('{');
                boolean first = true;
                for (RecordComponent c : r.getClass().getRecordComponents()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    string(c.getName(), b);
                    b.append(':');
                    try {
                        write(c.getAccessor().invoke(r), b);
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException(e);
                    }
                }
                b.append('}');
            } else if (v instanceof MessageOrBuilder m) {
                b.append('{');
                boolean first = true;
                for (Descriptors.FieldDescriptor f : m.getDescriptorForType().getFields()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    string(f.getJsonName(), b);
                    b.append(':');
                    write(f.isRepeated() || f.getJavaType() != Descriptors.FieldDescriptor.JavaType.MESSAGE || m.hasField(f)
                            ? m.getField(f) : null, b);
                }
                b.append('}');
            } else if (v instanceof Map<?, ?> map) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    string(String.valueOf(e.getKey()), b);
                    b.append(':');
                    write(e.getValue(), b);
                }
                b.append('}');
            } else if (v instanceof Iterable<?> list) {
                b.append('[');
                boolean first = true;
                for (Object o : list) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    write(o, b);
                }
                b.append(']');
            } else {
                string(v.toString(), b);
            }
        }

        private static void string(String s, StringBuilder b) {
            b.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            b.append(String.format("\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                    }
                }
            }
            b.append('"');
        }
    }

    static String time(long epochMs) {
        return epochMs == 0 ? "-" : Instant.ofEpochMilli(epochMs).toString();
    }

    // ---- status, snapshot ---------------------------------------------------------------------------

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Members, leader, term and indexes.")
    static final class Status implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                StatusResponse s = AdminGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .status(StatusRequest.getDefaultInstance());
                return common.print(s, AdminCli.statusText(s), OK);
            });
        }
    }

    @Command(name = "snapshot", mixinStandardHelpOptions = true,
            description = "Take a snapshot on the node now (the first --endpoints).")
    static final class Snapshot implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                SnapshotResponse s = AdminGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .snapshot(SnapshotRequest.getDefaultInstance());
                return common.print(s, "snapshot taken at applied index " + s.getAppliedIndex(), OK);
            });
        }
    }

    // ---- pools --------------------------------------------------------------------------------------

    @Command(name = "pool", mixinStandardHelpOptions = true, description = "PoolCounter pools.",
            subcommands = {PoolAcquire.class, PoolRelease.class, PoolGet.class, PoolStats.class, PoolList.class})
    static final class Pool extends Group {}

    @Command(name = "acquire", mixinStandardHelpOptions = true,
            description = "ACQ4ME (or ACQ4ANY with --anyone); prints the status and fence. The slot is released when"
                    + " the command exits, after --hold.")
    static final class PoolAcquire implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "KEY")
        String key;
        @Option(names = "--workers", defaultValue = "1", description = "Workers (default: ${DEFAULT-VALUE}).")
        int workers;
        @Option(names = "--maxqueue", defaultValue = "100", description = "Holders plus waiters (default: ${DEFAULT-VALUE}).")
        int maxQueue;
        @Option(names = "--wait", defaultValue = "PT0S", description = "How long to wait, ISO-8601 (PT5S) (default: no wait).")
        Duration wait;
        @Option(names = "--anyone", description = "ACQ4ANY: DONE is fine too.")
        boolean anyone;
        @Option(names = "--hold", defaultValue = "PT0S", description = "Keep the slot this long before exiting (PT30S).")
        Duration hold;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                PoolReply r = c.pools().acquire(key, workers, maxQueue, wait, anyone);
                int code = common.print(r, r.status().name() + (r.fence() != 0
                        ? " fence " + r.fence() : "") + "  (session " + Long.toUnsignedString(r.session()) + ")",
                        r.status() == PoolStatus.LOCKED ? OK : NOT_GRANTED);
                hold(hold);
                return code;
            });
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true,
            description = "Release a slot of an existing session (an operator's action; a session's own client"
                    + " normally releases).")
    static final class PoolRelease implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "KEY")
        String key;
        @Option(names = "--session", required = true, description = "The session holding the slot.")
        long session;
        @Option(names = "--fence", defaultValue = "0", description = "Only the grant with this fence (default: the session's newest slot on KEY).")
        long fence;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                dev.baton.api.v1.PoolReply r = PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .release(PoolReleaseRequest.newBuilder().setSession(session).setKey(key).setFence(fence).build());
                return common.print(r, r.getStatus().name().replace("POOL_", ""),
                        r.getStatus() == dev.baton.api.v1.PoolStatus.POOL_RELEASED ? OK : NOT_GRANTED);
            });
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Holders (with fences) and waiters of one key.")
    static final class PoolGet implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "KEY")
        String key;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                PoolInfo p = c.pools().get(key);
                StringBuilder b = new StringBuilder(key + ": " + p.processing() + " holding, " + p.waiting() + " waiting");
                for (PoolHolder h : p.holders()) {
                    b.append("\n  holder  session ").append(h.session()).append("  fence ").append(h.fence())
                            .append("  since ").append(time(h.since()));
                }
                for (PoolWaiter w : p.waiters()) {
                    b.append("\n  waiter  session ").append(w.session()).append(w.forAnyone() ? "  ACQ4ANY" : "  ACQ4ME")
                            .append("  since ").append(time(w.since())).append("  until ").append(time(w.deadline()));
                }
                return common.print(p, b.toString(), OK);
            });
        }
    }

    @Command(name = "stats", mixinStandardHelpOptions = true, description = "Cluster-wide pool counters (as poolcounterd's STATS).")
    static final class PoolStats implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                PoolTotals t = c.pools().totals();
                String text = String.join("\n",
                        "keys " + t.keys() + "  holding " + t.processing() + "  waiting " + t.waiting(),
                        "acquired " + t.acquired() + "  released " + t.released() + "  done " + t.done()
                                + "  timeouts " + t.timeouts() + "  queue_full " + t.queueFull(),
                        "lock_held " + t.lockHeld() + "  wait_for_response " + t.waitForResponse()
                                + "  release_mismatch " + t.releaseMismatch());
                return common.print(t, text, OK);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Every pool key with its holders and waiters (from the state dump: fine for operators, not for hot loops).")
    static final class PoolList implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                DumpResponse d = AdminGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .dump(DumpRequest.getDefaultInstance());
                com.google.gson.JsonObject root = com.google.gson.JsonParser.parseString(d.getJson()).getAsJsonObject();
                com.google.gson.JsonElement pools = root.get("pools");
                if (common.json()) {
                    System.out.println(pools);
                    return OK;
                }
                StringBuilder b = new StringBuilder();
                if (pools != null && pools.isJsonArray()) {
                    for (com.google.gson.JsonElement e : pools.getAsJsonArray()) {
                        com.google.gson.JsonObject p = e.getAsJsonObject();
                        b.append(String.format("%-40s holders %-4d waiters %d%n", p.get("key").getAsString(),
                                p.get("processing").getAsInt(), p.get("waiting").getAsInt()));
                    }
                }
                System.out.println(b.length() == 0 ? "(no pool keys)" : b.toString().stripTrailing());
                return OK;
            });
        }

    }

    // ---- locks ----------------------------------------------------------------------------------------

    @Command(name = "lock", mixinStandardHelpOptions = true, description = "Fenced locks.",
            subcommands = {LockAcquire.class, LockRelease.class, LockGet.class})
    static final class Lock extends Group {}

    @Command(name = "acquire", mixinStandardHelpOptions = true,
            description = "Take the lock; prints its fence. Released when the command exits, after --hold.")
    static final class LockAcquire implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "NAME")
        String name;
        @Option(names = "--wait", defaultValue = "PT0S", description = "How long to wait, ISO-8601 (default: no wait).")
        Duration wait;
        @Option(names = "--hold", defaultValue = "PT0S", description = "Keep the lock this long before exiting.")
        Duration hold;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                LockReply r = c.locks().acquire(name, wait);
                int code = common.print(r, r.status().name() + (r.fence() != 0
                        ? " fence " + r.fence() : "") + "  (session " + Long.toUnsignedString(r.session()) + ")",
                        r.status() == LockStatus.LOCKED ? OK : NOT_GRANTED);
                hold(hold);
                return code;
            });
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true, description = "Release a lock held by an existing session.")
    static final class LockRelease implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "NAME")
        String name;
        @Option(names = "--session", required = true, description = "The holding session.")
        long session;
        @Option(names = "--fence", required = true, description = "The fence of the grant.")
        long fence;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                dev.baton.api.v1.LockReply r = LocksGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .release(LockReleaseRequest.newBuilder().setSession(session).setName(name).setFence(fence).build());
                return common.print(r, r.getStatus().name().replace("LOCK_", ""), OK);
            });
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Holder, fence and waiters of a lock.")
    static final class LockGet implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                LockInfo l = c.locks().get(name);
                String text = !l.exists() || l.holder() == 0 ? name + ": free"
                        : name + ": held by session " + Long.toUnsignedString(l.holder()) + "  fence " + l.fence() + "  since "
                        + time(l.since()) + "  waiters " + l.waiters().size();
                return common.print(l, text, OK);
            });
        }
    }

    // ---- dispatch ---------------------------------------------------------------------------------------

    @Command(name = "dispatch", mixinStandardHelpOptions = true, description = "Fair dispatch groups (Wikibase's coordinator).",
            subcommands = {DispatchInit.class, DispatchAdvance.class, DispatchSelect.class, DispatchRelease.class,
                    DispatchShow.class})
    static final class Dispatch extends Group {}

    @Command(name = "init", mixinStandardHelpOptions = true, description = "Add targets to a group (existing ones are kept).")
    static final class DispatchInit implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(index = "0", paramLabel = "GROUP")
        String group;
        @Parameters(index = "1..*", paramLabel = "TARGET=NAME", description = "e.g. enwiki=enwiki_db")
        Map<String, String> targets = new LinkedHashMap<>();

        @Override
        public Integer call() {
            return common.withClient(c -> {
                DispatchReply r = c.dispatch().init(group, targets);
                return common.print(r, group + ": " + r.value() + " target(s) added", OK);
            });
        }
    }

    @Command(name = "advance", mixinStandardHelpOptions = true, description = "Set the group's head (newest change id).")
    static final class DispatchAdvance implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(index = "0", paramLabel = "GROUP")
        String group;
        @Parameters(index = "1", paramLabel = "HEAD")
        long head;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                DispatchReply r = c.dispatch().advance(group, head);
                return common.print(r, group + ": head " + r.value(), OK);
            });
        }
    }

    @Command(name = "select", mixinStandardHelpOptions = true,
            description = "Pick and lock the next target to dispatch to (stalest first). The lock ends when the"
                    + " command exits, after --hold.")
    static final class DispatchSelect implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "GROUP")
        String group;
        @Option(names = "--hold", defaultValue = "PT0S", description = "Keep the target locked this long before exiting.")
        Duration hold;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                DispatchReply r = c.dispatch().select(group);
                DispatchTarget t = r.target();
                boolean got = t != null && !t.id().isEmpty();
                int code = common.print(r, r.status().name() + (got ? "  " + t.id()
                        + " (" + t.name() + ") seen " + t.seen() + " fence " + t.fence() + "  (session "
                        + Long.toUnsignedString(c.sessionId()) + ")" : ""), got ? OK : NOT_GRANTED);
                hold(hold);
                return code;
            });
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true,
            description = "Release a target locked by an existing session, moving its cursor to --seen.")
    static final class DispatchRelease implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(index = "0", paramLabel = "GROUP")
        String group;
        @Parameters(index = "1", paramLabel = "TARGET")
        String target;
        @Option(names = "--session", required = true, description = "The session holding the target.")
        long session;
        @Option(names = "--fence", required = true, description = "The fence of the target's lock.")
        long fence;
        @Option(names = "--seen", required = true, description = "The new cursor (never below the current one).")
        long seen;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                dev.baton.api.v1.DispatchReply r = DispatchGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .release(DispatchReleaseRequest.newBuilder().setSession(session).setGroup(group).setTarget(target)
                                .setFence(fence).setNewSeen(seen).build());
                return common.print(r, r.getStatus().name().replace("DISPATCH_", ""), OK);
            });
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "The group's targets with their lag.")
    static final class DispatchShow implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "GROUP")
        String group;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                DispatchGroup g = c.dispatch().get(group);
                if (!g.exists()) {
                    System.err.println("baton: no dispatch group " + group);
                    return FAILED;
                }
                long now = System.currentTimeMillis();
                StringBuilder b = new StringBuilder(group + ": head " + g.head() + ", " + g.targets().size() + " targets\n");
                b.append(String.format("%-24s %-20s %10s %8s %10s  %s%n", "target", "name", "seen", "lag", "idle s", "state"));
                for (DispatchTarget t : g.targets()) {
                    b.append(String.format("%-24s %-20s %10d %8d %10s  %s%n", t.id(), t.name(), t.seen(),
                            Math.max(0, g.head() - t.seen()),
                            t.touched() == 0 ? "-" : Long.toString(Math.max(0, now - t.touched()) / 1000),
                            t.disabled() ? "disabled" : t.holder() != 0 ? "locked by session " + Long.toUnsignedString(t.holder()) : ""));
                }
                return common.print(g, b.toString().stripTrailing(), OK);
            });
        }
    }

    // ---- events and queues ----------------------------------------------------------------------------

    @Command(name = "events", mixinStandardHelpOptions = true, description = "Events (ManifoldCF's event sequences).",
            subcommands = {EventBegin.class, EventComplete.class, EventList.class})
    static final class Events extends Group {}

    @Command(name = "begin", mixinStandardHelpOptions = true,
            description = "Begin an event. It is owned by this command's session, so it completes when the command"
                    + " exits, after --hold (events of a gone owner complete by themselves).")
    static final class EventBegin implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "NAME")
        String name;
        @Option(names = "--hold", defaultValue = "PT0S", description = "Keep the event pending this long.")
        Duration hold;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                EventReply r = c.events().begin(name);
                int code = common.print(r, r.status().name(), r.status() == EventStatus.BEGUN ? OK : NOT_GRANTED);
                hold(hold);
                return code;
            });
        }
    }

    @Command(name = "complete", mixinStandardHelpOptions = true, description = "Complete a pending event (whoever began it).")
    static final class EventComplete implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                EventReply r = c.events().complete(name);
                return common.print(r, r.status().name(), OK);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Pending events with their owners.")
    static final class EventList implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                List<EventInfo> l = c.events().list();
                StringBuilder b = new StringBuilder();
                for (EventInfo e : l) {
                    b.append(String.format("%-40s owner session %-8d since %s%n", e.name(), e.owner(), time(e.since())));
                }
                return common.print(Map.of("events", l), b.length() == 0 ? "(no pending events)" : b.toString().stripTrailing(), OK);
            });
        }
    }

    @Command(name = "queue", mixinStandardHelpOptions = true, description = "Gated work queues.",
            subcommands = {QueuePut.class, QueueClaim.class, QueueDone.class, QueueRetry.class, QueueList.class})
    static final class Queue extends Group {}

    @Command(name = "put", mixinStandardHelpOptions = true, description = "Enqueue an item, gated by prerequisite events.")
    static final class QueuePut implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(index = "0", paramLabel = "QUEUE")
        String queue;
        @Parameters(index = "1", paramLabel = "ITEM")
        String item;
        @Option(names = "--payload", defaultValue = "", description = "Payload text (UTF-8).")
        String payload;
        @Option(names = "--after", split = ",", paramLabel = "EVENT", description = "Prerequisite events.")
        List<String> after = new ArrayList<>();

        @Override
        public Integer call() {
            return common.withClient(c -> {
                QueueReply r = c.queues().enqueue(queue, item, payload.getBytes(StandardCharsets.UTF_8), after);
                return common.print(r, r.status().name(), OK);
            });
        }
    }

    @Command(name = "claim", mixinStandardHelpOptions = true,
            description = "Claim up to --max claimable items; prints them with their fences. Unfinished claims"
                    + " return to the queue when the command exits, after --hold.")
    static final class QueueClaim implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "QUEUE")
        String queue;
        @Option(names = "--max", defaultValue = "1", description = "Most items to claim (default: ${DEFAULT-VALUE}).")
        int max;
        @Option(names = "--hold", defaultValue = "PT0S", description = "Keep the claims this long before exiting.")
        Duration hold;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                QueueReply r = c.queues().claim(queue, max);
                StringBuilder b = new StringBuilder();
                for (ClaimedItem i : r.items()) {
                    b.append(i.id()).append("  fence ").append(i.fence()).append("  attempts ").append(i.attempts())
                            .append("  payload ").append(i.payloadUtf8()).append('\n');
                }
                int code = common.print(r, (b.length() == 0 ? "(nothing claimable)" : b.toString().stripTrailing())
                        + "  (session " + Long.toUnsignedString(c.sessionId()) + ")", !r.items().isEmpty() ? OK : NOT_GRANTED);
                hold(hold);
                return code;
            });
        }
    }

    /** done / retry: act as the claiming session. */
    abstract static class QueueFinish implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(index = "0", paramLabel = "QUEUE")
        String queue;
        @Parameters(index = "1", paramLabel = "ITEM")
        String item;
        @Option(names = "--session", required = true, description = "The claiming session.")
        long session;
        @Option(names = "--fence", required = true, description = "The claim's fence.")
        long fence;

        abstract dev.baton.api.v1.QueueReply run(QueuesGrpc.QueuesBlockingStub s);

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                dev.baton.api.v1.QueueReply r = run(QueuesGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS));
                return common.print(r, r.getStatus().name().replace("QUEUE_", ""), OK);
            });
        }
    }

    @Command(name = "done", mixinStandardHelpOptions = true, description = "Finish a claimed item (it leaves the queue).")
    static final class QueueDone extends QueueFinish {
        @Override
        dev.baton.api.v1.QueueReply run(QueuesGrpc.QueuesBlockingStub s) {
            return s.done(QueueDoneRequest.newBuilder().setSession(session).setQueue(queue).setItem(item).setFence(fence).build());
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true, description = "Put a claimed item back at the end of the queue.")
    static final class QueueRetry extends QueueFinish {
        @Override
        dev.baton.api.v1.QueueReply run(QueuesGrpc.QueuesBlockingStub s) {
            return s.retry(QueueRetryRequest.newBuilder().setSession(session).setQueue(queue).setItem(item).setFence(fence).build());
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "The items of a queue, in order.")
    static final class QueueList implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "QUEUE")
        String queue;

        @Override
        public Integer call() {
            return common.withClient(c -> {
                QueueInfo q = c.queues().get(queue);
                StringBuilder b = new StringBuilder(queue + ": " + q.items().size() + " items, " + q.ready() + " claimable\n");
                for (QueueItem i : q.items()) {
                    b.append(String.format("  %-30s %s%s%n", i.id(),
                            i.claimedBy() != 0 ? "claimed by session " + Long.toUnsignedString(i.claimedBy()) + " fence " + i.fence()
                                    : i.pendingPrerequisites() > 0 ? "gated by " + i.prerequisites() : "claimable",
                            i.attempts() > 0 ? "  attempts " + i.attempts() : ""));
                }
                return common.print(q, b.toString().stripTrailing(), OK);
            });
        }
    }

    // ---- sessions ---------------------------------------------------------------------------------------

    @Command(name = "sessions", mixinStandardHelpOptions = true, description = "Sessions.",
            subcommands = {SessionList.class, SessionClose.class})
    static final class Sessions extends Group {}

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Open sessions and their TTLs.")
    static final class SessionList implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                ListSessionsResponse l = SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .list(ListSessionsRequest.getDefaultInstance());
                StringBuilder b = new StringBuilder();
                for (SessionLease s : l.getSessionsList()) {
                    b.append("session ").append(s.getSession()).append("  ttl ").append(s.getTtlMs()).append(" ms\n");
                }
                return common.print(l, b.length() == 0 ? "(no sessions)" : b.toString().stripTrailing(), OK);
            });
        }
    }

    @Command(name = "close", mixinStandardHelpOptions = true,
            description = "Force-close a session: everything it holds is released as if its client had disconnected.")
    static final class SessionClose implements Callable<Integer> {
        @Mixin
        Common common;
        @Parameters(paramLabel = "SESSION")
        long session;

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                CloseSessionResponse r = SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .close(CloseSessionRequest.newBuilder().setSession(session).build());
                return common.print(r, "session " + Long.toUnsignedString(r.getSession()) + " closed", OK);
            });
        }
    }
}
