package dev.baton.server.grpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import java.nio.channels.ClosedChannelException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A broken forwarding link leaves its commands with unknown outcomes, which the router (and a client)
 * may only send again if they hear UNAVAILABLE: a leader killed under a TLS link ended its stream as
 * UNKNOWN "channel closed", and that reached clients as a final failure.
 */
class PeerForwardingFailureTest {
    private static final String LEADER = "127.0.0.1:7530";

    @Test
    void aLinkCutMidStreamIsUnavailableWhateverCodeTheTransportChose() {
        for (Status transport : new Status[] {
                Status.UNKNOWN.withDescription("channel closed").withCause(new ClosedChannelException()),
                Status.INTERNAL.withDescription("Connection closed with unknown cause"),
                Status.CANCELLED.withDescription("RST_STREAM closed stream")}) {
            StatusRuntimeException s = PeerForwarding.linkBroken(transport.asRuntimeException(), LEADER);
            assertThat(s.getStatus().getCode()).as("%s", transport).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(s.getStatus().getDescription()).contains(LEADER).contains(transport.getCode().name())
                    .contains(transport.getDescription());
        }
    }

    @Test
    void anUnavailableLinkAndARefusedSecretKeepTheirOwnWords() {
        StatusRuntimeException down = PeerForwarding.linkBroken(
                Status.UNAVAILABLE.withDescription("io exception").asRuntimeException(), LEADER);
        assertThat(down.getStatus().getDescription()).isEqualTo("io exception");
        StatusRuntimeException secret = PeerForwarding.linkBroken(
                Status.UNAUTHENTICATED.withDescription("bad secret").asRuntimeException(), LEADER);
        assertThat(secret.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(secret.getStatus().getDescription()).contains("cluster secret");
    }

    @Test
    void aCommandTheLeaderRefusedIsNotTurnedIntoARetry() {
        // Per-command answers from a live leader go through forwardFailure, which keeps their code.
        StatusRuntimeException refused = PeerForwarding.forwardFailure(
                Status.FAILED_PRECONDITION.withDescription("stale fence").asRuntimeException(), LEADER);
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }
}
