package dev.baton.core.machine;

import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SmokeTest {
    @Test
    void acquireReleaseRoundTrip() {
        Harness h = new Harness();
        long s = h.open();
        PoolReply locked = h.apply(new PoolAcquire(s, 1, "k", 1, 5, 0, false), PoolReply.class);
        assertThat(locked.status()).isEqualTo(PoolStatus.LOCKED);
        assertThat(locked.fence()).isGreaterThan(0);
        PoolReply released = h.apply(new PoolRelease(s, 2, null, 0), PoolReply.class);
        assertThat(released.status()).isEqualTo(PoolStatus.RELEASED);
        assertThat(released.fence()).isEqualTo(locked.fence());
        assertThat(h.recoverCopy().state().lastIndex()).isEqualTo(h.lastIndex());
    }
}
