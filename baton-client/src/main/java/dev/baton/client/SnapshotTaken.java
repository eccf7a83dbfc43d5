package dev.baton.client;

/**
 * A snapshot taken on a node.
 *
 * @param appliedIndex the index it reflects
 */
public record SnapshotTaken(long appliedIndex) {}
