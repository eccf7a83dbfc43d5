package dev.baton.client.events;

import dev.baton.client.BatonEvent;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Signals count announcements per queue and wake waiters; claimed items copy their payload. */
class QueueSignalsTest {
    static BatonEvent claimable(String queue) {
        return new BatonEvent.QueueClaimable(queue);
    }

    @Test
    void onlyClaimableEventsOfAQueueBumpItsGeneration() {
        QueueSignals s = new QueueSignals();
        s.accept(claimable("fetch"));
        s.accept(claimable("fetch"));
        s.accept(claimable("other"));
        s.accept(new BatonEvent.EventCompleted("fetch"));
        assertThat(s.generation("fetch")).isEqualTo(2);
        assertThat(s.generation("other")).isEqualTo(1);
        assertThat(s.generation("never")).isZero();
    }

    @Test
    void awaitReturnsAtOnceForAnAnnouncementItMissedAndTimesOutWithoutOne() throws Exception {
        QueueSignals s = new QueueSignals();
        long before = s.generation("q");
        s.announce("q");
        assertThat(s.await("q", before, Duration.ofHours(1))).isTrue();
        assertThat(s.await("q", s.generation("q"), Duration.ofMillis(1))).isFalse();
    }

    @Test
    void anAnnouncementFromAnotherThreadWakesAWaiter() throws Exception {
        QueueSignals s = new QueueSignals();
        long seen = s.generation("q");
        CompletableFuture<Boolean> woke = CompletableFuture.supplyAsync(() -> {
            try {
                return s.await("q", seen, Duration.ofMinutes(5));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        s.announce("other");
        s.announce("q");
        assertThat(woke.get(60, TimeUnit.SECONDS)).isTrue(); // generous: only a hang fails it
    }

    @Test
    void claimedItemsCopyTheirPayload() {
        byte[] bytes = {1, 2, 3};
        ClaimedItem item = new ClaimedItem("q", "i", bytes, 5, 1);
        bytes[0] = 9;
        assertThat(item.payload()).containsExactly(1, 2, 3);
        item.payload()[1] = 9;
        assertThat(item.payload()).containsExactly(1, 2, 3);
        assertThat(item).isEqualTo(new ClaimedItem("q", "i", new byte[] {1, 2, 3}, 5, 1));
        assertThat(new ClaimedItem("q", "i", null, 5, 1).payloadUtf8()).isEmpty();
        assertThatThrownBy(() -> new ClaimedItem("q", "i", null, 0, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
