package dev.baton.server.node;

import dev.baton.server.grpc.ApiErrors;

import dev.baton.api.v1.*;
import dev.baton.server.raft.BatonNode;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The gRPC API of one real node (SOFAJRaft with its on-disk log, gRPC on loopback), driven through
 * the generated stubs: every primitive's mapping, the status codes, waiting acquires answered when
 * the wait ends, effects on the keep-alive stream, idempotent retries, lease and wait expiry.
 */
class ApiServerTest {
    @TempDir
    Path dir;

    private ApiServer server;
    private ManagedChannel channel;
    private SessionsGrpc.SessionsBlockingStub sessions;
    private PoolsGrpc.PoolsBlockingStub pools;
    private LocksGrpc.LocksBlockingStub locks;

    static int freePort() throws IOException {
        return dev.baton.server.TestPorts.free();
    }

    @BeforeEach
    void start() throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        channel = ManagedChannelBuilder.forTarget(server.apiEndpoint()).usePlaintext().build();
        sessions = SessionsGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        pools = PoolsGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        locks = LocksGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private long open(long ttlMs) {
        return retrying(() -> sessions.open(OpenSessionRequest.newBuilder().setTtlMs(ttlMs).build())).getSession();
    }

    /** Retries UNAVAILABLE (a node that just became leader may refuse reads for a moment). */
    private static <T> T retrying(java.util.function.Supplier<T> call) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    throw new IllegalStateException(ie);
                }
            }
        }
    }

    private static String batonError(StatusRuntimeException e) {
        Metadata t = e.getTrailers();
        return t == null ? null : t.get(ApiErrors.ERROR_KEY);
    }

    private static PoolAcquireRequest acquire(long session, long rid, String key, int workers, long timeoutMs) {
        return PoolAcquireRequest.newBuilder().setSession(session).setRequestId(rid).setKey(key).setWorkers(workers)
                .setMaxQueue(10).setTimeoutMs(timeoutMs).build();
    }

    @Test
    void acquireAndReleaseAPoolSlotWithFences() {
        long s = open(10_000);
        PoolReply locked = retrying(() -> pools.acquire(acquire(s, 1, "page", 1, 0)));
        assertThat(locked.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        assertThat(locked.getFence()).isPositive();
        PoolInfo info = retrying(() -> pools.get(GetPoolRequest.newBuilder().setKey("page").build()));
        assertThat(info.getExists()).isTrue();
        assertThat(info.getHoldersList()).extracting(PoolHolder::getSession).containsExactly(s);
        PoolReply released = pools.release(PoolReleaseRequest.newBuilder().setSession(s).setRequestId(2).build());
        assertThat(released.getStatus()).isEqualTo(PoolStatus.POOL_RELEASED);
        assertThat(released.getFence()).isEqualTo(locked.getFence());
        assertThat(retrying(() -> pools.get(GetPoolRequest.newBuilder().setKey("page").build())).getExists()).isFalse();
    }

    @Test
    void aRetryWithTheSameRequestIdReturnsTheFirstAnswer() {
        long s = open(10_000);
        PoolReply first = retrying(() -> pools.acquire(acquire(s, 7, "k", 1, 0)));
        PoolReply again = pools.acquire(acquire(s, 7, "k", 1, 0));
        assertThat(again).isEqualTo(first);
        // Not a second slot: the session still holds exactly one.
        SessionInfo info = sessions.get(GetSessionRequest.newBuilder().setSession(s).build());
        assertThat(info.getPoolSlotsList()).hasSize(1);
    }

    @Test
    void aWaitingAcquireIsAnsweredWhenTheHolderReleases() throws Exception {
        long a = open(10_000);
        long b = open(10_000);
        assertThat(retrying(() -> pools.acquire(acquire(a, 1, "hot", 1, 0))).getStatus())
                .isEqualTo(PoolStatus.POOL_LOCKED);
        var waiting = PoolsGrpc.newFutureStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .acquire(acquire(b, 1, "hot", 1, 20_000));
        // b is queued behind a (seen in the pool's waiters), and its call has not been answered.
        awaitTrue(() -> pools.get(GetPoolRequest.newBuilder().setKey("hot").build()).getWaiting() == 1);
        assertThat(waiting.isDone()).isFalse();
        pools.release(PoolReleaseRequest.newBuilder().setSession(a).setRequestId(2).build());
        PoolReply granted = waiting.get(20, TimeUnit.SECONDS);
        assertThat(granted.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        assertThat(granted.getFence()).isPositive();
    }

    @Test
    void waitsTimeOutEvenWhenNothingElseIsWritten() throws Exception {
        long a = open(10_000);
        long b = open(10_000);
        retrying(() -> pools.acquire(acquire(a, 1, "busy", 1, 0)));
        PoolReply r = pools.acquire(acquire(b, 1, "busy", 1, 300));
        assertThat(r.getStatus()).isEqualTo(PoolStatus.POOL_TIMEOUT);
    }

    @Test
    void refusalsMapToStatusCodesWithBatonsOwnCode() {
        long s = open(10_000);
        // bad input: zero workers
        assertThatThrownBy(() -> retrying(() -> pools.acquire(acquire(s, 1, "k", 0, 0))))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(batonError(e)).isEqualTo("INVALID_ARGUMENT");
                });
        // unknown session
        assertThatThrownBy(() -> pools.acquire(acquire(999_999, 1, "k", 1, 0)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(batonError(e)).isEqualTo("UNKNOWN_SESSION");
                });
        // stale fence on a lock
        LockReply l = locks.acquire(LockAcquireRequest.newBuilder().setSession(s).setRequestId(2).setName("m").build());
        assertThat(l.getStatus()).isEqualTo(LockStatus.LOCK_LOCKED);
        assertThatThrownBy(() -> locks.release(LockReleaseRequest.newBuilder().setSession(s).setRequestId(3)
                .setName("m").setFence(l.getFence() + 1).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(batonError(e)).isEqualTo("STALE_FENCE");
                });
        // a session TTL outside the limits
        assertThatThrownBy(() -> sessions.open(OpenSessionRequest.newBuilder().setTtlMs(1).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
        // dispatch settings that make no sense
        assertThatThrownBy(() -> DispatchGrpc.newBlockingStub(channel).init(DispatchInitRequest.newBuilder()
                .setSession(s).setRequestId(4).setGroup("g").setSettings(DispatchSettings.newBuilder().setRandomness(0))
                .build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
        // a limit: poolcounterd's 4 slots per session answer LOCK_HELD, the 5th key is refused
        for (int i = 0; i < 4; i++) {
            assertThat(pools.acquire(acquire(s, 10 + i, "k" + i, 1, 0)).getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
        }
        assertThat(pools.acquire(acquire(s, 20, "k9", 1, 0)).getStatus()).isEqualTo(PoolStatus.POOL_LOCK_HELD);
    }

    @Test
    void theKeepAliveStreamAcksAndCarriesTheSessionsEvents() throws Exception {
        long s = open(10_000);
        BlockingQueue<SessionEvent> events = new LinkedBlockingQueue<>();
        BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
        StreamObserver<KeepAliveRequest> up = SessionsGrpc.newStub(channel).keepAlive(collect(events, errors));
        up.onNext(KeepAliveRequest.newBuilder().setSession(s).build());
        SessionEvent ack = events.poll(20, TimeUnit.SECONDS);
        assertThat(ack).isNotNull();
        assertThat(ack.getAck().getSession()).isEqualTo(s);
        assertThat(ack.getAck().getTtlMs()).isEqualTo(10_000);

        // an event completion reaches every stream
        EventsGrpc.newBlockingStub(channel).begin(EventBeginRequest.newBuilder().setSession(s).setRequestId(1)
                .setName("robots").build());
        EventsGrpc.newBlockingStub(channel).complete(EventCompleteRequest.newBuilder().setSession(s).setRequestId(2)
                .setName("robots").build());
        assertThat(nextOf(events, SessionEvent.KindCase.EVENT_COMPLETED).getEventCompleted().getName()).isEqualTo("robots");

        // a queued acquire with return_queued: QUEUED now, the grant on the stream
        long other = open(10_000);
        pools.acquire(acquire(other, 1, "q", 1, 0));
        PoolReply queued = pools.acquire(acquire(s, 3, "q", 1, 20_000).toBuilder().setReturnQueued(true).build());
        assertThat(queued.getStatus()).isEqualTo(PoolStatus.POOL_QUEUED);
        pools.release(PoolReleaseRequest.newBuilder().setSession(other).setRequestId(2).build());
        PoolWaitEnded ended = nextOf(events, SessionEvent.KindCase.POOL_WAIT_ENDED).getPoolWaitEnded();
        assertThat(ended.getRequestId()).isEqualTo(3);
        assertThat(ended.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);

        // closing the session ends the stream with FAILED_PRECONDITION after a SessionEnded
        sessions.close(CloseSessionRequest.newBuilder().setSession(s).setRequestId(4).build());
        assertThat(nextOf(events, SessionEvent.KindCase.SESSION_ENDED).getSessionEnded().getExpired()).isFalse();
        Throwable err = errors.poll(20, TimeUnit.SECONDS);
        assertThat(Status.fromThrowable(err).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }

    @Test
    void keepAlivesCostNoRaftWrites() throws Exception {
        long s = open(10_000);
        // let the node's own start-up writes (address announcement) settle
        awaitTrue(() -> !AdminGrpc.newBlockingStub(channel).status(StatusRequest.getDefaultInstance())
                .getLeaderApiAddress().isEmpty());
        BlockingQueue<SessionEvent> events = new LinkedBlockingQueue<>();
        StreamObserver<KeepAliveRequest> up = SessionsGrpc.newStub(channel).keepAlive(
                collect(events, new LinkedBlockingQueue<>()));
        up.onNext(KeepAliveRequest.newBuilder().setSession(s).build());
        assertThat(events.poll(20, TimeUnit.SECONDS)).isNotNull();
        // SOFAJRaft's applied index is updated after an entry's answers are handed out: let it reach
        // the last entry before it is read.
        awaitTrue(() -> server.node().lastAppliedIndex() >= server.node().commitIndex());
        long before = server.node().lastAppliedIndex();
        // An acknowledgement waits for the leader's next round of renewals (at most 200 ms) and answers
        // every keep-alive that came meanwhile: 5 bursts of 10, one acknowledgement awaited after each.
        for (int burst = 0; burst < 5; burst++) {
            for (int i = 0; i < 10; i++) {
                up.onNext(KeepAliveRequest.newBuilder().setSession(s).build());
            }
            assertThat(events.poll(20, TimeUnit.SECONDS)).as("ack after burst %d", burst).isNotNull();
            events.clear();
        }
        assertThat(server.node().lastAppliedIndex()).as("log index after 50 keep-alives").isEqualTo(before);
        up.onCompleted();
    }

    @Test
    void aStreamForAnUnknownSessionIsRefused() throws Exception {
        BlockingQueue<SessionEvent> events = new LinkedBlockingQueue<>();
        BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
        StreamObserver<KeepAliveRequest> up = SessionsGrpc.newStub(channel).keepAlive(collect(events, errors));
        up.onNext(KeepAliveRequest.newBuilder().setSession(424242).build());
        Throwable err = errors.poll(20, TimeUnit.SECONDS);
        assertThat(Status.fromThrowable(err).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }

    @Test
    void aSilentSessionExpiresAndReleasesItsSlotsWhileAKeptAliveOneLives() throws Exception {
        long silent = open(1_000);
        // Kept alive every 250 ms: only a stall of 2.75 s on a loaded machine could let it lapse.
        long alive = open(3_000);
        retrying(() -> pools.acquire(acquire(silent, 1, "x", 1, 0)));
        BlockingQueue<SessionEvent> events = new LinkedBlockingQueue<>();
        StreamObserver<KeepAliveRequest> up = SessionsGrpc.newStub(channel).keepAlive(
                collect(events, new LinkedBlockingQueue<>()));
        // keep `alive` alive from a background thread, as a client would (every ttl/4)
        Thread keeper = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    synchronized (up) {
                        up.onNext(KeepAliveRequest.newBuilder().setSession(alive).build());
                    }
                    Thread.sleep(250);
                }
            } catch (InterruptedException ignored) {
                // done
            }
        });
        keeper.start();
        try {
            awaitTrue(() -> {
                try {
                    sessions.get(GetSessionRequest.newBuilder().setSession(silent).build());
                    return false;
                } catch (StatusRuntimeException e) {
                    return e.getStatus().getCode() == Status.Code.NOT_FOUND;
                }
            });
            assertThat(pools.get(GetPoolRequest.newBuilder().setKey("x").build()).getExists()).isFalse();
            Thread.sleep(3_500); // past the kept-alive session's TTL: it lives only by its keep-alives
            assertThat(sessions.get(GetSessionRequest.newBuilder().setSession(alive).build()).getSession()).isEqualTo(alive);
        } finally {
            keeper.interrupt();
            keeper.join();
        }
    }

    @Test
    void adminStatusAndDump() {
        long s = open(10_000);
        retrying(() -> pools.acquire(acquire(s, 1, "dumped-key", 1, 0)));
        AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(channel);
        awaitTrue(() -> !admin.status(StatusRequest.getDefaultInstance()).getLeaderApiAddress().isEmpty());
        StatusResponse st = admin.status(StatusRequest.getDefaultInstance());
        assertThat(st.getIsLeader()).isTrue();
        assertThat(st.getLeaderApiAddress()).isEqualTo(server.apiEndpoint());
        assertThat(st.getMembersList()).singleElement().satisfies(m -> {
            assertThat(m.getLeader()).isTrue();
            assertThat(m.getApiAddress()).isEqualTo(server.apiEndpoint());
        });
        assertThat(st.getAppliedIndex()).isPositive();
        assertThat(st.getCommitIndex()).isGreaterThanOrEqualTo(st.getAppliedIndex());
        String json = admin.dump(DumpRequest.getDefaultInstance()).getJson();
        assertThat(json).contains("dumped-key");
        assertThat(admin.snapshot(SnapshotRequest.getDefaultInstance()).getAppliedIndex()).isPositive();
    }

    private static StreamObserver<SessionEvent> collect(BlockingQueue<SessionEvent> events,
                                                        BlockingQueue<Throwable> errors) {
        return new StreamObserver<>() {
            @Override
            public void onNext(SessionEvent e) {
                events.add(e);
            }

            @Override
            public void onError(Throwable t) {
                errors.add(t);
            }

            @Override
            public void onCompleted() {
                errors.add(new IllegalStateException("completed"));
            }
        };
    }

    private static SessionEvent nextOf(BlockingQueue<SessionEvent> events, SessionEvent.KindCase kind)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            SessionEvent e = events.poll(1, TimeUnit.SECONDS);
            if (e != null && e.getKindCase() == kind) {
                return e;
            }
        }
        throw new AssertionError("no " + kind + " event within 20 s");
    }

    private static void awaitTrue(java.util.function.BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not reached within 20 s");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
