package dev.baton.core.session;

import org.organicdesign.fp.collections.PersistentHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;

/**
 * The sessions' part of one published state: immutable, like the whole {@code State}.
 *
 * @param sessions  every live session by id
 * @param tokens    client token → session id (derived: rebuilt from the sessions on recovery)
 * @param deadlines every pending wait, by deadline (derived: rebuilt from the waiters on recovery)
 */
public record SessionData(PersistentHashMap<Long, SessionState> sessions, PersistentHashMap<String, Long> tokens,
                          PersistentTreeMap<Deadline, WaitRef> deadlines) {
    public static final SessionData EMPTY =
            new SessionData(PersistentHashMap.empty(), PersistentHashMap.empty(), PersistentTreeMap.empty());
}
