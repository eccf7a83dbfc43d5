package dev.baton.client.events;

import dev.baton.client.BatonEvent;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Wakes {@link GatedQueue#claim(int, Duration) blocked claims} when a queue becomes claimable.
 *
 * <p>Baton announces every queue that gets a claimable item (a new item, a retried one, one whose
 * last pending prerequisite completed) as a {@code QueueClaimable} event on every session's keep-alive
 * stream, and {@link dev.baton.client.BatonClient} hands those events to the listener given to its
 * builder's {@code onEvent}. A facade cannot add itself to a built client, so pass this object there:
 *
 * <pre>{@code
 * QueueSignals signals = new QueueSignals();
 * BatonClient baton = BatonClient.builder().endpoints(...).onEvent(signals).build();
 * GatedQueue fetches = new GatedQueue(baton, "fetch", signals);
 * }</pre>
 *
 * ({@code signals.andThen(myListener)} keeps a listener of your own.) The events are hints: the
 * server drops them for a client that is not reading, and they can be missed across a fail-over, so a
 * blocked claim also polls, with a bounded backoff. Without signals it only polls.
 *
 * <p>Each queue has a generation, bumped by each announcement; a claimer reads it before a claim that
 * came back empty and waits for it to change, so an announcement between the two is not missed.
 */
public final class QueueSignals implements Consumer<BatonEvent> {
    private final Map<String, Long> generations = new HashMap<>();

    /** Creates signals no queue has been announced on yet. */
    public QueueSignals() {}

    /** Takes an event from the client's stream; only {@code QueueClaimable} events matter. */
    @Override
    public void accept(BatonEvent event) {
        if (event instanceof BatonEvent.QueueClaimable q) {
            announce(q.queue());
        }
    }

    /** Records that {@code queue} has claimable items, waking whoever waits for it. */
    public synchronized void announce(String queue) {
        generations.merge(Objects.requireNonNull(queue, "queue"), 1L, Long::sum);
        notifyAll();
    }

    /** How many times {@code queue} was announced so far. */
    public synchronized long generation(String queue) {
        return generations.getOrDefault(Objects.requireNonNull(queue, "queue"), 0L);
    }

    /**
     * Waits until {@code queue}'s generation differs from {@code seen}, or {@code timeout} has passed.
     *
     * @return true if the queue was announced since {@code seen}
     */
    public synchronized boolean await(String queue, long seen, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (generation(queue) == seen) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            // wait(millis, nanos) in whole milliseconds, at least one
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }
}
