package dev.baton.it;

import dev.baton.client.PoolStatus;
import dev.baton.client.BatonClient;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The fixture itself: one node and three nodes serve a client. */
class NodesTest {
    @Test
    void oneAndThreeNodesServe() {
        for (int n : new int[] {1, 3}) {
            try (Nodes nodes = n == 1 ? Nodes.single() : Nodes.three(); BatonClient c = nodes.client()) {
                assertThat(nodes.servers()).hasSize(n);
                assertThat(c.pools().acquire("k", 1, 1, Duration.ZERO, false).status()).isEqualTo(PoolStatus.LOCKED);
                assertThat(c.pools().release("k").status()).isEqualTo(PoolStatus.RELEASED);
            }
        }
    }
}
