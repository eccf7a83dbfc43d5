package dev.baton.client.dispatch;

/**
 * One change of the feed a {@link Dispatcher} dispatches (Wikibase: a row of {@code wb_changes}).
 * Ids are positive and increase along the feed; a target's cursor is the id of the last change
 * dispatched to it. Implement it with whatever the change carries.
 */
public interface Change {
    /** The change's id: positive, unique, increasing along the feed (gaps are fine). */
    long id();
}
