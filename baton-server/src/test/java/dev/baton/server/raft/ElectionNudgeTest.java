package dev.baton.server.raft;

import com.alipay.sofa.jraft.entity.PeerId;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ElectionNudge} reaches three private members of SOFAJRaft's {@code NodeImpl}; without them it
 * does nothing and a lost leader is noticed up to twice as late (BENCHMARKS.md). This pins them for
 * the SOFAJRaft version in the pom, so that an upgrade which renames them fails here rather than in
 * the fail-over figures. That the nudge makes elections start sooner is a matter of timing, so it is
 * measured by {@code FailoverBench}, not asserted by a test.
 */
class ElectionNudgeTest {
    private static final PeerId A = PeerId.parsePeer("127.0.0.1:7101");
    private static final PeerId B = PeerId.parsePeer("127.0.0.1:7102");
    private static final PeerId C = PeerId.parsePeer("127.0.0.1:7103");
    private static final PeerId D = PeerId.parsePeer("127.0.0.1:7104");
    private static final PeerId E = PeerId.parsePeer("127.0.0.1:7105");

    @Test
    void theEngineHasTheLeaseTimestampTheElectionTimeoutHandlerAndTheConfiguration() {
        assertThat(ElectionNudge.HOOKS).as("NodeImpl.lastLeaderTimestamp, handleElectionTimeout(), getConf()")
                .isNotNull();
        assertThat(ElectionNudge.HOOKS.lastLeaderTimestamp().getType()).isEqualTo(long.class);
        assertThat(ElectionNudge.HOOKS.handleElectionTimeout().getParameterCount()).isZero();
    }

    @Test
    void followersTakeDistinctTurnsAmongTheMembersOtherThanTheLostLeader() {
        List<PeerId> five = List.of(A, B, C, D, E);
        // B led: A, C, D, E take turns 0..3, each its own
        assertThat(List.of(A, C, D, E)).extracting(p -> ElectionNudge.turn(p, B, five))
                .containsExactly(0, 1, 2, 3);
        // A led (the first by address): B goes first
        assertThat(ElectionNudge.turn(B, A, List.of(A, B, C))).isZero();
        assertThat(ElectionNudge.turn(C, A, List.of(A, B, C))).isEqualTo(1);
        // no leader known (a fresh cluster): turns among all members
        assertThat(ElectionNudge.turn(C, PeerId.emptyPeer(), List.of(A, B, C))).isEqualTo(2);
    }

    @Test
    void aFollowerHearingItsLeaderIsLookedAtWhenTheLeaseCanFirstRunOutAndEveryTickOnceItHas() {
        // heard 300 ms ago, E = 1000: nothing can lapse for 700 ms
        assertThat(ElectionNudge.nextLookMs(10_300, 10_000, 1000, 0)).isEqualTo(700);
        // heard just now: a whole E
        assertThat(ElectionNudge.nextLookMs(10_000, 10_000, 1000, 0)).isEqualTo(1000);
        // lapsed, the nudge due in 5 ms: look then
        assertThat(ElectionNudge.nextLookMs(11_100, 10_000, 1000, 11_105)).isEqualTo(5);
        // lapsed, the nudge due much later (another follower's turn first): still look every tick
        assertThat(ElectionNudge.nextLookMs(11_100, 10_000, 1000, 11_600)).isEqualTo(ElectionNudge.TICK_MS);
        // lapsed and due already: at once (1 ms)
        assertThat(ElectionNudge.nextLookMs(11_100, 10_000, 1000, 11_000)).isEqualTo(1);
    }
}
