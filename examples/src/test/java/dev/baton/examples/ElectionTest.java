package dev.baton.examples;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The election example at a small size: one leader at a time, a larger fence each term, no stale write accepted. */
class ElectionTest {
    @Test
    void leadershipMovesOnWithALargerFenceAndNeverTwoLeaders() throws Exception {
        try (OneNode node = new OneNode()) {
            Election.Outcome o = Election.run(node.endpoints(), 3, 2, true);
            assertThat(o.terms()).as("a first leader and two hand-overs").isGreaterThanOrEqualTo(3);
            assertThat(o.mostLeadersAtOnce()).isEqualTo(1);
            assertThat(o.fencesIncreased()).isTrue();
            assertThat(o.refusedStale()).isZero();
            assertThat(o.writes()).isPositive();
        }
    }
}
