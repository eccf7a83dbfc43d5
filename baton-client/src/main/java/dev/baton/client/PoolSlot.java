package dev.baton.client;

/**
 * A pool slot a session holds or waits for.
 *
 * @param key the pool key
 * @param state {@code held} or {@code waiting}
 * @param id the slot's fence
 * @param requestId the request that made it
 * @param since since when (ms since the epoch)
 */
public record PoolSlot(String key, String state, long id, long requestId, long since) {}
