<?php
declare(strict_types=1);

namespace Baton\Tests;

use Baton\BatonClient;
use Baton\Exception\AccessDeniedException;
use Baton\Exception\BatonException;
use Baton\Exception\FailedPreconditionException;
use Baton\Exception\InvalidArgumentException;
use Baton\Exception\LimitExceededException;
use Baton\Exception\NotFoundException;
use Baton\Exception\SessionLostException;
use Baton\Exception\StaleFenceException;
use Baton\Exception\UnavailableException;
use Baton\Ints;
use Baton\Wikibase\BatonChangeDispatchCoordinator;
use PHPUnit\Framework\TestCase;

/** What needs no server: encoding, error mapping, ints, the state rows. */
final class UnitTest extends TestCase
{
    public function testEmptyRequestIsTheEmptyMessage(): void
    {
        self::assertSame('{}', BatonClient::encode([]));
        self::assertSame('{"key":"a/b","prerequisites":[]}', BatonClient::encode(['key' => 'a/b', 'prerequisites' => []]));
    }

    public function testBigIntegersStayStrings(): void
    {
        $d = BatonClient::decode('{"a":18446744073709551615,"b":"18446744073709551615","c":7}');
        self::assertSame('18446744073709551615', $d['a']);
        self::assertSame('18446744073709551615', $d['b']);
        self::assertSame(7, $d['c']);
        self::assertNull(BatonClient::decode('not json'));
    }

    public function testInts(): void
    {
        self::assertSame(0, Ints::toInt('0'));
        self::assertSame(42, Ints::toInt('0042'));
        self::assertSame(PHP_INT_MAX, Ints::toInt((string) PHP_INT_MAX));
        self::assertSame('7', Ints::toId(7));
        self::assertSame('0', Ints::toId('000'));
        $this->expectException(\OverflowException::class);
        Ints::toInt('9223372036854775808');
    }

    public function testIntsRefuseNonNumbers(): void
    {
        $this->expectException(\UnexpectedValueException::class);
        Ints::toInt('-1');
    }

    /** @return array<string, array{int, string, ?string, class-string}> */
    public static function failures(): array
    {
        return [
            'stale fence' => [400, 'FAILED_PRECONDITION', 'STALE_FENCE', StaleFenceException::class],
            'unknown session' => [400, 'FAILED_PRECONDITION', 'UNKNOWN_SESSION', SessionLostException::class],
            'unknown session as not found' => [404, 'NOT_FOUND', 'UNKNOWN_SESSION', SessionLostException::class],
            'other precondition' => [400, 'FAILED_PRECONDITION', 'REQUEST_ID_TOO_OLD', FailedPreconditionException::class],
            'invalid' => [400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', InvalidArgumentException::class],
            'not found' => [404, 'NOT_FOUND', 'NOT_FOUND', NotFoundException::class],
            'limit' => [429, 'RESOURCE_EXHAUSTED', 'LIMIT_EXCEEDED', LimitExceededException::class],
            'unauthenticated' => [401, 'UNAUTHENTICATED', null, AccessDeniedException::class],
            'denied' => [403, 'PERMISSION_DENIED', null, AccessDeniedException::class],
            'unavailable' => [503, 'UNAVAILABLE', 'NOT_LEADER', UnavailableException::class],
            'deadline' => [504, 'DEADLINE_EXCEEDED', null, UnavailableException::class],
            'internal' => [500, 'INTERNAL', null, BatonException::class],
        ];
    }

    /** @dataProvider failures */
    public function testFailureMapping(int $http, string $status, ?string $error, string $class): void
    {
        $body = ['code' => BatonClient::GRPC_CODES[$status], 'status' => $status, 'message' => 'why', 'leader' => '10.0.0.2:7530'];
        if ($error !== null) {
            $body['error'] = $error;
        }
        $e = BatonClient::failure($http, $body, json_encode($body), 'Locks/Acquire');
        self::assertSame($class, get_class($e));
        self::assertSame($status, $e->getStatus());
        self::assertSame(BatonClient::GRPC_CODES[$status], $e->getGrpcCode());
        self::assertSame($error, $e->getBatonError());
        self::assertSame($http, $e->getHttpStatus());
        self::assertSame('10.0.0.2:7530', $e->getLeader());
        self::assertStringContainsString('why', $e->getMessage());
    }

    public function testBareHttpStatusWithoutBody(): void
    {
        $e = BatonClient::failure(503, null, '<html>proxy</html>', 'x');
        self::assertInstanceOf(UnavailableException::class, $e);
        self::assertSame('UNAVAILABLE', $e->getStatus());
        self::assertSame(14, $e->getCode());
    }

    public function testNoNodeIsUnavailableAfterTheRetries(): void
    {
        $port = self::closedPort();
        $c = new BatonClient(["127.0.0.1:$port", "http://127.0.0.1:$port/"], ['retryFor' => 0.3, 'connectTimeout' => 0.5]);
        self::assertSame(["http://127.0.0.1:$port", "http://127.0.0.1:$port"], $c->endpoints());
        try {
            $c->call('Admin', 'Status');
            self::fail('no exception');
        } catch (UnavailableException $e) {
            self::assertSame('UNAVAILABLE', $e->getStatus());
            self::assertSame(0, $e->getHttpStatus());
        }
    }

    public function testOptionsAreChecked(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new BatonClient('127.0.0.1:1', ['tokn' => 'x']);
    }

    public function testStateRow(): void
    {
        $row = BatonChangeDispatchCoordinator::state([
            'group' => 'g', 'id' => '0', 'name' => 'zerowiki', 'seen' => '23', 'touched' => '1393804800000',
            'disabled' => false, 'holder' => '5', 'fence' => '9',
        ]);
        self::assertSame(['chd_site' => '0', 'chd_db' => 'zerowiki', 'chd_seen' => 23,
            'chd_touched' => '20140303000000', 'chd_lock' => '9'], $row);
        $never = BatonChangeDispatchCoordinator::state(['id' => 'a', 'name' => 'b', 'seen' => '0', 'touched' => '0', 'fence' => '0']);
        self::assertSame('00000000000000', $never['chd_touched']);
        self::assertNull($never['chd_lock']);
    }

    private static function closedPort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($s, false);
        fclose($s);
        return (int) substr($name, strrpos($name, ':') + 1);
    }
}
