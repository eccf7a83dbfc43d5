package dev.baton.core.session;

/** What a deadline belongs to: a wait on a pool key or on a lock. */
public record WaitRef(boolean lock, long session, String key) {}
