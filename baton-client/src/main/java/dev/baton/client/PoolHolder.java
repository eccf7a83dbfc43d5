package dev.baton.client;

/**
 * A session holding a pool slot.
 *
 * @param session the holding session
 * @param fence the slot's fence
 * @param since when it was granted (ms since the epoch, leader's clock)
 */
public record PoolHolder(long session, long fence, long since) {}
