<?php
declare(strict_types=1);

namespace Baton;

/**
 * Gated queues over a session. Replies are QueueReply arrays: status (QUEUE_ENQUEUED,
 * QUEUE_REPLACED, QUEUE_CLAIMED, QUEUE_DONE, QUEUE_REQUEUED) and items. Payloads are bytes: this
 * class sends and returns them raw (the API carries them base64-encoded).
 */
final class Queues
{
    public function __construct(private readonly Session $session)
    {
    }

    /**
     * Adds $item, claimable once every event in $prerequisites has completed (re-enqueuing replaces
     * payload and prerequisites).
     *
     * @param list<string> $prerequisites
     */
    public function enqueue(string $queue, string $item, string $payload = '', array $prerequisites = []): array
    {
        return $this->session->write('Queues', 'Enqueue', [
            'queue' => $queue, 'item' => $item, 'payload' => base64_encode($payload),
            'prerequisites' => array_values($prerequisites),
        ]);
    }

    /**
     * Claims up to $max claimable items, oldest first; never waits.
     *
     * @return array{status:string, items:list<array{queue:string,item:string,payload:string,fence:string,attempts:int}>}
     */
    public function claim(string $queue, int $max = 1): array
    {
        $r = $this->session->write('Queues', 'Claim', ['queue' => $queue, 'max' => $max]);
        $r['items'] = array_map(static function (array $i): array {
            $i['payload'] = base64_decode((string) ($i['payload'] ?? ''), true) ?: '';
            return $i;
        }, $r['items'] ?? []);
        return $r;
    }

    public function done(string $queue, string $item, string|int $fence): array
    {
        return $this->session->write('Queues', 'Done', ['queue' => $queue, 'item' => $item, 'fence' => Ints::toId($fence)]);
    }

    /** Gives a claimed item back, at the back of the queue. */
    public function retry(string $queue, string $item, string|int $fence): array
    {
        return $this->session->write('Queues', 'Retry', ['queue' => $queue, 'item' => $item, 'fence' => Ints::toId($fence)]);
    }

    /** The queue's items as stored (payloads base64-encoded, as the API sends them). */
    public function get(string $queue): array
    {
        return $this->session->client()->call('Queues', 'Get', ['queue' => $queue]);
    }
}
