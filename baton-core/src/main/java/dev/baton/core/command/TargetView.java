package dev.baton.core.command;

/**
 * A dispatch target as Wikibase's state row: {@code chd_site, chd_db, chd_seen, chd_touched,
 * chd_disabled, chd_lock}, with the lock as holder session and fence (0 when unlocked).
 */
public record TargetView(String group, String id, String name, long seen, long touched, boolean disabled,
                         long holder, long fence) {}
