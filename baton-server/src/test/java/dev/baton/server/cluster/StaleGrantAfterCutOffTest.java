package dev.baton.server.cluster;

import dev.baton.server.cluster.ProcessCluster.NodeProc;

import com.google.common.util.concurrent.ListenableFuture;
import dev.baton.api.v1.KeepAliveRequest;
import dev.baton.api.v1.OpenSessionRequest;
import dev.baton.api.v1.PoolAcquireRequest;
import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.SessionEvent;
import dev.baton.api.v1.SessionsGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A grant that a node cut off from the cluster learns only after its client's session has expired
 * must not reach that client: by then the slot is someone else's.
 *
 * <p>The steps, on 3 real {@code baton server} processes with line sessions of 2 s: a line client on
 * the leader holds key {@code stale} (1 worker, at most 2 holders and waiters); a line client on a
 * follower waits for it (its wait is in the log: a third acquire is told {@code QUEUE_FULL}); the follower is cut off
 * from its peers ({@link Isolation}); the holder releases, so the leader grants the slot to the
 * waiter's session; nobody renews that session (its node is cut off), so the leader expires it and
 * the slot is free again; a new client on the leader is granted it ({@code LOCKED}) and keeps it.
 * Then the follower is healed and applies what it missed, in order: the grant, then the expiry. What
 * the waiting client reads first must not be {@code LOCKED} (two holders of a one-worker key), but
 * {@code ERROR SESSION_LOST}.
 *
 * <p>{@code bench/faults.sh} found this over-grant (two holders of a one-worker key when
 * {@code FaultClusterTest} cut the leader off for longer than the session TTL). The door now tells a
 * grant only while the leader's last acknowledgement of the session is younger than the TTL less a
 * margin ({@link dev.baton.server.route.LeaseKeeper#fresh}); the follower's is older than the TTL
 * here, so it holds the grant, asks the leader, and learns that the session is gone.
 */
class StaleGrantAfterCutOffTest {
    private static final long GENEROUS_MS = ClusterWaits.GENEROUS_MS;

    @TempDir
    Path tmp;

    @Test
    void aGrantLearnedAfterTheSessionExpiredIsNotTold() throws Exception {
        String reason = Isolation.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "SKIPPED: cannot isolate a node here: " + reason);
        ProcessCluster c = new ProcessCluster(tmp, 3, "--session-ttl", "2000");
        Isolation iso = null;
        try {
            iso = Isolation.open(c);
            c.startAll();
            NodeProc leader = await("a leader", () -> c.nodes().stream().filter(n -> leads(c, n)).findFirst());
            NodeProc follower = c.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
            await("every node to know the leader", () -> c.nodes().stream()
                    .allMatch(n -> c.status(n, 10_000).map(s -> s.getLeaderRaftAddress().equals(leader.raft())).orElse(false))
                    ? Optional.of(true) : Optional.empty());

            ManagedChannel toFollower = Grpc.newChannelBuilder(follower.api(), InsecureChannelCredentials.create()).build();
            ScheduledExecutorService keepAlives = Executors.newSingleThreadScheduledExecutor();
            List<SessionEvent> streamed = new CopyOnWriteArrayList<>();
            CompletableFuture<Throwable> streamEnded = new CompletableFuture<>();
            String[] keys = {"stale", "stale-grpc", "stale-stream"};
            List<Line> holders = new ArrayList<>();
            try (Line waiter = new Line(follower.linePort)) {
                for (String key : keys) {
                    holders.add(new Line(leader.linePort));
                    assertThat(holders.get(holders.size() - 1).ask("ACQ4ME " + key + " 1 2 60")).isEqualTo("LOCKED");
                }
                // a line client of the follower waits for "stale"
                waiter.send("ACQ4ME stale 1 2 60");
                // gRPC clients of the follower, their sessions kept alive there, wait for "stale-grpc" (the
                // call answers the outcome) and "stale-stream" (answered QUEUED, the outcome comes on the
                // session's keep-alive stream)
                List<SessionEvent> acked = new CopyOnWriteArrayList<>();
                long session = keptAlive(toFollower, keepAlives, acked, new CompletableFuture<>()).session();
                KeptAlive streamSession = keptAlive(toFollower, keepAlives, streamed, streamEnded);
                ListenableFuture<PoolReply> grpcWaiter = PoolsGrpc.newFutureStub(toFollower)
                        .withDeadlineAfter(GENEROUS_MS, TimeUnit.MILLISECONDS)
                        .acquire(PoolAcquireRequest.newBuilder().setSession(session).setRequestId(1).setKey("stale-grpc")
                                .setWorkers(1).setMaxQueue(2).setTimeoutMs(60_000).build());
                PoolReply queued = PoolsGrpc.newBlockingStub(toFollower).withDeadlineAfter(GENEROUS_MS, TimeUnit.MILLISECONDS)
                        .acquire(PoolAcquireRequest.newBuilder().setSession(streamSession.session()).setRequestId(1).setKey("stale-stream")
                                .setWorkers(1).setMaxQueue(2).setTimeoutMs(60_000).setReturnQueued(true).build());
                assertThat(queued.getStatus()).isEqualTo(PoolStatus.POOL_QUEUED);
                // maxqueue 2 counts the holder and the waiter; a probe that does not wait (timeout 0)
                // is told TIMEOUT until the waiter's acquire is in the log, QUEUE_FULL after
                for (String key : keys) {
                    await("the waiter's acquire of " + key + " in the log", () -> {
                        try (Line probe = new Line(leader.linePort)) {
                            return "QUEUE_FULL".equals(probe.ask("ACQ4ME " + key + " 1 2 0")) ? Optional.of(true) : Optional.empty();
                        }
                    });
                }

                iso.isolate(c, follower);
                // Its client stops renewing this one, so that the follower has no keep-alive of it to
                // forward once healed: what ends its stream is then the follower's own doing.
                streamSession.pings().cancel(false);
                // Once the follower has given up on the leader, it has dropped its link to it too, and
                // with it the leader's way of telling it an outcome early (the isolation drops what the
                // follower sends, not the leader's answers on a connection the follower opened).
                await("the follower to lose the leader", () -> c.status(follower, 10_000)
                        .filter(st -> st.getLeaderRaftAddress().isEmpty()).map(st -> true));
                List<Line> next = new ArrayList<>();
                try {
                    // the slots go to the waiters' sessions, which nobody renews now (their node is cut off)
                    for (Line holder : holders) {
                        assertThat(holder.ask("RELEASE")).isEqualTo("RELEASED");
                    }
                    // LOCKED once the leader has expired those sessions and freed the slots
                    for (String key : keys) {
                        next.add(new Line(leader.linePort));
                        assertThat(next.get(next.size() - 1).ask("ACQ4ME " + key + " 1 2 60")).isEqualTo("LOCKED");
                    }
                    // The follower no longer acknowledges the keep-alives it cannot have renewed (a Java
                    // client would move its stream to another node): none in a second of them, 4 sent.
                    int ackedBefore = acked.size();
                    Thread.sleep(1_000);
                    List<SessionEvent> since = List.copyOf(acked);
                    assertThat(since.subList(ackedBefore, since.size())).as("acknowledgements from the cut-off follower")
                            .noneMatch(SessionEvent::hasAck);
                    iso.heal();
                    String told = waiter.read();
                    assertThat(told).as("what the cut-off line waiter hears while %s holds the key's only slot",
                            "a client on the leader").isNotEqualTo("LOCKED").isEqualTo("ERROR SESSION_LOST");

                    Object grpcTold;
                    try {
                        grpcTold = grpcWaiter.get(GENEROUS_MS, TimeUnit.MILLISECONDS); // a reply: the grant
                    } catch (ExecutionException e) {
                        grpcTold = e.getCause();
                    }
                    assertThat(grpcTold).as("what the cut-off gRPC waiter hears while %s holds the key's only slot",
                            "a client on the leader").isInstanceOf(StatusRuntimeException.class);
                    assertUnknownSession((Throwable) grpcTold);

                    Throwable end = streamEnded.get(GENEROUS_MS, TimeUnit.MILLISECONDS);
                    assertThat(end).as("the keep-alive stream of the expired session").isNotNull();
                    assertUnknownSession(end);
                    assertThat(streamed).as("what the keep-alive stream told").noneMatch(e -> e.hasPoolWaitEnded()
                            && e.getPoolWaitEnded().getStatus() == PoolStatus.POOL_LOCKED);
                } finally {
                    for (Line l : next) {
                        l.close();
                    }
                }
            } finally {
                for (Line l : holders) {
                    l.close();
                }
                keepAlives.shutdownNow();
                toFollower.shutdownNow();
            }
        } finally {
            c.close(); // first: a user with processes cannot be removed
            if (iso != null) {
                iso.close();
            }
        }
    }

    /** A session kept alive by this test, every 250 ms until {@code pings} is cancelled. */
    private record KeptAlive(long session, ScheduledFuture<?> pings) {}

    /** Opens a session of 2 s through {@code ch} and keeps it alive there; its stream's events go to {@code events}. */
    private static KeptAlive keptAlive(ManagedChannel ch, ScheduledExecutorService keepAlives, List<SessionEvent> events,
                                  CompletableFuture<Throwable> ended) {
        long session = SessionsGrpc.newBlockingStub(ch).withDeadlineAfter(GENEROUS_MS, TimeUnit.MILLISECONDS)
                .open(OpenSessionRequest.newBuilder().setTtlMs(2_000).build()).getSession();
        StreamObserver<KeepAliveRequest> keepAlive = SessionsGrpc.newStub(ch).keepAlive(new StreamObserver<>() {
            @Override
            public void onNext(SessionEvent e) {
                events.add(e);
            }

            @Override
            public void onError(Throwable t) {
                ended.complete(t);
            }

            @Override
            public void onCompleted() {
                ended.complete(null);
            }
        });
        return new KeptAlive(session, keepAlives.scheduleWithFixedDelay(
                () -> keepAlive.onNext(KeepAliveRequest.newBuilder().setSession(session).build()), 0, 250, TimeUnit.MILLISECONDS));
    }

    private static void assertUnknownSession(Throwable t) {
        Status st = Status.fromThrowable(t);
        assertThat(st.getCode()).as(st.toString()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(Status.trailersFromThrowable(t).get(Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER)))
                .as(st.toString()).isEqualTo("UNKNOWN_SESSION");
    }

    private static boolean leads(ProcessCluster c, NodeProc n) {
        return c.status(n, 10_000).map(s -> s.getIsLeader() && !s.getLeaderApiAddress().isEmpty()).orElse(false);
    }

    private interface Probe<T> {
        Optional<T> get() throws IOException;
    }

    private static <T> T await(String what, Probe<T> cond) throws InterruptedException {
        return ClusterWaits.await(what, () -> {
            try {
                return cond.get();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, () -> "");
    }

    /** A PoolCounter line connection. */
    private static final class Line implements AutoCloseable {
        private final Socket socket = new Socket();
        private final BufferedReader in;

        Line(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            socket.setSoTimeout((int) GENEROUS_MS);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
        }

        void send(String line) throws IOException {
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
        }

        String read() throws IOException {
            return in.readLine();
        }

        String ask(String line) throws IOException {
            send(line);
            return read();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
