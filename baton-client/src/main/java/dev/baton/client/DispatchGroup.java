package dev.baton.client;

import java.util.List;

/**
 * A dispatch group's head, settings and targets.
 *
 * @param name its name
 * @param exists false if there is no such group
 * @param head the newest change id
 * @param settings its settings, or {@code null} if it does not exist
 * @param targets its targets
 */
public record DispatchGroup(String name, boolean exists, long head, DispatchSettings settings, List<DispatchTarget> targets) {}
