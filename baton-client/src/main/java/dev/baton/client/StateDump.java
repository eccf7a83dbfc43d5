package dev.baton.client;

/**
 * The whole coordination state.
 *
 * @param json deterministic JSON
 * @param appliedIndex the index it reflects
 */
public record StateDump(String json, long appliedIndex) {}
