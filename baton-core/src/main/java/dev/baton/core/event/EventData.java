package dev.baton.core.event;

import org.organicdesign.fp.collections.PersistentHashMap;

/** The events' part of one published state (every pending event by name): immutable, like the whole {@code State}. */
public record EventData(PersistentHashMap<String, EventState> events) {
    public static final EventData EMPTY = new EventData(PersistentHashMap.empty());
}
