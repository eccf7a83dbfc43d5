<?php
declare(strict_types=1);

namespace Baton;

/**
 * Fenced locks over a session. Replies are LockReply arrays: status (LOCK_LOCKED, LOCK_BUSY,
 * LOCK_ALREADY_HELD, LOCK_TIMEOUT, LOCK_UNLOCKED, LOCK_CANCELLED, LOCK_NOT_HELD), name, fence (a
 * string; strictly increasing per lock, quote it to whatever the lock protects).
 */
final class Locks
{
    public function __construct(private readonly Session $session)
    {
    }

    /** tryLock ($timeoutMs = 0) or a lock waiting up to $timeoutMs (a long-poll). */
    public function acquire(string $name, int $timeoutMs = 0): array
    {
        return $this->session->write('Locks', 'Acquire', ['name' => $name, 'timeoutMs' => (string) $timeoutMs],
            $this->session->client()->longPollTimeout($timeoutMs));
    }

    /** Unlocks (fence 0, or the current grant's), or cancels the session's wait. */
    public function release(string $name, string|int $fence = '0'): array
    {
        return $this->session->write('Locks', 'Release', ['name' => $name, 'fence' => Ints::toId($fence)]);
    }

    /** The lock's holder, fence and waiters. */
    public function get(string $name): array
    {
        return $this->session->client()->call('Locks', 'Get', ['name' => $name]);
    }
}
