<?php
declare(strict_types=1);

namespace Baton\Tests;

use Baton\BatonClient;
use Baton\Session;
use PHPUnit\Framework\TestCase;

/**
 * Tests against a real Baton node: its HTTP port(s) in BATON_HTTP_ENDPOINTS. Without it these tests
 * are skipped, unless BATON_REQUIRE_SERVER=1 (as the Maven module sets it), when they fail.
 */
abstract class ServerTestCase extends TestCase
{
    /** @var list<Session> */
    private array $opened = [];

    protected static function endpoints(): string
    {
        $e = (string) getenv('BATON_HTTP_ENDPOINTS');
        if ($e === '') {
            if (getenv('BATON_REQUIRE_SERVER') === '1') {
                self::fail('BATON_HTTP_ENDPOINTS is not set');
            }
            self::markTestSkipped('no Baton node: set BATON_HTTP_ENDPOINTS to its HTTP port(s)');
        }
        return $e;
    }

    protected function client(array $options = []): BatonClient
    {
        return new BatonClient(self::endpoints(), $options + ['retryFor' => 30.0]);
    }

    protected function session(int $ttlMs = 0): Session
    {
        $s = $this->client()->openSession($ttlMs);
        $this->opened[] = $s;
        return $s;
    }

    /** A name no other test (or earlier run on the same node) uses. */
    protected static function unique(string $prefix): string
    {
        return $prefix . '-' . bin2hex(random_bytes(6));
    }

    protected function tearDown(): void
    {
        foreach ($this->opened as $s) {
            try {
                $s->close();
            } catch (\Throwable) {
                // already gone: some tests end their sessions on purpose
            }
        }
        $this->opened = [];
    }
}
