package dev.baton.it.session;

import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
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
            PoolReply a = before.pools().acquire("page-a", 1, 1, Duration.ZERO, false);
            assertThat(a.status()).isEqualTo(PoolStatus.LOCKED);
            // the old client makes no further call, as if its process had died with the session alive

            try (BatonClient after = nodes.clientBuilder().clientToken("render-42").build()) {
                assertThat(after.sessionId()).isEqualTo(before.sessionId());

                PoolReply b = after.pools().acquire("page-b", 1, 1, Duration.ZERO, false);

                assertThat(b.status()).isEqualTo(PoolStatus.LOCKED);
                assertThat(b.key()).isEqualTo("page-b");
                assertThat(b.fence()).isNotEqualTo(a.fence());
                assertThat(after.pools().get("page-b").processing()).as("the acquire was executed").isEqualTo(1);
                // and what the predecessor held is the session's, so the new client can let it go
                assertThat(after.pools().release("page-a").status()).isEqualTo(PoolStatus.RELEASED);
                assertThat(after.pools().get("page-a").processing()).isZero();
            }
        }
    }
}
