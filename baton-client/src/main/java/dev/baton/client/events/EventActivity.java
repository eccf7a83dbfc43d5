package dev.baton.client.events;

import dev.baton.client.EventReply;
import dev.baton.client.EventStatus;
import dev.baton.client.BatonClient;
import dev.baton.client.NotFoundException;
import dev.baton.client.StaleFenceException;

import java.util.Objects;

/**
 * ManifoldCF's {@code IEventActivity} over Baton: named events that are either pending (begun, with
 * one owner) or completed, used to serialise work such as fetching a host's robots.txt or logging in,
 * while the documents that depend on it wait in a {@link GatedQueue}.
 *
 * <ul>
 *   <li>{@link #beginEventSequence(String)} makes an event pending; false if it already is (another
 *       thread or process is handling it, and the caller should give up the current document).</li>
 *   <li>{@link #completeEventSequence(String)} completes it, whoever began it; idempotent.</li>
 *   <li>{@link #retryDocumentProcessing(ClaimedItem)} gives up the current document for sequencing
 *       reasons and requeues it at once, to be claimed again when its prerequisites allow.</li>
 * </ul>
 *
 * <p>An event is owned by the session of the client that began it. ManifoldCF completes a process's
 * pending events only when the crawler restarts; Baton completes them as soon as the owner's session
 * ends (closed, or expired after its TTL), so a crashed worker never leaves documents gated.
 *
 * <p>Thread-safe; all threads act for the client's one session.
 */
public final class EventActivity {
    private final BatonClient client;

    /** Events begun through this object are owned by {@code client}'s session. */
    public EventActivity(BatonClient client) {
        this.client = Objects.requireNonNull(client, "client");
    }

    /**
     * Makes event {@code eventName} pending, owned by this session: items that name it as a
     * prerequisite stop being handed out until it completes.
     *
     * @return true if this caller began it and is the only one handling it; false if it was already
     *         pending (ManifoldCF: "the connector should abort processing of the current document")
     */
    public boolean beginEventSequence(String eventName) {
        Objects.requireNonNull(eventName, "eventName");
        EventReply r = client.events().begin(eventName);
        return r.status() == EventStatus.BEGUN;
    }

    /**
     * Completes event {@code eventName} (done or abandoned), making the items it gated claimable
     * again. Like ManifoldCF it does not check who began the event, and completing an event that is
     * not pending does nothing. Call it on every exit path of the work the event guards.
     */
    public void completeEventSequence(String eventName) {
        Objects.requireNonNull(eventName, "eventName");
        client.events().complete(eventName);
    }

    /**
     * Gives up processing {@code document} for sequencing reasons and requeues it (ManifoldCF's
     * {@code retryDocumentProcessing}): in Baton, a queue retry. The item is unclaimed at once and put
     * at the end of its queue, claimable again as soon as none of its prerequisite events is pending
     * (at once if none is), with no delay. The claim ends here: do not also call done or retry on it.
     *
     * @throws StaleFenceException if the claim was lost already (ManifoldCF's "multiple document
     *                             dispositions not allowed"); nothing changed
     * @throws NotFoundException   if the item is no longer in its queue
     */
    public void retryDocumentProcessing(ClaimedItem document) {
        Objects.requireNonNull(document, "document");
        client.queues().retry(document.queue(), document.id(), document.fence());
    }

    /** True if event {@code eventName} is pending now (a linearizable read). */
    public boolean isPending(String eventName) {
        Objects.requireNonNull(eventName, "eventName");
        return client.events().get(eventName).pending();
    }
}
