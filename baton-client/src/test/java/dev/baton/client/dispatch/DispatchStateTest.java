package dev.baton.client.dispatch;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The value types: a cursor never moves backwards; settings are checked and mapped to the API. */
class DispatchStateTest {
    @Test
    void theCursorOnlyMovesForward() {
        DispatchState s = new DispatchState("enwiki", "enwikidb", 10, Instant.EPOCH, 99);
        assertThat(s.withSeen(10)).isEqualTo(s);
        assertThat(s.withSeen(15).seen()).isEqualTo(15);
        assertThat(s.withSeen(15).fence()).isEqualTo(99);
        assertThatThrownBy(() -> s.withSeen(9)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("backwards");
        assertThat(s.locked()).isTrue();
        assertThat(new DispatchState("x", "y", 0, Instant.EPOCH, 0).locked()).isFalse();
        assertThatThrownBy(() -> new DispatchState("x", "y", -1, Instant.EPOCH, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void settingsHaveWikibasesDefaultsAndMapToTheApi() {
        assertThat(CoordinatorSettings.DEFAULTS).isEqualTo(new CoordinatorSettings(Duration.ofSeconds(60), 1000, 15));
        CoordinatorSettings s = CoordinatorSettings.DEFAULTS.withDispatchInterval(Duration.ofMillis(2500))
                .withBatchSize(420).withRandomness(3);
        dev.baton.client.DispatchSettings p = s.toSettings();
        assertThat(p.intervalMs()).isEqualTo(2500);
        assertThat(p.batchSize()).isEqualTo(420);
        assertThat(p.randomness()).isEqualTo(3);
        assertThatThrownBy(() -> s.withRandomness(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.withBatchSize(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.withDispatchInterval(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
