package dev.baton.core.event;

/** A pending event: ManifoldCF's {@code events} row (name, owning process), with the owner being a session. */
public record EventState(String name, long owner, long since) {}
