/**
 * Fair dispatch of a change feed to many targets, after Wikibase's ChangeDispatchCoordinator and
 * {@code dispatchChanges.php}: {@link dev.baton.client.dispatch.ChangeDispatchCoordinator} (the seed's
 * {@code initState}, {@code selectClient}, {@code lockClient}, {@code releaseClient} over a Baton
 * dispatch group) and {@link dev.baton.client.dispatch.Dispatcher} (the driver loop: select, read the
 * changes after the target's cursor, deliver them, release with the new cursor). See
 * {@code docs/dispatch.md}.
 */
package dev.baton.client.dispatch;
