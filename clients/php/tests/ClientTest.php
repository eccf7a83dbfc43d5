<?php
declare(strict_types=1);

namespace Baton\Tests;

use Baton\Exception\InvalidArgumentException;
use Baton\Exception\NotFoundException;
use Baton\Exception\SessionLostException;
use Baton\Exception\StaleFenceException;
use Baton\Ints;

/** The client's calls against a real node: sessions and every primitive, errors, long-polls, retries. */
final class ClientTest extends ServerTestCase
{
    public function testSessionOpenKeepAliveInfoClose(): void
    {
        $s = $this->session(5000);
        self::assertMatchesRegularExpression('/^[1-9]\d*$/', $s->id());
        self::assertSame(5000, $s->ttlMs());
        self::assertFalse($s->existing());
        self::assertSame(1, $s->peekRequestId());

        $events = $s->keepAlive();
        self::assertNotEmpty($events);
        self::assertSame($s->id(), (string) $events[0]['ack']['session']);

        $info = $s->info();
        self::assertSame($s->id(), (string) $info['session']);
        self::assertSame('5000', (string) $info['ttlMs']);

        $s->close();
        try {
            $s->keepAlive();
            self::fail('keep-alive of a closed session');
        } catch (SessionLostException $e) {
            self::assertSame('UNKNOWN_SESSION', $e->getBatonError());
            self::assertSame('FAILED_PRECONDITION', $e->getStatus());
            self::assertSame(400, $e->getHttpStatus());
        }
    }

    public function testOpeningWithATokenIsIdempotent(): void
    {
        $c = $this->client();
        $token = self::unique('php-token');
        $a = $c->openSession(5000, $token);
        $b = $c->openSession(5000, $token);
        self::assertSame($a->id(), $b->id());
        self::assertTrue($b->existing());
        self::assertGreaterThan(1, $b->peekRequestId());
        $a->close();
    }

    public function testTtlOutsideTheLimitsIsInvalid(): void
    {
        try {
            $this->client()->openSession(10);
            self::fail('a 10 ms TTL was accepted');
        } catch (InvalidArgumentException $e) {
            self::assertSame('INVALID_ARGUMENT', $e->getStatus());
            self::assertSame(3, $e->getGrpcCode());
            self::assertSame(400, $e->getHttpStatus());
        }
    }

    public function testPools(): void
    {
        $a = $this->session();
        $b = $this->session();
        $key = self::unique('pool');
        $r = $a->pools()->acquire($key, 1, 2);
        self::assertSame('POOL_LOCKED', $r['status']);
        self::assertSame($key, $r['key']);
        $fence = $r['fence'];
        self::assertGreaterThan(0, Ints::toInt($fence));

        // No wait: the slot is taken, B is not allowed to queue.
        self::assertSame('POOL_TIMEOUT', $b->pools()->acquire($key, 1, 2)['status']);
        // The queue is full at maxQueue holders + waiters.
        self::assertSame('POOL_QUEUE_FULL', $b->pools()->acquire($key, 1, 1, 1000)['status']);

        $info = $a->pools()->get($key);
        self::assertTrue($info['exists']);
        self::assertSame(1, (int) $info['processing']);
        self::assertSame($a->id(), (string) $info['holders'][0]['session']);

        $rel = $a->pools()->release($key, $fence);
        self::assertSame('POOL_RELEASED', $rel['status']);
        self::assertSame($fence, $rel['fence']);
        self::assertSame('POOL_NOT_LOCKED', $a->pools()->release($key)['status']);
        self::assertFalse($a->pools()->get($key)['exists']);
    }

    public function testLongPollEndsWithTheTimeoutOutcome(): void
    {
        $a = $this->session();
        $b = $this->session();
        $key = self::unique('pool');
        self::assertSame('POOL_LOCKED', $a->pools()->acquire($key, 1, 5)['status']);
        $t0 = microtime(true);
        $r = $b->pools()->acquire($key, 1, 5, 1500);
        self::assertSame('POOL_TIMEOUT', $r['status']);
        self::assertGreaterThanOrEqual(1.0, microtime(true) - $t0, 'the answer came when the wait ended');

        $lock = self::unique('lock');
        self::assertSame('LOCK_LOCKED', $a->locks()->acquire($lock)['status']);
        self::assertSame('LOCK_TIMEOUT', $b->locks()->acquire($lock, 1000)['status']);
    }

    public function testLocksAndFences(): void
    {
        $a = $this->session();
        $b = $this->session();
        $name = self::unique('lock');
        $first = $a->locks()->acquire($name);
        self::assertSame('LOCK_LOCKED', $first['status']);
        $again = $a->locks()->acquire($name);
        self::assertSame('LOCK_ALREADY_HELD', $again['status']);
        self::assertSame($first['fence'], $again['fence']);
        self::assertSame('LOCK_BUSY', $b->locks()->acquire($name)['status']);

        $info = $b->locks()->get($name);
        self::assertTrue($info['exists']);
        self::assertSame($a->id(), (string) $info['holder']);
        self::assertSame($first['fence'], $info['fence']);

        try {
            $a->locks()->release($name, Ints::toInt($first['fence']) + 1000);
            self::fail('released with a wrong fence');
        } catch (StaleFenceException $e) {
            self::assertSame('STALE_FENCE', $e->getBatonError());
            self::assertSame('FAILED_PRECONDITION', $e->getStatus());
        }
        self::assertSame('LOCK_UNLOCKED', $a->locks()->release($name, $first['fence'])['status']);
        $second = $b->locks()->acquire($name);
        self::assertSame('LOCK_LOCKED', $second['status']);
        self::assertGreaterThan(Ints::toInt($first['fence']), Ints::toInt($second['fence']), 'fences only grow');
        self::assertSame('LOCK_NOT_HELD', $a->locks()->release($name)['status']);
    }

    public function testLocksDieWithTheSessionAndAWaiterGetsThem(): void
    {
        $a = $this->session(1000); // never renewed: its lease runs out
        $b = $this->session(30000);
        $name = self::unique('lock');
        $held = $a->locks()->acquire($name);
        self::assertSame('LOCK_LOCKED', $held['status']);
        // A long-poll that ends when A's lease runs out and the lock is handed over.
        $r = $b->locks()->acquire($name, 25000);
        self::assertSame('LOCK_LOCKED', $r['status']);
        self::assertGreaterThan(Ints::toInt($held['fence']), Ints::toInt($r['fence']));
        $this->expectException(SessionLostException::class);
        $a->locks()->release($name, $held['fence']);
    }

    public function testIdempotentRetryGetsTheFirstAnswer(): void
    {
        $s = $this->session();
        $name = self::unique('event');
        $first = $s->events()->begin($name);
        self::assertSame('EVENT_BEGUN', $first['status']);
        $id = $s->lastRequestId();
        // The same request id again: the first answer, not ALREADY_PENDING, and nothing changes.
        self::assertSame($first, $s->retryLast());
        self::assertSame($id, $s->lastRequestId());
        // A new request id is a new call.
        self::assertSame('EVENT_ALREADY_PENDING', $s->events()->begin($name)['status']);

        $lock = self::unique('lock');
        $l = $s->locks()->acquire($lock);
        self::assertSame($l, $s->retryLast(), 'the retried acquire answers LOCKED with the same fence, not ALREADY_HELD');
    }

    public function testEvents(): void
    {
        $s = $this->session();
        $name = self::unique('event');
        self::assertSame('EVENT_BEGUN', $s->events()->begin($name)['status']);
        $info = $s->events()->get($name);
        self::assertTrue($info['pending']);
        self::assertSame($s->id(), (string) $info['owner']);
        self::assertContains($name, array_column($s->events()->list(), 'name'));
        self::assertSame('EVENT_COMPLETED', $s->events()->complete($name)['status']);
        self::assertFalse($s->events()->get($name)['pending']);
        self::assertSame('EVENT_NOT_PENDING', $s->events()->complete($name)['status']);
    }

    public function testQueuesGatedByEvents(): void
    {
        $s = $this->session();
        $queue = self::unique('queue');
        $gate = self::unique('event');
        self::assertSame('EVENT_BEGUN', $s->events()->begin($gate)['status']);
        $payload = "bytes \x00\xff and text";
        self::assertSame('QUEUE_ENQUEUED', $s->queues()->enqueue($queue, 'item-1', $payload, [$gate])['status']);
        self::assertSame('QUEUE_REPLACED', $s->queues()->enqueue($queue, 'item-1', $payload, [$gate])['status']);

        $none = $s->queues()->claim($queue, 10);
        self::assertSame('QUEUE_CLAIMED', $none['status']);
        self::assertSame([], $none['items'], 'gated while the event is pending');

        $s->events()->complete($gate);
        $claimed = $s->queues()->claim($queue, 10);
        self::assertCount(1, $claimed['items']);
        $item = $claimed['items'][0];
        self::assertSame('item-1', $item['item']);
        self::assertSame($payload, $item['payload']);
        self::assertSame('QUEUE_REQUEUED', $s->queues()->retry($queue, 'item-1', $item['fence'])['status']);

        $again = $s->queues()->claim($queue, 1)['items'][0];
        self::assertSame(2, (int) $again['attempts']);
        try {
            $s->queues()->done($queue, 'item-1', $item['fence']);
            self::fail('done with the first claim\'s fence');
        } catch (StaleFenceException $e) {
            self::assertSame('STALE_FENCE', $e->getBatonError());
        }
        self::assertSame('QUEUE_DONE', $s->queues()->done($queue, 'item-1', $again['fence'])['status']);
        self::assertFalse((bool) ($s->queues()->get($queue)['items'] ?? []));
    }

    public function testDispatchCalls(): void
    {
        $s = $this->session();
        $other = $this->session();
        $group = self::unique('group');
        $init = $s->dispatch()->init($group, ['a' => 'awiki', 'b' => 'bwiki'], ['intervalMs' => 0, 'batchSize' => 10, 'randomness' => 1]);
        self::assertSame('DISPATCH_INITIALIZED', $init['status']);
        self::assertSame('2', (string) $init['value']);
        self::assertSame('0', (string) $s->dispatch()->init($group, ['a' => 'awiki'])['value'], 'idempotent');

        self::assertSame('DISPATCH_NONE', $s->dispatch()->select($group)['status'], 'nothing pending at head 0');
        $adv = $s->dispatch()->advance($group, 5);
        self::assertSame('DISPATCH_ADVANCED', $adv['status']);
        self::assertSame('5', (string) $adv['value']);
        self::assertSame('5', (string) $s->dispatch()->advance($group, 3)['value'], 'the head never goes down');

        $sel = $s->dispatch()->select($group);
        self::assertSame('DISPATCH_SELECTED', $sel['status']);
        $t = $sel['target'];
        self::assertSame($s->id(), (string) $t['holder']);
        self::assertSame('DISPATCH_BUSY', $other->dispatch()->lock($group, $t['id'])['status']);
        $rel = $s->dispatch()->release($group, $t['id'], $t['fence'], 5);
        self::assertSame('DISPATCH_RELEASED', $rel['status']);
        self::assertSame('5', (string) $rel['target']['seen']);
        self::assertSame('0', (string) $rel['target']['fence']);

        $rest = $t['id'] === 'a' ? 'b' : 'a';
        self::assertSame('DISPATCH_UPDATED', $s->dispatch()->setDisabled($group, $rest, true)['status']);
        self::assertSame('DISPATCH_NONE', $s->dispatch()->select($group)['status'], 'the other one is disabled');
        $s->dispatch()->setDisabled($group, $rest, false);

        $g = $s->dispatch()->getGroup($group);
        self::assertTrue($g['exists']);
        self::assertSame('5', (string) $g['head']);
        self::assertSame('10', (string) $g['settings']['batchSize']);
        self::assertCount(2, $g['targets']);

        try {
            $s->dispatch()->select(self::unique('no-such-group'));
            self::fail('select on a missing group');
        } catch (NotFoundException $e) {
            self::assertSame('NOT_FOUND', $e->getStatus());
            self::assertSame(404, $e->getHttpStatus());
            self::assertSame(5, $e->getGrpcCode());
        }
    }

    public function testUnknownFieldsAndRoutesAreRefused(): void
    {
        $c = $this->client();
        try {
            $c->call('Locks', 'Get', ['name' => 'x', 'noSuchField' => 1]);
            self::fail('an unknown field was accepted');
        } catch (InvalidArgumentException $e) {
            self::assertSame(400, $e->getHttpStatus());
            self::assertSame('INVALID_ARGUMENT', $e->getStatus());
        }
        try {
            $c->call('Locks', 'NoSuchMethod', []);
            self::fail('an unknown method was served');
        } catch (NotFoundException $e) {
            self::assertSame(404, $e->getHttpStatus());
        }
        // The proto's snake_case names are accepted too; answers use lowerCamelCase.
        $open = $c->call('Sessions', 'Open', ['client_token' => self::unique('snake'), 'ttl_ms' => 5000]);
        self::assertSame('5000', (string) $open['ttlMs']);
        self::assertSame('1', (string) $open['nextRequestId']);
        $c->call('Sessions', 'Close', ['session' => $open['session'], 'request_id' => '1']);
        try {
            $c->call('Sessions', 'Get', ['session' => $open['session']]);
            self::fail('a closed session was found');
        } catch (SessionLostException $e) {
            self::assertSame('UNKNOWN_SESSION', $e->getBatonError());
        }
    }

    public function testInvalidArgumentsAreRefused(): void
    {
        $s = $this->session();
        try {
            $s->pools()->acquire('', 1, 1);
            self::fail('empty key accepted');
        } catch (InvalidArgumentException $e) {
            self::assertSame(400, $e->getHttpStatus());
            self::assertSame('INVALID_ARGUMENT', $e->getStatus());
        }
    }
}
