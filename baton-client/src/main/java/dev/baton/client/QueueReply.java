package dev.baton.client;

import dev.baton.client.events.ClaimedItem;
import java.util.List;

/**
 * The server's answer to a queue call.
 *
 * @param status the outcome
 * @param items the items claimed (for {@link QueueStatus#CLAIMED})
 */
public record QueueReply(QueueStatus status, List<ClaimedItem> items) {}
