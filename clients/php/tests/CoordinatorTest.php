<?php
declare(strict_types=1);

namespace Baton\Tests;

use Baton\Exception\NotFoundException;
use Baton\Exception\StaleFenceException;
use Baton\Wikibase\BatonChangeDispatchCoordinator;
use Baton\Wikibase\ChangeDispatchCoordinator;

/** Every method of the Wikibase coordinator against a real node. */
final class CoordinatorTest extends ServerTestCase
{
    private function coordinator(string $group, int $ttlMs = 0): BatonChangeDispatchCoordinator
    {
        $c = new BatonChangeDispatchCoordinator($this->session($ttlMs), $group);
        $c->setBatchSize(3);
        $c->setRandomness(3);
        $c->setDispatchInterval(60);
        return $c;
    }

    public function testInitStateAddsUntrackedTargetsOnly(): void
    {
        $group = self::unique('wikibase');
        $c = $this->coordinator($group);
        self::assertInstanceOf(ChangeDispatchCoordinator::class, $c);
        $c->initState(['enwiki' => 'enwiki', 'dewiki' => 'dewiki', 0 => 'zerowiki']);
        self::assertSame(0, $c->initTargets(['enwiki' => 'enwiki', 'frwiki' => 'frwiki']) - 1, 'only frwiki is new');

        $g = $c->getSession()->dispatch()->getGroup($group);
        $rows = [];
        foreach ($g['targets'] as $t) {
            $rows[$t['id']] = BatonChangeDispatchCoordinator::state($t);
        }
        ksort($rows);
        self::assertSame(['0', 'dewiki', 'enwiki', 'frwiki'], array_map('strval', array_keys($rows)));
        foreach ($rows as $row) {
            self::assertSame(0, $row['chd_seen']);
            self::assertSame('00000000000000', $row['chd_touched']);
            self::assertNull($row['chd_lock']);
        }
        self::assertSame('zerowiki', $rows['0']['chd_db']);
        self::assertSame('60000', (string) $g['settings']['intervalMs']);
        self::assertSame('3', (string) $g['settings']['batchSize']);
        self::assertSame(3, (int) $g['settings']['randomness']);
    }

    public function testSelectLockReleaseAndTheCursor(): void
    {
        $group = self::unique('wikibase');
        $c = $this->coordinator($group);
        $c->initState(['enwiki' => 'enwiki', 'dewiki' => 'dewiki']);
        self::assertNull($c->selectClient(), 'nothing pending: head 0');

        $head = 23;
        $c->setHeadProvider(static fn (): int => $head);
        $state = $c->selectClient();
        self::assertNotNull($state);
        self::assertSame(['chd_site', 'chd_db', 'chd_seen', 'chd_touched', 'chd_lock'], array_keys($state));
        self::assertContains($state['chd_site'], ['enwiki', 'dewiki']);
        self::assertSame(0, $state['chd_seen']);
        self::assertIsString($state['chd_lock']);

        // Another dispatcher cannot lock it; it can lock the other one.
        $d = $this->coordinator($group);
        self::assertFalse($d->lockClient($state['chd_site']));
        $otherSite = $state['chd_site'] === 'enwiki' ? 'dewiki' : 'enwiki';
        $other = $d->lockClient($otherSite);
        self::assertIsArray($other);
        self::assertSame($otherSite, $other['chd_site']);
        self::assertSame($other, $d->lockClient($otherSite), 'locking again returns the same grant');
        self::assertNull($c->selectClient(), 'both are locked');

        $state['chd_seen'] = 23;
        $before = gmdate('YmdHis', time() - 5);
        $c->releaseClient($state);
        $stored = $c->getLastReleased();
        self::assertSame(23, $stored['chd_seen']);
        self::assertNull($stored['chd_lock']);
        self::assertGreaterThanOrEqual($before, $stored['chd_touched']);

        // The lock is gone: releasing again with its fence stores nothing.
        try {
            $c->releaseClient(['chd_seen' => 30] + $state);
            self::fail('released twice');
        } catch (StaleFenceException $e) {
            self::assertSame('STALE_FENCE', $e->getBatonError());
        }
        // Fresh (touched now, lag 0 <= batch size): not selected again; the cursor stayed at 23.
        self::assertNull($c->selectClient());

        // A cursor never moves backwards: the server keeps the higher one.
        $again = $c->lockClient($state['chd_site']);
        self::assertSame(23, $again['chd_seen']);
        self::assertGreaterThan((int) $state['chd_lock'], (int) $again['chd_lock'], 'a new fence');
        try {
            $c->releaseClient(['chd_seen' => 10] + $again);
            self::fail('moved a cursor backwards');
        } catch (\InvalidArgumentException) {
            // refused before it was sent
        }
        $c->releaseClient($again);
        self::assertSame(23, $c->getLastReleased()['chd_seen']);

        $d->releaseClient(['chd_seen' => 2] + $other);
        self::assertSame(2, $d->getLastReleased()['chd_seen']);
    }

    public function testLagAboveTheBatchSizeNeedsNoRest(): void
    {
        $group = self::unique('wikibase');
        $c = $this->coordinator($group);
        $c->initState(['a' => 'awiki']);
        $c->advanceHead(10);
        $s = $c->selectClient();
        $c->releaseClient(['chd_seen' => 3] + $s);
        // Lag 7 > batch size 3: eligible at once despite the 60 s interval.
        $s = $c->selectClient();
        self::assertSame(3, $s['chd_seen']);
        $c->releaseClient(['chd_seen' => 8] + $s);
        self::assertNull($c->selectClient(), 'lag 2 <= 3 and touched just now');
    }

    public function testReleaseHeldAndUnknownTargets(): void
    {
        $group = self::unique('wikibase');
        $c = $this->coordinator($group);
        $c->initState(['a' => 'awiki', 'b' => 'bwiki']);
        $c->advanceHead(5);
        self::assertIsArray($c->selectClient());
        self::assertIsArray($c->selectClient());
        self::assertSame(2, $c->releaseHeld());
        self::assertSame(0, $c->releaseHeld());

        try {
            $c->lockClient('nosuchwiki');
            self::fail('locked a target that is not tracked');
        } catch (NotFoundException $e) {
            self::assertSame('NOT_FOUND', $e->getStatus());
        }
        $this->expectException(\InvalidArgumentException::class);
        $c->releaseClient(['chd_site' => 'a', 'chd_db' => 'awiki', 'chd_seen' => 5, 'chd_touched' => '00000000000000', 'chd_lock' => null]);
    }

    public function testLocksDieWithTheSession(): void
    {
        $group = self::unique('wikibase');
        $dead = $this->coordinator($group, 1000); // never renewed
        $dead->initState(['a' => 'awiki']);
        $dead->advanceHead(5);
        $held = $dead->selectClient();
        self::assertSame('a', $held['chd_site']);

        $live = $this->coordinator($group, 30000);
        $deadline = microtime(true) + 30;
        while (($state = $live->lockClient('a')) === false) {
            self::assertLessThan($deadline, microtime(true), 'the dead session\'s lock was never released');
            usleep(100000);
        }
        self::assertSame(0, $state['chd_seen'], 'the cursor stayed where it was');
        self::assertGreaterThan((int) $held['chd_lock'], (int) $state['chd_lock']);
        $live->releaseClient(['chd_seen' => 5] + $state);
    }

    public function testNewFromSettings(): void
    {
        $c = BatonChangeDispatchCoordinator::newFromSettings([
            'batonEndpoints' => self::endpoints(),
            'repoSiteId' => 'wikidatawiki',
            'dispatchDefaultBatchSize' => 420,
            'dispatchDefaultDispatchInterval' => 25,
        ]);
        self::assertSame('Wikibase.wikidatawiki', $c->getGroup());
        self::assertSame(420, $c->getBatchSize());
        self::assertSame(25.0, $c->getDispatchInterval());
        self::assertSame(15, $c->getRandomness());
        $c->getSession()->close();
    }
}
