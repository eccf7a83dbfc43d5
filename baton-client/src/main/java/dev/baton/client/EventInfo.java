package dev.baton.client;

/**
 * An event's state.
 *
 * @param name its name
 * @param pending whether it is pending
 * @param owner the owning session, 0 if none
 * @param since when it began (ms since the epoch)
 */
public record EventInfo(String name, boolean pending, long owner, long since) {}
