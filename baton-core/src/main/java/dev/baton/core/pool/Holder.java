package dev.baton.core.pool;

/** A session holding one worker slot of a pool key. */
public record Holder(long session, long fence, long since, long requestId) {}
