package dev.baton.client.events;

import dev.baton.client.QueueReply;
import dev.baton.client.QueueStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonInterruptedException;
import dev.baton.client.NotFoundException;
import dev.baton.client.StaleFenceException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * A work queue whose items wait for prerequisite events (ManifoldCF's job queue with
 * {@code prereqevents}): an item is handed out oldest first, to one session at a time, and never while
 * any of its prerequisite events is pending ({@link EventActivity#beginEventSequence(String)}).
 *
 * <ul>
 *   <li>{@link #enqueue} adds an item or replaces one (payload and prerequisites).</li>
 *   <li>{@link #claim(int)} claims what is claimable now; {@link #claim(int, Duration)} waits for
 *       something to become claimable.</li>
 *   <li>{@link #done(ClaimedItem)} removes a claimed item; {@link #retry(ClaimedItem)} puts it back at
 *       the end of the queue, claimable again once none of its prerequisites is pending.</li>
 * </ul>
 * Claims belong to the client's session: when the session ends, its claimed items return to their
 * places in the queue, and its pending events complete. Every claim carries a fence; done and retry
 * quote it and fail with {@link StaleFenceException} if the claim was lost.
 *
 * <p><b>Waiting.</b> Baton never holds a claim open on the server. {@link #claim(int, Duration)} claims;
 * if nothing came back it waits and claims again, until it gets items or the timeout passes. It waits
 * for a {@code QueueClaimable} announcement through {@link QueueSignals} when the client was built with
 * them ({@code onEvent(signals)}), and in any case at most a poll interval that starts at 20 ms and
 * doubles to 1 s: the announcements are hints that can be missed, and each empty claim is a small
 * replicated write, so the backoff bounds the cost of a waiting consumer to about one write a second.
 *
 * <p>Thread-safe; all threads act for the client's one session.
 */
public final class GatedQueue {
    /** The first wait between empty claims. */
    static final Duration FIRST_POLL = Duration.ofMillis(20);
    /** The longest wait between empty claims. */
    static final Duration MAX_POLL = Duration.ofSeconds(1);

    private final BatonClient client;
    private final String queue;
    private final QueueSignals signals;

    /** A queue named {@code queue}; blocked claims poll (no signals). */
    public GatedQueue(BatonClient client, String queue) {
        this(client, queue, null);
    }

    /**
     * A queue named {@code queue} whose blocked claims also wake on {@code signals}, which must be the
     * {@code onEvent} listener (or part of it) of {@code client}.
     *
     * @param signals the client's signals, or {@code null} to poll only
     */
    public GatedQueue(BatonClient client, String queue, QueueSignals signals) {
        this.client = Objects.requireNonNull(client, "client");
        this.queue = Objects.requireNonNull(queue, "queue");
        // a private, never announced instance makes the wait below a plain bounded sleep
        this.signals = signals != null ? signals : new QueueSignals();
    }

    /** The queue's name. */
    public String name() {
        return queue;
    }

    /**
     * Adds {@code item}, claimable once none of {@code prerequisites} (event names) is pending; an
     * item already in the queue gets the new payload and prerequisites and keeps its place and claim.
     * The queue is created by its first item and removed with its last.
     *
     * @param payload the item's bytes ({@code null}: empty)
     * @return true if the item was added, false if it replaced one
     */
    public boolean enqueue(String item, byte[] payload, Collection<String> prerequisites) {
        Objects.requireNonNull(item, "item");
        Objects.requireNonNull(prerequisites, "prerequisites");
        QueueReply r = client.queues().enqueue(queue, item, payload, List.copyOf(prerequisites));
        return r.status() == QueueStatus.ENQUEUED;
    }

    /**
     * Claims up to {@code max} items that are claimable now, oldest first; never waits.
     *
     * @return the claimed items, possibly none
     */
    public List<ClaimedItem> claim(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1: " + max);
        }
        QueueReply r = client.queues().claim(queue, max);
        List<ClaimedItem> out = new ArrayList<>(r.items());
        return out;
    }

    /**
     * Claims up to {@code max} items, waiting up to {@code timeout} for at least one to become
     * claimable (see the class comment for how it waits). Returns as soon as a claim gets items.
     *
     * @return the claimed items; empty if none became claimable in time
     * @throws BatonInterruptedException if the thread was interrupted while waiting (flag restored)
     */
    public List<ClaimedItem> claim(int max, Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative: " + timeout);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        Duration poll = FIRST_POLL;
        while (true) {
            long generation = signals.generation(queue); // read before the claim: see QueueSignals
            List<ClaimedItem> items = claim(max);
            long left = deadline - System.nanoTime();
            if (!items.isEmpty() || left <= 0) {
                return items;
            }
            boolean announced;
            try {
                announced = signals.await(queue, generation, min(poll, Duration.ofNanos(left)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BatonInterruptedException(e);
            }
            // after an announcement the queue is busy again: start the backoff over
            poll = announced ? FIRST_POLL : min(poll.multipliedBy(2), MAX_POLL);
        }
    }

    /**
     * Removes a claimed item for good.
     *
     * @throws StaleFenceException if the claim was lost (the session ended, or the item was already
     *                             finished); nothing changed
     * @throws NotFoundException   if the item is no longer in the queue
     */
    public void done(ClaimedItem item) {
        client.queues().done(queue, mine(item).id(), item.fence());
    }

    /**
     * Gives a claimed item back: unclaimed, at the end of the queue, claimable again at once unless a
     * prerequisite is pending (its attempt count goes up with the next claim).
     *
     * @throws StaleFenceException if the claim was lost; nothing changed
     * @throws NotFoundException   if the item is no longer in the queue
     */
    public void retry(ClaimedItem item) {
        client.queues().retry(queue, mine(item).id(), item.fence());
    }

    private ClaimedItem mine(ClaimedItem item) {
        Objects.requireNonNull(item, "item");
        if (!item.queue().equals(queue)) {
            throw new IllegalArgumentException("item " + item.id() + " belongs to queue " + item.queue()
                    + ", not " + queue);
        }
        return item;
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
