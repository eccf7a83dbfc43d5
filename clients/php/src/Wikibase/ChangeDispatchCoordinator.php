<?php
declare(strict_types=1);

namespace Baton\Wikibase;

/**
 * Wikibase's change dispatch coordinator, as its dispatcher uses it: decides which client wiki to
 * dispatch to next, fairly, and keeps two dispatcher processes from dispatching to the same wiki at
 * once.
 *
 * A state is the row of one client wiki:
 * - chd_site:    the client wiki's global site id (string)
 * - chd_db:      its logical database name (string)
 * - chd_seen:    the id of the last change dispatched to it (int; 0 = none yet)
 * - chd_touched: when it was last released, a MediaWiki timestamp "YYYYMMDDHHMMSS" (UTC),
 *                "00000000000000" for never
 * - chd_lock:    the lock held on it by this process, or null
 */
interface ChangeDispatchCoordinator
{
    /**
     * Selects a client wiki that needs changes and locks it.
     *
     * @return array{chd_site:string, chd_db:string, chd_seen:int, chd_touched:string, chd_lock:?string}|null
     *         the locked client's state, or null if none could be selected and locked
     */
    public function selectClient(): ?array;

    /**
     * Starts tracking the given client wikis (site id => database name) that are not tracked yet,
     * with nothing seen; tracked ones keep their state.
     *
     * @param array<string|int, string> $clientWikiDBs
     */
    public function initState(array $clientWikiDBs): void;

    /**
     * Locks the given client wiki.
     *
     * @return array{chd_site:string, chd_db:string, chd_seen:int, chd_touched:string, chd_lock:?string}|false
     *         its state, or false if another process holds it
     */
    public function lockClient(string $siteID): array|false;

    /**
     * Stores the state (its new chd_seen) and releases the client wiki's lock.
     *
     * @param array{chd_site:string, chd_db:string, chd_seen:int, chd_touched:string, chd_lock:?string} $state
     */
    public function releaseClient(array $state): void;
}
