package dev.baton.it.session;

import dev.baton.api.v1.PoolReply;
import dev.baton.api.v1.PoolStatus;
import dev.baton.client.BatonClient;
import dev.baton.it.Nodes;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A process that restarts and builds its client with the same token takes its session back. Its
 * requests must be its own: before the server said where to start numbering, the new client's
 * request 1 was answered with what the old client's request 1 had been told.
 */
class ClientTokenTakeOverTest {

    @Test
    void aClientTakingOverATokenGetsItsOwnAnswers() {
        try (Nodes nodes = Nodes.single();
             BatonClient before = nodes.clientBuilder().clientToken("render-42").build()) {
            PoolReply a = before.poolAcquire("page-a", 1, 1, Duration.ZERO, false);
            assertThat(a.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
            // the old client makes no further call, as if its process had died with the session alive

            try (BatonClient after = nodes.clientBuilder().clientToken("render-42").build()) {
                assertThat(after.sessionId()).isEqualTo(before.sessionId());

                PoolReply b = after.poolAcquire("page-b", 1, 1, Duration.ZERO, false);

                assertThat(b.getStatus()).isEqualTo(PoolStatus.POOL_LOCKED);
                assertThat(b.getKey()).isEqualTo("page-b");
                assertThat(b.getFence()).isNotEqualTo(a.getFence());
                assertThat(after.poolGet("page-b").getProcessing()).as("the acquire was executed").isEqualTo(1);
                // and what the predecessor held is the session's, so the new client can let it go
                assertThat(after.poolRelease("page-a").getStatus()).isEqualTo(PoolStatus.POOL_RELEASED);
                assertThat(after.poolGet("page-a").getProcessing()).isZero();
            }
        }
    }
}
