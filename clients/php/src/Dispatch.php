<?php
declare(strict_types=1);

namespace Baton;

/**
 * Dispatch groups over a session (the calls under Wikibase\BatonChangeDispatchCoordinator).
 * Replies are DispatchReply arrays: status (DISPATCH_INITIALIZED, DISPATCH_ADVANCED,
 * DISPATCH_SELECTED, DISPATCH_NONE, DISPATCH_LOCKED, DISPATCH_BUSY, DISPATCH_RELEASED,
 * DISPATCH_UPDATED), target (group, id, name, seen, touched, disabled, holder, fence; 64-bit values
 * as strings), value.
 */
final class Dispatch
{
    public function __construct(private readonly Session $session)
    {
    }

    /**
     * Creates the group if needed and adds the targets it does not track yet (cursor 0).
     *
     * @param array<string, string> $targets target id => name (Wikibase: site id => database name)
     * @param array{intervalMs?:int, batchSize?:int, randomness?:int}|null $settings null keeps the
     *        group's settings (a new group gets 60000 ms, 1000, 15)
     */
    public function init(string $group, array $targets, ?array $settings = null): array
    {
        $map = new \stdClass();
        foreach ($targets as $id => $name) {
            $map->{(string) $id} = (string) $name;
        }
        $request = ['group' => $group, 'targets' => $map];
        if ($settings !== null) {
            $request['settings'] = [
                'intervalMs' => (string) ($settings['intervalMs'] ?? 60000),
                'batchSize' => (string) ($settings['batchSize'] ?? 1000),
                'randomness' => (int) ($settings['randomness'] ?? 15),
            ];
        }
        return $this->session->write('Dispatch', 'Init', $request);
    }

    /** Raises the group's head (the newest change id); never lowers it. */
    public function advance(string $group, int $head): array
    {
        return $this->session->write('Dispatch', 'Advance', ['group' => $group, 'head' => (string) $head]);
    }

    /** Picks a stale target at random among the most lagged and locks it (DISPATCH_SELECTED or DISPATCH_NONE). */
    public function select(string $group): array
    {
        return $this->session->write('Dispatch', 'Select', ['group' => $group]);
    }

    /** Locks a given target (DISPATCH_LOCKED, or DISPATCH_BUSY if another session holds it). */
    public function lock(string $group, string $target): array
    {
        return $this->session->write('Dispatch', 'Lock', ['group' => $group, 'target' => $target]);
    }

    /** Stores the cursor (never lower than the stored one), touches and unlocks, quoting the lock's fence. */
    public function release(string $group, string $target, string|int $fence, int $newSeen): array
    {
        return $this->session->write('Dispatch', 'Release', [
            'group' => $group, 'target' => $target, 'fence' => Ints::toId($fence), 'newSeen' => (string) $newSeen,
        ]);
    }

    public function setDisabled(string $group, string $target, bool $disabled): array
    {
        return $this->session->write('Dispatch', 'SetDisabled', ['group' => $group, 'target' => $target, 'disabled' => $disabled]);
    }

    /** The group: exists, head, settings, targets. */
    public function getGroup(string $group): array
    {
        return $this->session->client()->call('Dispatch', 'GetGroup', ['group' => $group]);
    }
}
