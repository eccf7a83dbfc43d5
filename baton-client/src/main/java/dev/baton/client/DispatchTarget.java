package dev.baton.client;

/**
 * A dispatch target (a client wiki, in Wikibase's terms).
 *
 * @param group its group
 * @param id its id (site id)
 * @param name its name (database name)
 * @param seen the newest change id dispatched to it
 * @param touched when it was last dispatched (ms since the epoch)
 * @param disabled excluded from selection
 * @param holder the session that has it locked, 0 if none
 * @param fence the lock's fence, 0 if none
 */
public record DispatchTarget(String group, String id, String name, long seen, long touched, boolean disabled, long holder, long fence) {}
