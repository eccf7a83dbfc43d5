package dev.baton.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.BackupRequest;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.Member;
import dev.baton.api.v1.MemberRequest;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.server.Durations;
import dev.baton.server.raft.BackupFile;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * {@code baton admin ...}: cluster status, membership changes, leadership transfer, snapshot and
 * dump, through the gRPC Admin service of any node (changes are forwarded to the leader). Exit code
 * 0 on success, 1 when the cluster refused or could not be reached, 2 on bad usage.
 */
@Command(name = "admin", mixinStandardHelpOptions = true,
        description = "Administer a running cluster through any node's API port.",
        subcommands = {AdminCli.StatusCmd.class, AdminCli.AddMember.class, AdminCli.RemoveMember.class,
                AdminCli.TransferLeader.class, AdminCli.SnapshotCmd.class, AdminCli.DumpCmd.class,
                AdminCli.BackupCmd.class})
final class AdminCli {
    private static final Metadata.Key<String> ERROR_KEY = Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);

    @Option(names = {"-e", "--endpoints"}, split = ",", defaultValue = "127.0.0.1:7530",
            scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "API addresses of one or more nodes; the next is tried while one cannot be reached"
                    + " (default: ${DEFAULT-VALUE}).")
    List<String> endpoints;

    enum Output { text, json }

    @Option(names = {"-o", "--output"}, defaultValue = "text", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "text or json (default: ${DEFAULT-VALUE}).")
    Output output;

    @Option(names = "--timeout-ms", defaultValue = "30000", converter = Durations.Millis.class,
            scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "Give up after this long: 30s, 500ms, ... (a bare number is ms; default: ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Option(names = {"--tls-ca-file", "--tls-ca"}, paramLabel = "PEM", defaultValue = "${env:BATON_TLS_CA_FILE}", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = CliTls.CA_HELP)
    java.nio.file.Path tlsCaFile;

    @Option(names = {"--tls-cert-file", "--tls-cert"}, paramLabel = "PEM", defaultValue = "${env:BATON_TLS_CERT_FILE}", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = CliTls.CERT_HELP)
    java.nio.file.Path tlsCertFile;

    @Option(names = {"--tls-key-file", "--tls-key"}, paramLabel = "PEM", defaultValue = "${env:BATON_TLS_KEY_FILE}", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = CliTls.KEY_HELP)
    java.nio.file.Path tlsKeyFile;

    @Option(names = "--token-file", paramLabel = "FILE", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = CliToken.HELP)
    java.nio.file.Path tokenFile;

    int call(Function<AdminGrpc.AdminBlockingStub, MessageOrBuilder> op, Function<MessageOrBuilder, String> text) {
        return onFirstNodeThatAnswers((ch, endpoint, deadline) -> {
            try {
                MessageOrBuilder r = op.apply(AdminGrpc.newBlockingStub(ch).withDeadline(deadline));
                System.out.println(output == Output.json ? CliJson.print(r) : text.apply(r));
                return 0;
            } catch (InvalidProtocolBufferException e) {
                System.err.println("baton admin: " + e.getMessage());
                return 1;
            }
        });
    }

    /** One node asked by {@link #onFirstNodeThatAnswers}: an exit code, or a gRPC failure thrown. */
    @FunctionalInterface
    interface Attempt {
        /** @param deadline when the whole command gives up (--timeout-ms from its start) */
        int run(ManagedChannel channel, String endpoint, Deadline deadline);
    }

    /** The first pause before asking again a cluster that answered "not now"; it doubles up to {@link #MAX_PAUSE_MS}. */
    static final long FIRST_PAUSE_MS = 100;
    static final long MAX_PAUSE_MS = 2_000;

    /**
     * Runs {@code attempt} on the endpoints in order until one answers: an UNAVAILABLE node passes
     * the question to the next, any other failure is printed and ends it. When the last node
     * answers UNAVAILABLE itself (it carries Baton's error trailer: the cluster is between leaders,
     * a follower does not know the leader's address yet, a membership change's catch-up failed),
     * the round starts again after a pause until --timeout-ms: every admin call is safe to repeat
     * (membership changes and transfers complete at once when already done). A node that cannot be
     * reached at all ends it at once, so a wrong address fails fast.
     */
    private int onFirstNodeThatAnswers(Attempt attempt) {
        CliTls tls = new CliTls(tlsCaFile, tlsCertFile, tlsKeyFile);
        CliToken token = new CliToken(tokenFile);
        Deadline deadline = Deadline.after(timeoutMs, TimeUnit.MILLISECONDS);
        long pauseMs = FIRST_PAUSE_MS;
        boolean said = false;
        for (int i = 0; ; i++) {
            String endpoint = endpoints.get(i);
            boolean last = i == endpoints.size() - 1;
            ManagedChannel ch;
            try {
                ch = tls.channel(endpoint, token.interceptor());
            } catch (IllegalArgumentException e) {
                System.err.println("baton admin: " + e.getMessage());
                return 2;
            }
            try {
                return attempt.run(ch, endpoint, deadline);
            } catch (StatusRuntimeException e) {
                boolean unavailable = e.getStatus().getCode() == Status.Code.UNAVAILABLE;
                if (!last && unavailable) {
                    continue; // another node may answer
                }
                if (unavailable && answeredByBaton(e) && deadline.timeRemaining(TimeUnit.MILLISECONDS) > pauseMs) {
                    if (!said) {
                        System.err.println("baton admin: " + describe(e) + "; asking again until --timeout-ms ("
                                + timeoutMs + " ms) runs out");
                        said = true;
                    }
                    sleep(pauseMs);
                    pauseMs = Math.min(MAX_PAUSE_MS, pauseMs * 2);
                    i = -1;
                    continue;
                }
                printError(e, endpoint, tls, token);
                return 1;
            } finally {
                ch.shutdownNow();
            }
        }
    }

    /** A failure the node itself sent (with Baton's error trailer), not one of reaching it. */
    private static boolean answeredByBaton(StatusRuntimeException e) {
        Metadata t = e.getTrailers();
        return t != null && t.get(ERROR_KEY) != null;
    }

    private static String describe(StatusRuntimeException e) {
        return e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
        }
    }

    private static void printError(StatusRuntimeException e, String endpoint, CliTls tls, CliToken token) {
        Metadata t = e.getTrailers();
        String code = t == null ? null : t.get(ERROR_KEY);
        boolean sameCode = code == null || code.equals(e.getStatus().getCode().name()); // say it once
        System.err.println("baton admin: " + e.getStatus().getCode() + (sameCode ? "" : " [" + code + "]")
                + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription())
                + (e.getStatus().getCode() == Status.Code.UNAVAILABLE ? " (is " + endpoint + " up?)" : "")
                + tls.hint(e.getStatus()) + token.hint(e.getStatus().getCode()));
    }

    /**
     * Streams a backup from the first node that answers into a file next to {@code file}, checks it
     * whole ({@link BackupFile#verify}), then renames it into place: {@code file} is either the old
     * one or a complete backup, never a part.
     */
    int backup(Path file, boolean force) {
        Path target = file.toAbsolutePath();
        if (Files.exists(target) && !force) {
            System.err.println("baton admin: " + file + " exists; give --force to replace it");
            return 2;
        }
        Path dir = target.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            System.err.println("baton admin: no such directory for " + file);
            return 2;
        }
        return onFirstNodeThatAnswers((ch, endpoint, deadline) -> {
            Path partial = null;
            try {
                partial = Files.createTempFile(dir, "." + target.getFileName() + ".", ".partial");
                long bytes = 0;
                try (FileChannel out = FileChannel.open(partial, StandardOpenOption.WRITE)) {
                    var chunks = AdminGrpc.newBlockingStub(ch).withDeadline(deadline)
                            .backup(BackupRequest.getDefaultInstance());
                    while (chunks.hasNext()) {
                        ByteBuffer b = chunks.next().getData().asReadOnlyByteBuffer();
                        while (b.hasRemaining()) {
                            bytes += out.write(b);
                        }
                    }
                    out.force(true);
                }
                BackupFile.Header h;
                try {
                    h = BackupFile.verify(partial);
                } catch (IOException e) {
                    System.err.println("baton admin: the backup " + endpoint + " sent is unusable: " + e.getMessage());
                    return 1;
                }
                if (force) {
                    Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } else {
                    // A link fails if the name was taken meanwhile; a rename would replace it.
                    Files.createLink(target, partial);
                }
                fsyncDirectory(dir);
                if (output == Output.json) {
                    com.google.gson.JsonObject j = new com.google.gson.JsonObject();
                    j.addProperty("file", target.toString());
                    j.addProperty("bytes", bytes);
                    j.addProperty("appliedIndex", h.appliedIndex());
                    j.addProperty("term", h.term());
                    j.addProperty("stateTime", h.stateTime());
                    j.addProperty("nodeId", h.nodeId());
                    j.addProperty("created", h.createdMillis());
                    System.out.println(j);
                } else {
                    System.out.println("backup of applied index " + h.appliedIndex() + " (term " + h.term()
                            + ", state time " + Instant.ofEpochMilli(h.stateTime()) + ", taken on node " + h.nodeId()
                            + ") written to " + file + ", " + bytes + " bytes");
                }
                return 0;
            } catch (java.nio.file.FileAlreadyExistsException e) {
                System.err.println("baton admin: " + file + " exists; give --force to replace it");
                return 2;
            } catch (IOException e) {
                System.err.println("baton admin: cannot write " + file + ": " + e);
                return 1;
            } finally {
                if (partial != null) {
                    try {
                        Files.deleteIfExists(partial);
                    } catch (IOException ignored) {
                        // best effort: a dot file next to the backup
                    }
                }
            }
        });
    }

    /** Makes a rename in {@code dir} durable (best effort where directories cannot be opened). */
    private static void fsyncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every file system lets a directory be synced
        }
    }

    static String statusText(MessageOrBuilder m) {
        StatusResponse s = (StatusResponse) m;
        StringBuilder b = new StringBuilder();
        b.append("node      ").append(s.getNodeId()).append("  raft ").append(s.getRaftAddress()).append("  api ")
                .append(s.getApiAddress()).append(s.getIsLeader() ? "  (leader)" : "").append('\n');
        b.append("leader    ").append(s.getLeaderRaftAddress().isEmpty() ? "(none known)" : s.getLeaderRaftAddress()
                + "  api " + s.getLeaderApiAddress()).append('\n');
        b.append("term      ").append(s.getTerm()).append('\n');
        b.append("commit    ").append(s.getCommitIndex()).append("  applied ").append(s.getAppliedIndex()).append('\n');
        if (s.hasPools()) {
            // The same cluster-wide counters as the PoolCounter door's STATS and /metrics.
            var p = s.getPools();
            b.append("pools     keys ").append(p.getKeys()).append("  holding ").append(p.getProcessing())
                    .append("  waiting ").append(p.getWaiting()).append('\n');
            b.append("          acquired ").append(p.getAcquired()).append("  released ").append(p.getReleased())
                    .append("  done ").append(p.getDone()).append("  timeouts ").append(p.getTimeouts())
                    .append("  queue_full ").append(p.getQueueFull()).append('\n');
        }
        if (!s.getFailure().isEmpty()) {
            b.append("FAILED    ").append(s.getFailure()).append('\n');
        }
        b.append("members\n");
        for (Member mem : s.getMembersList()) {
            b.append(String.format("  %-4s %-22s api %-22s%s%n", mem.getNodeId().isEmpty() ? "?" : mem.getNodeId(),
                    mem.getRaftAddress(), mem.getApiAddress().isEmpty() ? "(not announced)" : mem.getApiAddress(),
                    mem.getLeader() ? "  leader" : ""));
        }
        return b.toString().stripTrailing();
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Members, leader, term and indexes.")
    static final class StatusCmd implements Callable<Integer> {
        @ParentCommand
        AdminCli admin;

        @Override
        public Integer call() {
            return admin.call(s -> s.status(StatusRequest.getDefaultInstance()), AdminCli::statusText);
        }
    }

    /** A membership command: one Raft address, one Admin call. */
    abstract static class MemberCmd implements Callable<Integer> {
        @ParentCommand
        AdminCli admin;

        @Parameters(paramLabel = "HOST:RAFT_PORT", description = "The member's Raft address, as in --peers.")
        String raft;

        abstract StatusResponse run(AdminGrpc.AdminBlockingStub stub, MemberRequest req);

        @Override
        public Integer call() {
            MemberRequest req = MemberRequest.newBuilder().setRaftAddress(raft).build();
            return admin.call(s -> run(s, req), AdminCli::statusText);
        }
    }

    @Command(name = "add-member", mixinStandardHelpOptions = true,
            description = "Add a node (started with --join and already running) to the cluster.")
    static final class AddMember extends MemberCmd {
        @Override
        StatusResponse run(AdminGrpc.AdminBlockingStub stub, MemberRequest req) {
            return stub.addMember(req);
        }
    }

    @Command(name = "remove-member", mixinStandardHelpOptions = true,
            description = "Remove a node from the cluster (then stop it).")
    static final class RemoveMember extends MemberCmd {
        @Override
        StatusResponse run(AdminGrpc.AdminBlockingStub stub, MemberRequest req) {
            return stub.removeMember(req);
        }
    }

    @Command(name = "transfer-leader", mixinStandardHelpOptions = true, description = "Make another member the leader.")
    static final class TransferLeader extends MemberCmd {
        @Override
        StatusResponse run(AdminGrpc.AdminBlockingStub stub, MemberRequest req) {
            return stub.transferLeader(req);
        }
    }

    @Command(name = "snapshot", mixinStandardHelpOptions = true,
            description = "Take a snapshot on the node now (its log behind it is truncated).")
    static final class SnapshotCmd implements Callable<Integer> {
        @ParentCommand
        AdminCli admin;

        @Override
        public Integer call() {
            return admin.call(s -> s.snapshot(SnapshotRequest.getDefaultInstance()),
                    m -> "snapshot taken at applied index " + ((dev.baton.api.v1.SnapshotResponse) m).getAppliedIndex());
        }
    }

    @Command(name = "dump", mixinStandardHelpOptions = true, description = "The whole coordination state as JSON.")
    static final class DumpCmd implements Callable<Integer> {
        @ParentCommand
        AdminCli admin;

        @Override
        public Integer call() {
            return admin.call(s -> s.dump(DumpRequest.getDefaultInstance()),
                    m -> ((dev.baton.api.v1.DumpResponse) m).getJson());
        }
    }

    @Command(name = "backup", mixinStandardHelpOptions = true,
            description = {"Write a backup of the whole replicated state to FILE: a consistent snapshot, taken by"
                    + " the node asked, of a state that includes every write committed before the command started."
                    + " Start a new cluster from it with: baton server --restore FILE.",
                    "Needs the admin role when the node asks for tokens. Raise --timeout-ms for a large state."})
    static final class BackupCmd implements Callable<Integer> {
        @ParentCommand
        AdminCli admin;

        @Parameters(paramLabel = "FILE", description = "Where to write the backup (written whole, then renamed into place).")
        Path file;

        @Option(names = "--force", description = "Replace FILE if it exists.")
        boolean force;

        @Override
        public Integer call() {
            return admin.backup(file, force);
        }
    }
}
