package dev.baton.core.node;

import org.organicdesign.fp.collections.PersistentHashMap;

/** The address book's part of one published state (Raft endpoint → node): immutable, like the whole {@code State}. */
public record NodeData(PersistentHashMap<String, NodeState> nodes) {
    public static final NodeData EMPTY = new NodeData(PersistentHashMap.empty());
}
