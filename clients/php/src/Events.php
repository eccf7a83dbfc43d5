<?php
declare(strict_types=1);

namespace Baton;

/**
 * Events over a session (ManifoldCF's prerequisite events). Replies are EventReply arrays: status
 * (EVENT_BEGUN, EVENT_ALREADY_PENDING, EVENT_COMPLETED, EVENT_NOT_PENDING), name.
 */
final class Events
{
    public function __construct(private readonly Session $session)
    {
    }

    public function begin(string $name): array
    {
        return $this->session->write('Events', 'Begin', ['name' => $name]);
    }

    public function complete(string $name): array
    {
        return $this->session->write('Events', 'Complete', ['name' => $name]);
    }

    /** name, pending, owner, since. */
    public function get(string $name): array
    {
        return $this->session->client()->call('Events', 'Get', ['name' => $name]);
    }

    /** @return list<array<string, mixed>> every pending event */
    public function list(): array
    {
        return $this->session->client()->call('Events', 'List', [])['events'] ?? [];
    }
}
