package dev.baton.client;

import java.util.List;
import java.util.Map;

/**
 * What a session holds and waits for.
 *
 * @param session its id
 * @param clientToken the token it was opened with
 * @param ttlMs its lease
 * @param openedAt when it was opened (ms since the epoch)
 * @param poolSlots its pool slots
 * @param locksHeld lock name to fence
 * @param lockWaits the locks it waits for
 * @param dispatchTargets the dispatch targets it has locked
 * @param events the events it owns
 * @param claimedItems the queue items it has claimed
 */
public record SessionInfo(long session, String clientToken, long ttlMs, long openedAt, List<PoolSlot> poolSlots, Map<String, Long> locksHeld, List<String> lockWaits, List<String> dispatchTargets, List<String> events, List<String> claimedItems) {}
