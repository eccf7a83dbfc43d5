package dev.baton.client;

/**
 * The server's answer to a dispatch call.
 *
 * @param status the outcome
 * @param target the target concerned, or {@code null}
 * @param value a number whose meaning depends on the status
 */
public record DispatchReply(DispatchStatus status, DispatchTarget target, long value) {}
