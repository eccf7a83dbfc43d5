package dev.baton.client;

import static org.assertj.core.api.Assertions.fail;

import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;

/** Nodes, clients and polling shared by the tests; everything made here is closed after each test. */
abstract class TestSupport {
    /** How long a condition may take before the test fails: generous, never a measure of speed. */
    static final Duration PATIENCE = Duration.ofSeconds(20);

    private final List<AutoCloseable> toClose = new ArrayList<>();
    /** Counted down after each test, releasing handlers that hang on it. */
    final CountDownLatch released = new CountDownLatch(1);

    FakeNode node(String name) {
        FakeNode n = FakeNode.inProcess(name);
        toClose.add(n);
        return n;
    }

    FakeNode nettyNode() {
        FakeNode n = FakeNode.netty();
        toClose.add(n);
        return n;
    }

    static ManagedChannel inProcessChannel(String address) {
        return InProcessChannelBuilder.forName(address).build();
    }

    /** A builder for in-process endpoints, with a short request timeout and retry time. */
    BatonClient.Builder builder(String... endpoints) {
        return BatonClient.builder()
                .endpoints(endpoints)
                .channelFactory(TestSupport::inProcessChannel)
                .onSessionLost(e -> {})
                .requestTimeout(Duration.ofSeconds(5))
                .retryFor(Duration.ofSeconds(10));
    }

    BatonClient track(BatonClient client) {
        toClose.add(0, client);
        return client;
    }

    BatonClient client(String... endpoints) {
        return track(builder(endpoints).build());
    }

    /** A handler body that hangs until the test ends. */
    void hang() throws InterruptedException {
        released.await(60, TimeUnit.SECONDS);
    }

    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        released.countDown();
        for (AutoCloseable c : toClose) {
            c.close();
        }
        toClose.clear();
    }
}
