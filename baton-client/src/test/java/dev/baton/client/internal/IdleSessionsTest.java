package dev.baton.client.internal;

import io.grpc.ManagedChannelBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sweep of kept sessions runs only while some session is kept: a client that never keeps one
 * (most clients) does not wake twice a second for it. No server is needed: a closed stand-in session
 * is as good as any to be kept and dropped.
 */
class IdleSessionsTest {
    private final ClientCore core = new ClientCore(new ClientCore.Settings(List.of("127.0.0.1:1"),
            a -> ManagedChannelBuilder.forTarget(a).usePlaintext().build(), true, null, false,
            Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(10), null, e -> { }, e -> { }, null,
            8, Duration.ofSeconds(30)));

    @AfterEach
    void close() {
        core.shutdown(false);
    }

    @Test
    void theSweepRunsOnlyWhileASessionIsKept() throws InterruptedException {
        IdleSessions idle = new IdleSessions(core);
        assertThat(idle.sweeping()).isFalse();
        assertThat(core.scheduler().getQueue()).isEmpty();

        idle.offer(ClientSession.closedStandIn(core));
        assertThat(idle.size()).isEqualTo(1);
        assertThat(idle.sweeping()).isTrue();

        assertThat(idle.take()).isNull(); // a closed session is no one's to take: dropped
        assertThat(idle.size()).isZero();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (idle.sweeping() && System.nanoTime() < deadline) {
            Thread.sleep(20); // the next sweep finds nothing kept and stops
        }
        assertThat(idle.sweeping()).isFalse();
        assertThat(core.scheduler().getQueue()).isEmpty();

        idle.offer(ClientSession.closedStandIn(core)); // and starts again with the next one
        assertThat(idle.sweeping()).isTrue();
        idle.close();
        assertThat(idle.sweeping()).isFalse();
    }
}
