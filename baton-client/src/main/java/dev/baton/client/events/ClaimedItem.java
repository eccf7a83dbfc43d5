package dev.baton.client.events;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * A queue item claimed by this client's session. Finish it with {@link GatedQueue#done(ClaimedItem)}
 * or give it back with {@link GatedQueue#retry(ClaimedItem)}
 * ({@link EventActivity#retryDocumentProcessing(ClaimedItem)}); both quote its fence, so a claimer
 * whose session ended (and whose item went back to the queue and to someone else) cannot finish it.
 *
 * @param queue    the queue's name
 * @param id       the item's id
 * @param payload  the item's bytes (a copy is kept and handed out)
 * @param fence    the fence of this claim
 * @param attempts how many times the item has been claimed, this claim included
 */
public record ClaimedItem(String queue, String id, byte[] payload, long fence, int attempts) {

    /** Checks and copies: names present, payload copied ({@code null} = empty), fence positive. */
    public ClaimedItem {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(id, "id");
        payload = payload == null ? new byte[0] : payload.clone();
        if (fence <= 0) {
            throw new IllegalArgumentException("a claimed item has a positive fence: " + fence);
        }
    }

    /** A copy of the item's bytes. */
    @Override
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload decoded as UTF-8. */
    public String payloadUtf8() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ClaimedItem c && queue.equals(c.queue) && id.equals(c.id) && fence == c.fence
                && attempts == c.attempts && Arrays.equals(payload, c.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(queue, id, fence, attempts, Arrays.hashCode(payload));
    }

    @Override
    public String toString() {
        return "ClaimedItem[" + queue + "/" + id + ", fence=" + fence + ", attempts=" + attempts + ", "
                + payload.length + " bytes]";
    }
}
