package dev.baton.core.session;

/** A session waiting in a pool key's or a lock's FIFO queue. */
public record Waiter(long session, long requestId, long waitId, long since, long deadline) {}
