package dev.baton.core.testing;

import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;

import static org.assertj.core.api.Assertions.assertThat;

/** Assertions on results shared by the rule tests. */
public final class TestResults {
    private TestResults() {}

    /** The result is a rejection with this code and a message that says something. */
    public static void assertRejected(Result r, ErrorCode code) {
        assertThat(r).isInstanceOf(Result.Rejected.class);
        Result.Rejected rej = (Result.Rejected) r;
        assertThat(rej.code()).isEqualTo(code);
        assertThat(rej.message()).isNotBlank();
    }
}
