<?php
declare(strict_types=1);

namespace Baton\Tests;

use Baton\BatonClient;
use Baton\Exception\BatonException;
use Baton\Exception\UnavailableException;
use PHPUnit\Framework\TestCase;

/**
 * The client's HTTP behaviour against scripted stand-ins for nodes (`php -S` with
 * fixtures/fake-node.php): headers, fail-over to the next node, the leader hint, and the same
 * request (same request id) sent again after an unknown outcome. Needs no Baton node.
 */
final class FakeNodeTest extends TestCase
{
    private static string $dir;
    /** @var list<resource> */
    private static array $servers = [];
    /** @var list<int> */
    private static array $ports = [];

    public static function setUpBeforeClass(): void
    {
        self::$dir = sys_get_temp_dir() . '/baton-fake-node-' . getmypid() . '-' . bin2hex(random_bytes(4));
        mkdir(self::$dir);
        for ($i = 0; $i < 3; $i++) {
            $port = self::freePort();
            $proc = proc_open([PHP_BINARY, '-S', "127.0.0.1:$port", __DIR__ . '/fixtures/fake-node.php'],
                [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
                $pipes, null, ['FAKE_NODE_DIR' => self::$dir]);
            self::$servers[] = $proc;
            self::$ports[] = $port;
        }
        foreach (self::$ports as $port) {
            $deadline = microtime(true) + 30;
            while (!($s = @fsockopen('127.0.0.1', $port, $errno, $error, 0.2))) {
                if (microtime(true) > $deadline) {
                    self::fail("the fake node on $port did not start");
                }
                usleep(20000);
            }
            fclose($s);
        }
    }

    public static function tearDownAfterClass(): void
    {
        foreach (self::$servers as $proc) {
            proc_terminate($proc);
            proc_close($proc);
        }
        array_map('unlink', glob(self::$dir . '/*') ?: []);
        @rmdir(self::$dir);
    }

    protected function setUp(): void
    {
        array_map('unlink', glob(self::$dir . '/*') ?: []);
    }

    /** @param list<array{status:int, body:string}> $answers */
    private static function script(int $port, array $answers): void
    {
        file_put_contents(self::$dir . "/$port.json", json_encode($answers));
    }

    /** @return list<array<string, mixed>> */
    private static function requests(): array
    {
        $f = self::$dir . '/requests.jsonl';
        if (!is_file($f)) {
            return [];
        }
        return array_map(static fn (string $l) => json_decode($l, true), file($f, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES));
    }

    private static function unavailable(?string $leader = null): array
    {
        $body = ['code' => 14, 'status' => 'UNAVAILABLE', 'error' => 'NOT_LEADER', 'message' => 'no leader'];
        if ($leader !== null) {
            $body['leader'] = $leader;
        }
        return ['status' => 503, 'body' => json_encode($body)];
    }

    public function testRequestShapeAndToken(): void
    {
        [$a] = self::$ports;
        self::script($a, [['status' => 200, 'body' => '{"session":"18446744073709551615","ttlMs":"10000","existing":false,"nextRequestId":"1"}']]);
        $c = new BatonClient("127.0.0.1:$a", ['token' => 's3cret']);
        $s = $c->openSession(10000, 'tok');
        self::assertSame('18446744073709551615', $s->id(), 'a uint64 id survives as a string');
        $s->locks()->acquire('x', 2500);
        $r = self::requests();
        self::assertCount(2, $r);
        self::assertSame('/v1/Sessions/Open', $r[0]['path']);
        self::assertSame('POST', $r[0]['method']);
        self::assertSame('Bearer s3cret', $r[0]['authorization']);
        self::assertSame('application/json', $r[0]['contentType']);
        self::assertSame(['clientToken' => 'tok', 'ttlMs' => '10000'], json_decode($r[0]['body'], true));
        self::assertSame('/v1/Locks/Acquire', $r[1]['path']);
        self::assertSame(['session' => '18446744073709551615', 'requestId' => '1', 'name' => 'x', 'timeoutMs' => '2500'],
            json_decode($r[1]['body'], true));
    }

    public function testUnavailableGoesToTheNextNodeWithTheSameRequest(): void
    {
        [$a, $b] = self::$ports;
        self::script($a, [self::unavailable()]);
        self::script($b, [['status' => 200, 'body' => '{"status":"EVENT_BEGUN","name":"e"}']]);
        $c = new BatonClient(["127.0.0.1:$a", "127.0.0.1:$b"]);
        $answer = $c->call('Events', 'Begin', ['session' => '7', 'requestId' => '12', 'name' => 'e']);
        self::assertSame('EVENT_BEGUN', $answer['status']);
        $r = self::requests();
        self::assertSame([$a, $b], array_column($r, 'port'));
        self::assertSame($r[0]['body'], $r[1]['body'], 'the retry is the same request, with the same request id');
        self::assertSame(1, $c->unansweredAttempts());
        self::assertSame("http://127.0.0.1:$b", $c->currentEndpoint(), 'the node that answered is kept');
    }

    public function testAnUnreachableNodeIsSkipped(): void
    {
        [$a] = self::$ports;
        $dead = self::freePort();
        $c = new BatonClient(["127.0.0.1:$dead", "127.0.0.1:$a"], ['connectTimeout' => 1]);
        self::assertSame([], $c->call('Admin', 'Status'));
        self::assertSame([$a], array_column(self::requests(), 'port'));
    }

    public function testTheLeaderHintIsFollowedWhenOneEndpointIsOnItsHost(): void
    {
        [$a, $b, $l] = self::$ports;
        self::script($a, [self::unavailable('localhost:7530')]);
        $c = new BatonClient(["127.0.0.1:$a", "127.0.0.1:$b", "localhost:$l"]);
        $c->call('Admin', 'Status');
        self::assertSame([$a, $l], array_column(self::requests(), 'port'), 'straight to the only endpoint on the leader\'s host');
    }

    public function testRetriesEndWithTheLastFailure(): void
    {
        [$a] = self::$ports;
        self::script($a, array_fill(0, 50, self::unavailable()));
        $c = new BatonClient("127.0.0.1:$a", ['retryFor' => 0.2]);
        try {
            $c->call('Admin', 'Status');
            self::fail('no exception');
        } catch (UnavailableException $e) {
            self::assertSame(503, $e->getHttpStatus());
            self::assertSame('NOT_LEADER', $e->getBatonError());
        }
        self::assertGreaterThan(1, count(self::requests()), 'tried again before giving up');
    }

    public function testRefusalsAreNotRetried(): void
    {
        [$a, $b] = self::$ports;
        self::script($a, [['status' => 400, 'body' => '{"code":9,"status":"FAILED_PRECONDITION","error":"STALE_FENCE","message":"m"}']]);
        $c = new BatonClient(["127.0.0.1:$a", "127.0.0.1:$b"]);
        try {
            $c->call('Locks', 'Release', ['session' => '1', 'requestId' => '3', 'name' => 'x', 'fence' => '9']);
            self::fail('no exception');
        } catch (BatonException $e) {
            self::assertSame('STALE_FENCE', $e->getBatonError());
        }
        self::assertCount(1, self::requests());
    }

    public function testAnAnswerThatIsNotJsonIsAnError(): void
    {
        [$a] = self::$ports;
        self::script($a, [['status' => 200, 'body' => 'not json']]);
        $this->expectException(BatonException::class);
        (new BatonClient("127.0.0.1:$a"))->call('Admin', 'Status');
    }

    private static function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($s, false);
        fclose($s);
        return (int) substr($name, strrpos($name, ':') + 1);
    }
}
