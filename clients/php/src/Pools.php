<?php
declare(strict_types=1);

namespace Baton;

/**
 * PoolCounter pools over a session. Replies are PoolReply arrays: status (POOL_LOCKED,
 * POOL_QUEUE_FULL, POOL_TIMEOUT, POOL_DONE, POOL_LOCK_HELD, POOL_RELEASED, POOL_NOT_LOCKED), key,
 * fence (a string).
 */
final class Pools
{
    public function __construct(private readonly Session $session)
    {
    }

    /**
     * ACQ4ME (or ACQ4ANY with $forAnyone): one of $workers slots on $key, waiting up to $timeoutMs
     * (0: do not wait) while at most $maxQueue hold or wait. A waiting acquire is a long-poll: the
     * answer comes when the wait ends (LOCKED, DONE, TIMEOUT, or RELEASED when the session released
     * the key meanwhile).
     */
    public function acquire(string $key, int $workers, int $maxQueue, int $timeoutMs = 0, bool $forAnyone = false): array
    {
        return $this->session->write('Pools', 'Acquire', [
            'key' => $key, 'workers' => $workers, 'maxQueue' => $maxQueue,
            'timeoutMs' => (string) $timeoutMs, 'forAnyone' => $forAnyone,
        ], $this->session->client()->longPollTimeout($timeoutMs));
    }

    /** RELEASE: the session's newest slot, its newest on $key, or exactly the slot with $fence. */
    public function release(string $key = '', string|int $fence = '0'): array
    {
        return $this->session->write('Pools', 'Release', ['key' => $key, 'fence' => Ints::toId($fence)]);
    }

    /** The pool's holders and waiters. */
    public function get(string $key): array
    {
        return $this->session->client()->call('Pools', 'Get', ['key' => $key]);
    }
}
