<?php
declare(strict_types=1);

namespace Baton;


/**
 * A Baton session: a lease that must be renewed, and the owner of everything acquired through it
 * (pool slots, locks, dispatch targets, events, claimed items). When it ends (close, or its lease
 * runs out) all of that is released.
 *
 * Every write carries the session and a request id, counted up from the one the server gave at
 * open. The client retries a write whose outcome it did not learn (no answer, UNAVAILABLE) with the
 * same request id, on any node; the server answers a repeated id with the first answer and changes
 * nothing. If the retries run out (UnavailableException), retryLast() sends the same write again
 * later, still with its id.
 *
 * PHP runs no background thread: the session is renewed by keepAlive(), which every call made
 * through this object also does first when a third of the TTL has passed since the last renewal.
 * A process that sleeps longer than that, or waits in one acquire longer than the TTL, must call
 * keepAlive() itself (or use a longer TTL).
 *
 * The session id is a string (a uint64); request ids are PHP ints.
 */
final class Session
{
    private int $nextRequestId;
    private float $renewedAt;
    private bool $closed = false;
    /** @var array{0:string,1:string,2:array<string,mixed>,3:?float}|null */
    private ?array $lastWrite = null;

    private function __construct(
        private readonly BatonClient $client,
        private readonly string $id,
        private readonly int $ttlMs,
        int $firstRequestId,
        private readonly bool $existing,
    ) {
        $this->nextRequestId = $firstRequestId;
        $this->renewedAt = microtime(true);
    }

    /**
     * Opens a session. A client token makes opening idempotent (a retry after a lost answer gets
     * the same session); without one a random token is used for the same reason.
     */
    public static function open(BatonClient $client, int $ttlMs = 0, ?string $clientToken = null): self
    {
        $clientToken ??= 'php-' . bin2hex(random_bytes(12));
        $r = $client->call('Sessions', 'Open', ['clientToken' => $clientToken, 'ttlMs' => (string) $ttlMs]);
        $first = Ints::toInt($r['nextRequestId'] ?? '1');
        return new self($client, (string) $r['session'], Ints::toInt($r['ttlMs'] ?? '0'), max(1, $first), (bool) ($r['existing'] ?? false));
    }

    /** The session id (a decimal string). */
    public function id(): string
    {
        return $this->id;
    }

    /** The lease's length in milliseconds as the server granted it. */
    public function ttlMs(): int
    {
        return $this->ttlMs;
    }

    /** True if the client token named a session that was already open. */
    public function existing(): bool
    {
        return $this->existing;
    }

    public function client(): BatonClient
    {
        return $this->client;
    }

    /** The request id the next write will carry. */
    public function peekRequestId(): int
    {
        return $this->nextRequestId;
    }

    /**
     * Renews the lease. With $waitMs > 0 the node keeps the call open up to that long, or until
     * something other than the acknowledgement happens to the session.
     *
     * @return list<array<string, mixed>> the session events (the ack, wait outcomes, the session's
     *                                    end, completed events, claimable queues)
     * @throws Exception\SessionLostException if the session is unknown or has ended
     */
    public function keepAlive(int $waitMs = 0): array
    {
        $query = $waitMs > 0 ? ['waitMs' => $waitMs] : [];
        $r = $this->client->call('Sessions', 'KeepAlive', ['session' => $this->id],
            $this->client->longPollTimeout($waitMs), $query);
        $this->renewedAt = microtime(true);
        return $r['events'] ?? [];
    }

    /** Renews the lease if a third of the TTL has passed since the last renewal. */
    public function keepAliveIfDue(): void
    {
        if ($this->ttlMs > 0 && (microtime(true) - $this->renewedAt) * 1000 >= $this->ttlMs / 3) {
            $this->keepAlive();
        }
    }

    /** Ends the session: everything it holds or waits for is released. */
    public function close(): void
    {
        if ($this->closed) {
            return;
        }
        $this->write('Sessions', 'Close', []);
        $this->closed = true;
    }

    /** The session as the server sees it (what it holds and waits for). */
    public function info(): array
    {
        return $this->client->call('Sessions', 'Get', ['session' => $this->id]);
    }

    /**
     * A write on behalf of this session: adds the session and the next request id to $request.
     *
     * @param float|null $timeout the HTTP timeout (long-polls pass their wait plus a margin)
     * @return array<string, mixed> the reply
     */
    public function write(string $service, string $method, array $request, ?float $timeout = null): array
    {
        $this->keepAliveIfDue();
        $request = ['session' => $this->id, 'requestId' => (string) $this->nextRequestId++] + $request;
        $this->lastWrite = [$service, $method, $request, $timeout];
        return $this->client->call($service, $method, $request, $timeout);
    }

    /**
     * Sends the last write again with the same request id: after an UnavailableException, to learn
     * its outcome (the first answer if it was applied, otherwise it is applied now).
     */
    public function retryLast(): array
    {
        if ($this->lastWrite === null) {
            throw new \LogicException('no write to retry');
        }
        [$service, $method, $request, $timeout] = $this->lastWrite;
        $this->keepAliveIfDue();
        return $this->client->call($service, $method, $request, $timeout);
    }

    /** The request id of the last write, or null. */
    public function lastRequestId(): ?int
    {
        return $this->lastWrite === null ? null : (int) $this->lastWrite[2]['requestId'];
    }

    public function pools(): Pools
    {
        return new Pools($this);
    }

    public function locks(): Locks
    {
        return new Locks($this);
    }

    public function dispatch(): Dispatch
    {
        return new Dispatch($this);
    }

    public function events(): Events
    {
        return new Events($this);
    }

    public function queues(): Queues
    {
        return new Queues($this);
    }
}
