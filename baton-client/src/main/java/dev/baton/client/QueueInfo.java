package dev.baton.client;

import java.util.List;

/**
 * A queue's items.
 *
 * @param name its name
 * @param exists false if there is no such queue
 * @param ready items claimable now
 * @param items its items, oldest first
 */
public record QueueInfo(String name, boolean exists, int ready, List<QueueItem> items) {}
