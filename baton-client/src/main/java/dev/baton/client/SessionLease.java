package dev.baton.client;

/**
 * An open session and its lease.
 *
 * @param session its id
 * @param ttlMs its lease
 */
public record SessionLease(long session, long ttlMs) {}
