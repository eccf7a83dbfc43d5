package dev.baton.client;

import java.util.List;

/**
 * An item in a queue.
 *
 * @param id its id
 * @param seq its position
 * @param payload its bytes
 * @param prerequisites the events it waits for
 * @param pendingPrerequisites how many of them are pending
 * @param claimedBy the claiming session, 0 if none
 * @param fence the claim's fence
 * @param attempts how often it was claimed
 * @param enqueuedAt when it was enqueued (ms since the epoch)
 */
public record QueueItem(String id, long seq, byte[] payload, List<String> prerequisites, int pendingPrerequisites, long claimedBy, long fence, int attempts, long enqueuedAt) {}
