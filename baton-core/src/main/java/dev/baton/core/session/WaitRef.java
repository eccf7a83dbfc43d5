package dev.baton.core.session;

/**
 * What a deadline belongs to: a wait of {@code session} on {@code key} (a pool key, a lock name),
 * and the {@link Participant#name() name} of the participant that times it out. Derived state:
 * rebuilt from the waiters on recovery, never written to a snapshot.
 */
public record WaitRef(String owner, long session, String key) {}
