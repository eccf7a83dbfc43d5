package dev.baton.server.grpc;

import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.server.raft.NotLeaderException;
import dev.baton.server.route.BatonException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;

/** The gRPC door's edge: the routing layer's failures become the statuses and trailers clients read. */
class ApiErrorsTest {
    @Test
    void aRoutingFailureBecomesItsStatusWithBatonCodeAndLeaderHint() {
        StatusRuntimeException s = ApiErrors.toStatus(new CompletionException(
                BatonException.unavailable("no leader", "10.0.0.2:7530")), null);
        assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(s.getStatus().getDescription()).isEqualTo("no leader");
        assertThat(s.getTrailers().get(ApiErrors.ERROR_KEY)).isEqualTo("UNAVAILABLE");
        assertThat(s.getTrailers().get(ApiErrors.LEADER_KEY)).isEqualTo("10.0.0.2:7530");
    }

    @Test
    void everyCoreRefusalKeepsItsStatusCodeAndItsName() {
        // The table in baton.proto.
        Map<ErrorCode, Status.Code> table = Map.of(
                ErrorCode.INVALID_ARGUMENT, Status.Code.INVALID_ARGUMENT,
                ErrorCode.MALFORMED, Status.Code.INVALID_ARGUMENT,
                ErrorCode.LIMIT_EXCEEDED, Status.Code.RESOURCE_EXHAUSTED,
                ErrorCode.UNKNOWN_SESSION, Status.Code.FAILED_PRECONDITION,
                ErrorCode.STALE_FENCE, Status.Code.FAILED_PRECONDITION,
                ErrorCode.WAIT_FOR_RESPONSE, Status.Code.FAILED_PRECONDITION,
                ErrorCode.REQUEST_TOO_OLD, Status.Code.FAILED_PRECONDITION,
                ErrorCode.NOT_FOUND, Status.Code.NOT_FOUND);
        assertThat(table.keySet()).containsExactlyInAnyOrder(ErrorCode.values());
        for (ErrorCode c : ErrorCode.values()) {
            StatusRuntimeException s = ApiErrors.toStatus(BatonException.rejected(new Result.Rejected(c, "m")), null);
            assertThat(s.getStatus().getCode()).as("%s", c).isEqualTo(table.get(c));
            assertThat(s.getStatus().getDescription()).isEqualTo("m");
            assertThat(s.getTrailers().get(ApiErrors.ERROR_KEY)).isEqualTo(c.name());
        }
    }

    @Test
    void aStatusFromAPeerSurvivesTheRoutingLayerUnchanged() {
        StatusRuntimeException fromPeer = Status.PERMISSION_DENIED.withDescription("only client commands")
                .asRuntimeException(ApiErrors.trailers("PERMISSION_DENIED", "10.0.0.3:7530"));
        BatonException b = ApiErrors.toBaton(fromPeer, null);
        assertThat(b.code()).isEqualTo(BatonException.Code.PERMISSION_DENIED);
        StatusRuntimeException back = ApiErrors.toStatus(b, null);
        assertThat(back.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(back.getStatus().getDescription()).isEqualTo("only client commands");
        assertThat(back.getTrailers().get(ApiErrors.ERROR_KEY)).isEqualTo("PERMISSION_DENIED");
        assertThat(back.getTrailers().get(ApiErrors.LEADER_KEY)).isEqualTo("10.0.0.3:7530");
    }

    @Test
    void engineRefusalsAreUnavailableAndBadInputIsInvalid() {
        StatusRuntimeException notLeader = ApiErrors.toStatus(new NotLeaderException(java.util.Optional.of("127.0.0.1:8102"), "n2 leads"), "10.0.0.2:7530");
        assertThat(notLeader.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(notLeader.getTrailers().get(ApiErrors.LEADER_KEY)).isEqualTo("10.0.0.2:7530");
        StatusRuntimeException bad = ApiErrors.toStatus(new IllegalArgumentException("key too long"), null);
        assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(bad.getTrailers().get(ApiErrors.ERROR_KEY)).isEqualTo("INVALID_ARGUMENT");
        assertThat(ApiErrors.toStatus(new IllegalStateException("boom"), null).getStatus().getCode())
                .isEqualTo(Status.Code.INTERNAL);
    }
}
