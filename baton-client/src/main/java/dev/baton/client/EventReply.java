package dev.baton.client;

/**
 * The server's answer to an event call.
 *
 * @param status the outcome
 * @param name the event's name
 */
public record EventReply(EventStatus status, String name) {}
