package dev.baton.client;

import dev.baton.client.internal.Errors;
import dev.baton.client.internal.Invoker;
import io.grpc.Metadata;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The bearer token: read from its file, checked, and refusals mapped to a non-retried exception. */
class BearerTokenTest {
    @Test
    void theFirstLineOfTheFileTrimmedIsTheToken(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("token");
        Files.writeString(f, "  abc-DEF_123 \r\nsecond line\n");
        assertThat(BearerToken.readFile(f)).isEqualTo("abc-DEF_123");
        Files.writeString(f, "\nabc\n");
        assertThatThrownBy(() -> BearerToken.readFile(f)).hasMessageContaining(f.toString()).hasMessageContaining("empty");
        assertThatThrownBy(() -> BearerToken.readFile(dir.resolve("none"))).hasMessageContaining("cannot read the token file");
        assertThatThrownBy(() -> BatonClient.builder().authToken("two words")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refusalsForTheTokenAreNotRetriedAndHaveTheirOwnType() {
        for (Status.Code code : new Status.Code[] {Status.Code.UNAUTHENTICATED, Status.Code.PERMISSION_DENIED}) {
            Status status = Status.fromCode(code).withDescription("unknown token");
            assertThat(Invoker.retryable(status, false)).isFalse();
            assertThat(Invoker.retryable(status, true)).isFalse();
            BatonException e = Errors.toException(status, new Metadata(), 1, "Pools.Acquire");
            assertThat(e).isInstanceOf(AccessDeniedException.class).hasMessageContaining("unknown token");
            assertThat(e.statusCode()).isEqualTo(code);
        }
    }
}
