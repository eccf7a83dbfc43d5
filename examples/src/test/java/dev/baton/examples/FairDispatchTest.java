package dev.baton.examples;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The dispatch example at a small size: 3 dispatcher processes, 12 targets; lag ends at 0, no violation. */
class FairDispatchTest {
    @Test
    void threeDispatcherProcessesCatchEveryTargetUpWithoutOverlapOrBackwardsCursors() throws Exception {
        try (OneNode node = new OneNode()) {
            FairDispatch.Outcome o = FairDispatch.run(node.endpoints(), 3, 12, 4, 100, true);
            assertThat(o.finalLag()).hasSize(12);
            assertThat(o.finalLag().values()).allMatch(lag -> lag == 0);
            assertThat(o.exitCodes()).containsExactly(0, 0, 0); // each checked its holder and fence on every delivery
            assertThat(o.backwardsCursors()).isZero();
        }
    }
}
