package dev.baton.bench.load;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

class KeysTest {
    private static int[] draw(Keys keys, int n) {
        int[] counts = new int[keys.count()];
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        for (int i = 0; i < n; i++) {
            counts[keys.next(rnd)]++;
        }
        return counts;
    }

    @Test
    void uniformSpreadsEvenly() {
        int[] c = draw(Keys.parse("uniform", 10), 100_000);
        for (int x : c) {
            assertThat(x).isBetween(9_000, 11_000);
        }
        assertThat(Keys.uniform(3).name(2)).isEqualTo("k2");
    }

    @Test
    void zipfFavoursTheFirstKeys() {
        Keys z = Keys.parse("zipf:1.0", 100);
        int[] c = draw(z, 200_000);
        // P(rank 1) = 1 / H(100) ~ 0.193; P(rank 2) half of that.
        assertThat(c[0] / 200_000.0).isBetween(0.18, 0.21);
        assertThat(c[1] / (double) c[0]).isBetween(0.45, 0.55);
        assertThat(c[99]).isPositive();
        assertThat(z.describe()).isEqualTo("zipf:1.0");
        assertThat(Keys.parse("zipf", 5).describe()).isEqualTo("zipf:0.99");
    }
}
