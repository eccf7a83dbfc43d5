package dev.baton.examples;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The stampede example at a small size: never more than 2 renders at once, every caller gets a page. */
class StampedeTest {
    @Test
    void atMostTwoRenderAndEveryCallerGetsThePage() throws Exception {
        try (OneNode node = new OneNode()) {
            Stampede.Outcome o = Stampede.run(node.endpoints(), 20, 2, 1_000);
            assertThat(o.maxRendersInFlight()).isBetween(1, 2);
            assertThat(o.served()).isEqualTo(20);
            assertThat(o.rendered() + o.fromCache()).isEqualTo(20);
            assertThat(o.fromCache()).as("the waiters read the cached copy").isPositive();
        }
    }
}
