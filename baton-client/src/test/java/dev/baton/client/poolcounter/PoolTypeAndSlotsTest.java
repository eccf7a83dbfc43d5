package dev.baton.client.poolcounter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Pool type configuration, MediaWiki's slot hashing and the status codes: no server needed. */
class PoolTypeAndSlotsTest {

    /** PHP: hexdec(substr(sha1($key), 0, 4)), computed independently of the code under test. */
    private static int phpFirstFourHexDigits(String key) throws Exception {
        byte[] sha1 = MessageDigest.getInstance("SHA-1").digest(key.getBytes(StandardCharsets.UTF_8));
        return Integer.parseInt(HexFormat.of().formatHex(sha1).substring(0, 4), 16);
    }

    @Test
    void slotsHashKeysLikeMediaWiki() throws Exception {
        // Known values (sha1 computed with PHP's sha1() / sha1sum):
        //   sha1("Main_Page") = 8f9e... -> 0x8f9e = 36766: % 8 = 6, % 16 = 14, % 50 = 16
        //   sha1("foo")       = 0bee... -> 0x0bee = 3054:  % 8 = 6, % 16 = 14, % 50 = 4
        //   sha1("enwiki:Special:Contributions/Example") = 004b... -> 75: % 8 = 3, % 16 = 11, % 50 = 25
        //   sha1("")          = da39... -> 0xda39 = 55865: % 8 = 1, % 16 = 9, % 50 = 15
        assertThat(PoolCounter.sha1Prefix("Main_Page")).isEqualTo("8f9e");
        assertThat(PoolCounter.hashKeyIntoSlots("FileRenderExpensive", "Main_Page", 8)).isEqualTo("FileRenderExpensive:6");
        assertThat(PoolCounter.hashKeyIntoSlots("TranslateFetchTranslators", "Main_Page", 16))
                .isEqualTo("TranslateFetchTranslators:14");
        assertThat(PoolCounter.hashKeyIntoSlots("WikiLambdaFunctionCall", "Main_Page", 50))
                .isEqualTo("WikiLambdaFunctionCall:16");
        assertThat(PoolCounter.hashKeyIntoSlots("T", "foo", 50)).isEqualTo("T:4");
        assertThat(PoolCounter.hashKeyIntoSlots("T", "enwiki:Special:Contributions/Example", 16)).isEqualTo("T:11");
        assertThat(PoolCounter.hashKeyIntoSlots("T", "", 50)).isEqualTo("T:15");
        // 65536 slots keep the whole 16-bit prefix; 1 slot puts every key in bucket 0.
        assertThat(PoolCounter.hashKeyIntoSlots("T", "Main_Page", 65536)).isEqualTo("T:36766");
        assertThat(PoolCounter.hashKeyIntoSlots("T", "Main_Page", 1)).isEqualTo("T:0");

        for (String key : List.of("a", "Main_Page", "nowait:x", "Ünïcödé/ページ", "k".repeat(600))) {
            for (int slots : new int[] {1, 7, 8, 16, 50, 1000, 65535, 65536}) {
                assertThat(PoolCounter.hashKeyIntoSlots("Type", key, slots))
                        .as("%s into %d", key, slots)
                        .isEqualTo("Type:" + (phpFirstFourHexDigits(key) % slots));
            }
        }
        assertThatThrownBy(() -> PoolCounter.hashKeyIntoSlots("T", "k", 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PoolCounter.hashKeyIntoSlots("T", "k", 65537))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void poolTypeValidatesAndReadsMediaWikiConf() {
        PoolType t = PoolType.builder().workers(2).maxQueue(100).timeoutSeconds(15).fastStale(true).build();
        assertThat(t).isEqualTo(new PoolType(2, 100, Duration.ofSeconds(15), 0, true));
        assertThat(t.timeoutSeconds()).isEqualTo(15);
        assertThat(PoolType.of(1, 5, 0)).isEqualTo(new PoolType(1, 5, Duration.ZERO, 0, false));

        assertThat(PoolType.fromConf(Map.of("class", "PoolCounter_Client", "workers", 2, "maxqueue", 100,
                "timeout", 8, "slots", 8)))
                .isEqualTo(new PoolType(2, 100, Duration.ofSeconds(8), 8, false));
        assertThat(PoolType.fromConf(Map.of("workers", 2, "maxqueue", 5, "timeout", 0.5, "fastStale", true)))
                .isEqualTo(new PoolType(2, 5, Duration.ofMillis(500), 0, true));

        assertThatThrownBy(() -> PoolType.of(0, 5, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PoolType.of(1, 0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PoolType.of(1, 1, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PoolType.builder().workers(1).maxQueue(1).slots(65537).build())
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PoolType.fromConf(Map.of("workers", 1, "maxqueue", 1, "timeout", 1, "typo", 1)))
                .hasMessageContaining("typo");
        assertThatThrownBy(() -> PoolType.fromConf(Map.of("workers", "2", "maxqueue", 1, "timeout", 1)))
                .hasMessageContaining("workers");
        assertThatThrownBy(() -> PoolType.fromConf(Map.of("workers", 2, "maxqueue", 1)))
                .hasMessageContaining("timeout");
    }

    @Test
    void statusCodesHaveMediaWikisValues() {
        assertThat(PoolCounterStatus.LOCKED.value()).isEqualTo(1);
        assertThat(PoolCounterStatus.RELEASED.value()).isEqualTo(2);
        assertThat(PoolCounterStatus.DONE.value()).isEqualTo(3);
        assertThat(PoolCounterStatus.error("x").value()).isEqualTo(-1);
        assertThat(PoolCounterStatus.NOT_LOCKED.value()).isEqualTo(-2);
        assertThat(PoolCounterStatus.QUEUE_FULL.value()).isEqualTo(-3);
        assertThat(PoolCounterStatus.TIMEOUT.value()).isEqualTo(-4);
        assertThat(PoolCounterStatus.LOCK_HELD.value()).isEqualTo(-5);
        for (PoolCounterStatus.Code c : PoolCounterStatus.Code.values()) {
            assertThat(PoolCounterStatus.Code.ofValue(c.value())).isSameAs(c);
        }
        assertThatThrownBy(() -> PoolCounterStatus.Code.ofValue(0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(PoolCounterStatus.error("boom").isOK()).isFalse();
        assertThat(PoolCounterStatus.error("boom").message()).isEqualTo("boom");
        assertThat(PoolCounterStatus.TIMEOUT.isOK()).isTrue();
        assertThat(PoolCounterStatus.QUEUE_FULL.message()).isEqualTo("pool-queuefull");
    }
}
