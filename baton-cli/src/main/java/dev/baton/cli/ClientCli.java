package dev.baton.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.baton.api.v1.*;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

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

        @Option(names = "--timeout-ms", defaultValue = "30000",
                description = "Give up on an unreachable cluster after this long (default: ${DEFAULT-VALUE}).")
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

        /** Prints a reply as JSON or text; returns the exit code the caller decides. */
        int print(MessageOrBuilder m, String text, int code) {
            if (json()) {
                try {
                    System.out.println(JsonFormat.printer().print(m));
                } catch (InvalidProtocolBufferException e) {
                    System.err.println("baton: " + e.getMessage());
                    return FAILED;
                }
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
                PoolReply r = c.poolAcquire(key, workers, maxQueue, wait, anyone);
                int code = common.print(r, r.getStatus().name().replace("POOL_", "") + (r.getFence() != 0
                        ? " fence " + r.getFence() : "") + "  (session " + Long.toUnsignedString(c.sessionId()) + ")",
                        r.getStatus() == PoolStatus.POOL_LOCKED ? OK : NOT_GRANTED);
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
                PoolReply r = PoolsGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
                        .release(PoolReleaseRequest.newBuilder().setSession(session).setKey(key).setFence(fence).build());
                return common.print(r, r.getStatus().name().replace("POOL_", ""),
                        r.getStatus() == PoolStatus.POOL_RELEASED ? OK : NOT_GRANTED);
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
                PoolInfo p = c.poolGet(key);
                StringBuilder b = new StringBuilder(key + ": " + p.getProcessing() + " holding, " + p.getWaiting() + " waiting");
                for (PoolHolder h : p.getHoldersList()) {
                    b.append("\n  holder  session ").append(h.getSession()).append("  fence ").append(h.getFence())
                            .append("  since ").append(time(h.getSince()));
                }
                for (PoolWaiter w : p.getWaitersList()) {
                    b.append("\n  waiter  session ").append(w.getSession()).append(w.getForAnyone() ? "  ACQ4ANY" : "  ACQ4ME")
                            .append("  since ").append(time(w.getSince())).append("  until ").append(time(w.getDeadline()));
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
                PoolTotals t = c.poolTotals();
                String text = String.join("\n",
                        "keys " + t.getKeys() + "  holding " + t.getProcessing() + "  waiting " + t.getWaiting(),
                        "acquired " + t.getAcquired() + "  released " + t.getReleased() + "  done " + t.getDone()
                                + "  timeouts " + t.getTimeouts() + "  queue_full " + t.getQueueFull(),
                        "lock_held " + t.getLockHeld() + "  wait_for_response " + t.getWaitForResponse()
                                + "  release_mismatch " + t.getReleaseMismatch());
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
                LockReply r = c.lockAcquire(name, wait);
                int code = common.print(r, r.getStatus().name().replace("LOCK_", "") + (r.getFence() != 0
                        ? " fence " + r.getFence() : "") + "  (session " + Long.toUnsignedString(c.sessionId()) + ")",
                        r.getStatus() == LockStatus.LOCK_LOCKED ? OK : NOT_GRANTED);
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
                LockReply r = LocksGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
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
                LockInfo l = c.lockGet(name);
                String text = !l.getExists() || l.getHolder() == 0 ? name + ": free"
                        : name + ": held by session " + Long.toUnsignedString(l.getHolder()) + "  fence " + l.getFence() + "  since "
                        + time(l.getSince()) + "  waiters " + l.getWaitersCount();
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
                DispatchReply r = c.dispatchInit(group, targets);
                return common.print(r, group + ": " + r.getValue() + " target(s) added", OK);
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
                DispatchReply r = c.dispatchAdvance(group, head);
                return common.print(r, group + ": head " + r.getValue(), OK);
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
                DispatchReply r = c.dispatchSelect(group);
                Target t = r.getTarget();
                boolean got = r.hasTarget() && !t.getId().isEmpty();
                int code = common.print(r, r.getStatus().name().replace("DISPATCH_", "") + (got ? "  " + t.getId()
                        + " (" + t.getName() + ") seen " + t.getSeen() + " fence " + t.getFence() + "  (session "
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
                DispatchReply r = DispatchGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS)
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
                GroupInfo g = c.dispatchGetGroup(group);
                if (!g.getExists()) {
                    System.err.println("baton: no dispatch group " + group);
                    return FAILED;
                }
                long now = System.currentTimeMillis();
                StringBuilder b = new StringBuilder(group + ": head " + g.getHead() + ", " + g.getTargetsCount() + " targets\n");
                b.append(String.format("%-24s %-20s %10s %8s %10s  %s%n", "target", "name", "seen", "lag", "idle s", "state"));
                for (Target t : g.getTargetsList()) {
                    b.append(String.format("%-24s %-20s %10d %8d %10s  %s%n", t.getId(), t.getName(), t.getSeen(),
                            Math.max(0, g.getHead() - t.getSeen()),
                            t.getTouched() == 0 ? "-" : Long.toString(Math.max(0, now - t.getTouched()) / 1000),
                            t.getDisabled() ? "disabled" : t.getHolder() != 0 ? "locked by session " + Long.toUnsignedString(t.getHolder()) : ""));
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
                EventReply r = c.eventBegin(name);
                int code = common.print(r, r.getStatus().name().replace("EVENT_", ""),
                        r.getStatus() == EventStatus.EVENT_BEGUN ? OK : NOT_GRANTED);
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
                EventReply r = c.eventComplete(name);
                return common.print(r, r.getStatus().name().replace("EVENT_", ""), OK);
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
                ListEventsResponse l = c.eventList();
                StringBuilder b = new StringBuilder();
                for (EventInfo e : l.getEventsList()) {
                    b.append(String.format("%-40s owner session %-8d since %s%n", e.getName(), e.getOwner(), time(e.getSince())));
                }
                return common.print(l, b.length() == 0 ? "(no pending events)" : b.toString().stripTrailing(), OK);
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
                QueueReply r = c.queueEnqueue(queue, item, payload.getBytes(StandardCharsets.UTF_8), after);
                return common.print(r, r.getStatus().name().replace("QUEUE_", ""), OK);
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
                QueueReply r = c.queueClaim(queue, max);
                StringBuilder b = new StringBuilder();
                for (ClaimedItem i : r.getItemsList()) {
                    b.append(i.getItem()).append("  fence ").append(i.getFence()).append("  attempts ").append(i.getAttempts())
                            .append("  payload ").append(i.getPayload().toStringUtf8()).append('\n');
                }
                int code = common.print(r, (b.length() == 0 ? "(nothing claimable)" : b.toString().stripTrailing())
                        + "  (session " + Long.toUnsignedString(c.sessionId()) + ")", r.getItemsCount() > 0 ? OK : NOT_GRANTED);
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

        abstract QueueReply run(QueuesGrpc.QueuesBlockingStub s);

        @Override
        public Integer call() {
            return common.withChannel(ch -> {
                QueueReply r = run(QueuesGrpc.newBlockingStub(ch).withDeadlineAfter(common.deadlineMs(), TimeUnit.MILLISECONDS));
                return common.print(r, r.getStatus().name().replace("QUEUE_", ""), OK);
            });
        }
    }

    @Command(name = "done", mixinStandardHelpOptions = true, description = "Finish a claimed item (it leaves the queue).")
    static final class QueueDone extends QueueFinish {
        @Override
        QueueReply run(QueuesGrpc.QueuesBlockingStub s) {
            return s.done(QueueDoneRequest.newBuilder().setSession(session).setQueue(queue).setItem(item).setFence(fence).build());
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true, description = "Put a claimed item back at the end of the queue.")
    static final class QueueRetry extends QueueFinish {
        @Override
        QueueReply run(QueuesGrpc.QueuesBlockingStub s) {
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
                QueueInfo q = c.queueGet(queue);
                StringBuilder b = new StringBuilder(queue + ": " + q.getItemsCount() + " items, " + q.getReady() + " claimable\n");
                for (QueueItem i : q.getItemsList()) {
                    b.append(String.format("  %-30s %s%s%n", i.getId(),
                            i.getClaimedBy() != 0 ? "claimed by session " + Long.toUnsignedString(i.getClaimedBy()) + " fence " + i.getFence()
                                    : i.getPendingPrerequisites() > 0 ? "gated by " + i.getPrerequisitesList() : "claimable",
                            i.getAttempts() > 0 ? "  attempts " + i.getAttempts() : ""));
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
