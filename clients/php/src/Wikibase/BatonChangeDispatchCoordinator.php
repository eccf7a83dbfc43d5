<?php
declare(strict_types=1);

namespace Baton\Wikibase;

use Baton\BatonClient;
use Baton\Exception\StaleFenceException;
use Baton\Ints;
use Baton\Session;

/**
 * Wikibase's ChangeDispatchCoordinator over a Baton dispatch group, in place of the SQL one (table
 * wb_changes_dispatch plus named locks). The same mapping as Baton's Java
 * dev.baton.client.dispatch.ChangeDispatchCoordinator, so PHP and Java dispatchers can share a group:
 *
 * - initState() adds the targets not yet tracked, with cursor 0 and never touched; idempotent. When
 *   a setter (setBatchSize, setRandomness, setDispatchInterval) was called it also stores the
 *   settings in the group, replicated and shared by every coordinator of it (the last wins).
 * - selectClient() picks a target at random among the `randomness` most lagged ones that are
 *   enabled, unlocked, behind the head, and rested for the dispatch interval or lagging by more
 *   than the batch size, and locks it: one replicated step, no candidate list read from a replica.
 * - lockClient() locks a given target: its state, or false when another session holds it. A target
 *   that is not tracked is a NotFoundException (Wikibase logged an error and returned false).
 * - releaseClient() stores chd_seen, touches and unlocks, quoting the lock's fence (chd_lock): a
 *   StaleFenceException if the lock was lost meanwhile, and then nothing was stored.
 *
 * chd_lock is the fence of the lock as a string (a uint64), null when not locked; chd_seen is an int.
 * Locks belong to the session: if the process dies or its session expires they are released with
 * the cursors untouched, and the changes go out again from another dispatcher (at-least-once).
 * A cursor never moves backwards: the server keeps the higher of the stored and the released one,
 * and releaseClient() refuses a chd_seen below the one it handed out.
 *
 * Baton does not read Wikibase's changes table: the group's head (the newest change id) is raised by
 * advanceHead(), or before every selectClient() by the head provider given to setHeadProvider().
 */
final class BatonChangeDispatchCoordinator implements ChangeDispatchCoordinator
{
    public const DEFAULT_BATCH_SIZE = 1000;
    public const DEFAULT_RANDOMNESS = 15;
    public const DEFAULT_DISPATCH_INTERVAL = 60;

    private int $batchSize = self::DEFAULT_BATCH_SIZE;
    private int $randomness = self::DEFAULT_RANDOMNESS;
    private float $dispatchInterval = self::DEFAULT_DISPATCH_INTERVAL;
    private bool $settingsGiven = false;
    /** @var (callable(): int)|null */
    private $headProvider = null;
    private int $headAdvanced = -1;
    /** @var array<string, array{0:string,1:int}> site => [fence, seen] of the locks this object handed out */
    private array $granted = [];
    private ?array $lastReleased = null;

    public function __construct(private readonly Session $session, private readonly string $group)
    {
        if ($group === '') {
            throw new \InvalidArgumentException('the group name must not be empty');
        }
    }

    /**
     * A coordinator from a settings array, e.g. Wikibase's repo settings:
     * - batonEndpoints (list or comma-separated string of HTTP ports), batonToken, batonCaFile,
     *   batonSessionTtl (ms, 0 = the server's default), batonRetryFor (s)
     * - batonDispatchGroup (default: "Wikibase." + repoSiteId, else "wikibase")
     * - dispatchDefaultBatchSize, dispatchDefaultDispatchRandomness, dispatchDefaultDispatchInterval
     *   (seconds): stored in the group when given
     */
    public static function newFromSettings(array $settings): self
    {
        if (empty($settings['batonEndpoints'])) {
            throw new \InvalidArgumentException('batonEndpoints is not set');
        }
        $options = array_filter([
            'token' => $settings['batonToken'] ?? null,
            'caFile' => $settings['batonCaFile'] ?? null,
            'retryFor' => $settings['batonRetryFor'] ?? null,
        ], static fn ($v) => $v !== null);
        $client = new BatonClient($settings['batonEndpoints'], $options);
        $session = $client->openSession((int) ($settings['batonSessionTtl'] ?? 0));
        $group = $settings['batonDispatchGroup']
            ?? (isset($settings['repoSiteId']) ? 'Wikibase.' . $settings['repoSiteId'] : 'wikibase');
        $c = new self($session, (string) $group);
        if (isset($settings['dispatchDefaultBatchSize'])) {
            $c->setBatchSize((int) $settings['dispatchDefaultBatchSize']);
        }
        if (isset($settings['dispatchDefaultDispatchRandomness'])) {
            $c->setRandomness((int) $settings['dispatchDefaultDispatchRandomness']);
        }
        if (isset($settings['dispatchDefaultDispatchInterval'])) {
            $c->setDispatchInterval((float) $settings['dispatchDefaultDispatchInterval']);
        }
        return $c;
    }

    public function getGroup(): string
    {
        return $this->group;
    }

    public function getSession(): Session
    {
        return $this->session;
    }

    /** Lag above which a target is eligible without resting (default 1000). */
    public function setBatchSize(int $batchSize): void
    {
        if ($batchSize < 1) {
            throw new \InvalidArgumentException("batchSize must be at least 1: $batchSize");
        }
        $this->batchSize = $batchSize;
        $this->settingsGiven = true;
    }

    public function getBatchSize(): int
    {
        return $this->batchSize;
    }

    /** Pick at random among this many most lagged targets (default 15; 1 = strictly the most lagged). */
    public function setRandomness(int $randomness): void
    {
        if ($randomness < 1) {
            throw new \InvalidArgumentException("randomness must be at least 1: $randomness");
        }
        $this->randomness = $randomness;
        $this->settingsGiven = true;
    }

    public function getRandomness(): int
    {
        return $this->randomness;
    }

    /** Seconds a target rests after a release (default 60); sent in whole milliseconds. */
    public function setDispatchInterval(int|float $seconds): void
    {
        if ($seconds < 0) {
            throw new \InvalidArgumentException("dispatchInterval must not be negative: $seconds");
        }
        $this->dispatchInterval = (float) $seconds;
        $this->settingsGiven = true;
    }

    public function getDispatchInterval(): float
    {
        return $this->dispatchInterval;
    }

    /**
     * A callable returning the newest change id (Wikibase: max(change_id) of wb_changes); when set,
     * selectClient() raises the group's head to it first.
     *
     * @param (callable(): int)|null $headProvider
     */
    public function setHeadProvider(?callable $headProvider): void
    {
        $this->headProvider = $headProvider;
    }

    public function initState(array $clientWikiDBs): void
    {
        $this->initTargets($clientWikiDBs);
    }

    /**
     * initState() that says how many targets were added.
     *
     * @param array<string|int, string> $clientWikiDBs site id => database name
     */
    public function initTargets(array $clientWikiDBs): int
    {
        $targets = [];
        foreach ($clientWikiDBs as $site => $db) {
            // Numeric site ids are ids all the same (array keys turn them into ints).
            $targets[(string) $site] = (string) $db;
        }
        $settings = $this->settingsGiven ? [
            'intervalMs' => (int) round($this->dispatchInterval * 1000),
            'batchSize' => $this->batchSize,
            'randomness' => $this->randomness,
        ] : null;
        $r = $this->session->dispatch()->init($this->group, $targets, $settings);
        return Ints::toInt($r['value'] ?? '0');
    }

    /** Raises the group's head to $head (never lowers it); returns the head after the call. */
    public function advanceHead(int $head): int
    {
        $r = $this->session->dispatch()->advance($this->group, $head);
        $now = Ints::toInt($r['value'] ?? '0');
        $this->headAdvanced = max($this->headAdvanced, $now);
        return $now;
    }

    public function selectClient(): ?array
    {
        if ($this->headProvider !== null) {
            $head = (int) ($this->headProvider)();
            if ($head > $this->headAdvanced) {
                $this->advanceHead($head);
            }
        }
        $r = $this->session->dispatch()->select($this->group);
        if ($r['status'] === 'DISPATCH_NONE') {
            return null;
        }
        $this->expect($r, 'DISPATCH_SELECTED', 'selectClient');
        return $this->grant($r['target']);
    }

    public function lockClient(string $siteID): array|false
    {
        $r = $this->session->dispatch()->lock($this->group, $siteID);
        if ($r['status'] === 'DISPATCH_BUSY') {
            return false;
        }
        $this->expect($r, 'DISPATCH_LOCKED', 'lockClient');
        return $this->grant($r['target']);
    }

    public function releaseClient(array $state): void
    {
        $site = (string) ($state['chd_site'] ?? '');
        $fence = $state['chd_lock'] ?? null;
        if ($site === '' || $fence === null || $fence === '' || $fence === '0') {
            throw new \InvalidArgumentException("releaseClient needs a locked state (chd_site and chd_lock): " . json_encode($state));
        }
        $seen = Ints::toInt($state['chd_seen'] ?? 0);
        $granted = $this->granted[$site] ?? null;
        if ($granted !== null && $granted[0] === (string) $fence && $seen < $granted[1]) {
            throw new \InvalidArgumentException("the cursor of $site never moves backwards: $seen < {$granted[1]}");
        }
        try {
            $r = $this->session->dispatch()->release($this->group, $site, (string) $fence, $seen);
        } catch (StaleFenceException $e) {
            throw new StaleFenceException("releaseClient: target $site of group {$this->group} is no longer locked with fence $fence;"
                . " cursor $seen was not stored (another dispatcher may hold the target)",
                $e->getStatus(), $e->getGrpcCode(), $e->getBatonError(), $e->getHttpStatus(), $e->getLeader(), $e);
        }
        unset($this->granted[$site]);
        $this->expect($r, 'DISPATCH_RELEASED', 'releaseClient');
        $this->lastReleased = self::state($r['target']);
    }

    /** The target as stored by the last releaseClient() (chd_lock null), or null. */
    public function getLastReleased(): ?array
    {
        return $this->lastReleased;
    }

    /**
     * Unlocks every target of the group this session holds, cursors unchanged: recovery after a call
     * whose outcome is unknown (a selectClient() that failed with UnavailableException may have
     * locked a target). Returns how many were unlocked.
     */
    public function releaseHeld(): int
    {
        $g = $this->session->dispatch()->getGroup($this->group);
        $released = 0;
        foreach ($g['targets'] ?? [] as $t) {
            if ((string) $t['holder'] === $this->session->id() && (string) $t['fence'] !== '0') {
                try {
                    $this->session->dispatch()->release($this->group, (string) $t['id'], (string) $t['fence'], Ints::toInt($t['seen']));
                    $released++;
                } catch (StaleFenceException) {
                    // released meanwhile: nothing to do
                }
                unset($this->granted[(string) $t['id']]);
            }
        }
        return $released;
    }

    private function grant(array $target): array
    {
        $state = self::state($target);
        $this->granted[$state['chd_site']] = [(string) $state['chd_lock'], $state['chd_seen']];
        return $state;
    }

    private function expect(array $r, string $want, string $what): void
    {
        if (($r['status'] ?? null) !== $want) {
            throw new \UnexpectedValueException("$what on group {$this->group}: unexpected reply " . json_encode($r));
        }
    }

    /**
     * A Target message as Wikibase's state row.
     *
     * @return array{chd_site:string, chd_db:string, chd_seen:int, chd_touched:string, chd_lock:?string}
     */
    public static function state(array $target): array
    {
        $touchedMs = Ints::toInt($target['touched'] ?? '0');
        $fence = Ints::toId($target['fence'] ?? '0');
        return [
            'chd_site' => (string) $target['id'],
            'chd_db' => (string) ($target['name'] ?? ''),
            'chd_seen' => Ints::toInt($target['seen'] ?? '0'),
            'chd_touched' => $touchedMs === 0 ? '00000000000000' : gmdate('YmdHis', intdiv($touchedMs, 1000)),
            'chd_lock' => $fence === '0' ? null : $fence,
        ];
    }
}
