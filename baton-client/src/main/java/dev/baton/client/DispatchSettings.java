package dev.baton.client;

/**
 * A dispatch group's settings.
 *
 * @param intervalMs how long a target rests after a dispatch
 * @param batchSize changes per batch
 * @param randomness how many of the most lagged targets selection picks among
 */
public record DispatchSettings(long intervalMs, long batchSize, int randomness) {}
