package dev.baton.core.command;

/** A queue item handed to a session by a claim: quote {@code fence} in done or retry. */
public record ClaimedItem(String queue, String item, Bytes payload, long fence, int attempts) {}
