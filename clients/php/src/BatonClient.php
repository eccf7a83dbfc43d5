<?php
declare(strict_types=1);

namespace Baton;

use Baton\Exception\AccessDeniedException;
use Baton\Exception\BatonException;
use Baton\Exception\FailedPreconditionException;
use Baton\Exception\InvalidArgumentException;
use Baton\Exception\LimitExceededException;
use Baton\Exception\NotFoundException;
use Baton\Exception\SessionLostException;
use Baton\Exception\StaleFenceException;
use Baton\Exception\UnavailableException;

/**
 * Baton's HTTP/JSON API over curl: `POST /v1/<Service>/<Method>` with the request message as JSON.
 *
 * Endpoints are tried in turn: a node that cannot be reached, or answers UNAVAILABLE (no leader,
 * outcome unknown) or DEADLINE_EXCEEDED, is followed by the next one (or by the leader when the
 * answer named it and it is one of the endpoints), with a growing pause after each round, until
 * `retryFor` seconds have passed; then the last failure is thrown as an UnavailableException. The
 * same request body is sent every time, so a write carrying a session and request id is applied at
 * most once, and its retry gets the first answer.
 *
 * Answers are the response messages as associative arrays, every field present. 64-bit integers
 * (session ids, fences, request ids, cursors, times) arrive as strings, as the API sends them; JSON
 * numbers too large for a PHP int are also kept as strings (JSON_BIGINT_AS_STRING).
 *
 * Options (all optional):
 * - token: a bearer token (Authorization: Bearer ...)
 * - caFile: a PEM file of the CA(s) that signed the nodes' HTTPS certificates
 * - connectTimeout: seconds to wait for a TCP/TLS connection (default 2)
 * - timeout: seconds to wait for an answer to a call that does not wait (default 10)
 * - longPollMargin: seconds added to an acquire's own timeout for its HTTP timeout (default 5)
 * - retryFor: seconds to keep trying other nodes after failures that leave the outcome unknown
 *   (default 30; 0 = one attempt per endpoint)
 */
final class BatonClient
{
    /** @var list<string> base URLs, e.g. http://10.0.0.1:7532 */
    private array $endpoints;
    private int $current = 0;
    private ?string $token;
    private ?string $caFile;
    private float $connectTimeout;
    private float $timeout;
    private float $longPollMargin;
    private float $retryFor;
    /** @var array<int, \CurlHandle> one handle per endpoint, so connections are kept alive */
    private array $handles = [];
    private int $unanswered = 0;

    /**
     * @param list<string>|string $endpoints the nodes' HTTP ports: "host:port" (http), or URLs
     *                                       "http://host:port" / "https://host:port"; a string may
     *                                       list several, separated by commas
     * @param array<string, mixed> $options see the class comment
     */
    public function __construct(array|string $endpoints, array $options = [])
    {
        if (is_string($endpoints)) {
            $endpoints = explode(',', $endpoints);
        }
        $list = [];
        foreach ($endpoints as $e) {
            $e = trim((string) $e);
            if ($e === '') {
                continue;
            }
            $list[] = self::baseUrl($e);
        }
        if ($list === []) {
            throw new \InvalidArgumentException('at least one endpoint is needed');
        }
        $unknown = array_diff(array_keys($options), ['token', 'caFile', 'connectTimeout', 'timeout', 'longPollMargin', 'retryFor']);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('unknown option(s): ' . implode(', ', $unknown));
        }
        $this->endpoints = $list;
        $this->token = isset($options['token']) && $options['token'] !== '' ? (string) $options['token'] : null;
        $this->caFile = isset($options['caFile']) && $options['caFile'] !== '' ? (string) $options['caFile'] : null;
        $this->connectTimeout = (float) ($options['connectTimeout'] ?? 2.0);
        $this->timeout = (float) ($options['timeout'] ?? 10.0);
        $this->longPollMargin = (float) ($options['longPollMargin'] ?? 5.0);
        $this->retryFor = (float) ($options['retryFor'] ?? 30.0);
        if ($this->caFile !== null && !is_readable($this->caFile)) {
            throw new \InvalidArgumentException("caFile {$this->caFile} is not readable");
        }
    }

    /** @return list<string> the endpoints' base URLs */
    public function endpoints(): array
    {
        return $this->endpoints;
    }

    /**
     * How many attempts so far ended without a usable answer (no connection, timeout,
     * UNAVAILABLE) and were tried again or given up: a measure of fail-overs.
     */
    public function unansweredAttempts(): int
    {
        return $this->unanswered;
    }

    /** The base URL the next call goes to first (the last one that answered). */
    public function currentEndpoint(): string
    {
        return $this->endpoints[$this->current];
    }

    /**
     * Opens a session with a lease of $ttlMs (0: the server's default). Keep it alive with
     * Session::keepAlive() at least every ttl/3 (Session does so before a call when one is due).
     */
    public function openSession(int $ttlMs = 0, ?string $clientToken = null): Session
    {
        return Session::open($this, $ttlMs, $clientToken);
    }

    /** The HTTP timeout of a call that may wait $waitMs on the server: the wait plus the margin. */
    public function longPollTimeout(int $waitMs): float
    {
        return max($this->timeout, $waitMs / 1000.0 + $this->longPollMargin);
    }

    /**
     * One call: POST /v1/$service/$method with $request as JSON; the answer decoded.
     *
     * @param array<string, mixed> $request the request message (lowerCamelCase field names)
     * @param float|null $timeout seconds for the answer (default: the client's timeout)
     * @param array<string, scalar> $query query parameters (e.g. waitMs of Sessions/KeepAlive)
     * @return array<string, mixed>
     * @throws BatonException the refusal, or UnavailableException when no answer was learned
     */
    public function call(string $service, string $method, array $request = [], ?float $timeout = null, array $query = []): array
    {
        $body = self::encode($request);
        $path = '/v1/' . rawurlencode($service) . '/' . rawurlencode($method)
            . ($query === [] ? '' : '?' . http_build_query($query));
        $what = "$service/$method";
        $deadline = microtime(true) + $this->retryFor;
        $pause = 0.05;
        $triedInRound = 0;
        while (true) {
            $base = $this->endpoints[$this->current];
            [$httpStatus, $answer, $errno, $error] = $this->post($base . $path, $body, $timeout ?? $this->timeout);
            if ($errno !== 0) {
                $failure = new UnavailableException("$what on $base: no answer ($error)", 'UNAVAILABLE', 14);
                $next = null;
            } else {
                $json = self::decode($answer);
                if ($httpStatus === 200 && is_array($json)) {
                    return $json;
                }
                $failure = self::failure($httpStatus, $json, $answer, "$what on $base");
                if (!$failure instanceof UnavailableException) {
                    throw $failure;
                }
                $next = $this->endpointIndex($failure->getLeader());
            }
            $this->unanswered++;
            $triedInRound++;
            if ($next !== null && $next !== $this->current) {
                $this->current = $next;
            } else {
                $this->current = ($this->current + 1) % count($this->endpoints);
            }
            if ($triedInRound >= count($this->endpoints)) {
                // Every node failed once: pause before the next round (no leader yet, say).
                if (microtime(true) + $pause > $deadline) {
                    throw $failure;
                }
                usleep((int) ($pause * 1e6));
                $pause = min($pause * 2, 1.0);
                $triedInRound = 0;
            }
        }
    }

    /** @return array{0:int,1:string,2:int,3:string} HTTP status, body, curl errno, curl error */
    private function post(string $url, string $body, float $timeout): array
    {
        $h = $this->handles[$this->current] ??= curl_init();
        $headers = ['Content-Type: application/json', 'Accept: application/json', 'Expect:'];
        if ($this->token !== null) {
            $headers[] = 'Authorization: Bearer ' . $this->token;
        }
        $opts = [
            CURLOPT_URL => $url,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil($this->connectTimeout * 1000),
            CURLOPT_TIMEOUT_MS => (int) ceil($timeout * 1000),
            CURLOPT_NOSIGNAL => true,
            CURLOPT_FOLLOWLOCATION => false,
        ];
        if ($this->caFile !== null) {
            $opts[CURLOPT_CAINFO] = $this->caFile;
        }
        curl_setopt_array($h, $opts);
        $answer = curl_exec($h);
        $errno = curl_errno($h);
        if ($errno !== 0 || !is_string($answer)) {
            $error = curl_error($h);
            // A failed connection may leave the handle in a state not worth reusing.
            curl_close($h);
            unset($this->handles[$this->current]);
            return [0, '', $errno !== 0 ? $errno : -1, $error];
        }
        return [(int) curl_getinfo($h, CURLINFO_RESPONSE_CODE), $answer, 0, ''];
    }

    private function endpointIndex(?string $leader): ?int
    {
        if ($leader === null || $leader === '') {
            return null;
        }
        // The hint is the leader's gRPC address: an endpoint with the same host and port if the
        // HTTP port is listed that way, else the only endpoint on the leader's host.
        $want = self::hostPort($leader);
        $host = self::host($want);
        $sameHost = [];
        foreach ($this->endpoints as $i => $e) {
            $hp = self::hostPort($e);
            if ($hp === $want) {
                return $i;
            }
            if (self::host($hp) === $host) {
                $sameHost[] = $i;
            }
        }
        return count($sameHost) === 1 ? $sameHost[0] : null;
    }

    private static function hostPort(string $address): string
    {
        $address = preg_replace('#^[a-z]+://#i', '', trim($address));
        return strtolower(rtrim((string) $address, '/'));
    }

    private static function host(string $hostPort): string
    {
        return preg_replace('/:\d+$/', '', $hostPort) ?? $hostPort;
    }

    private static function baseUrl(string $endpoint): string
    {
        if (!preg_match('#^https?://#i', $endpoint)) {
            $endpoint = 'http://' . $endpoint;
        }
        return rtrim($endpoint, '/');
    }

    /** The request as JSON: an empty array is the empty message {}, not []. */
    public static function encode(array $request): string
    {
        return json_encode($request === [] ? new \stdClass() : $request, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }

    /** The answer decoded, big integers kept as strings; null if it is not JSON. */
    public static function decode(string $answer): mixed
    {
        if ($answer === '') {
            return null;
        }
        try {
            return json_decode($answer, true, 512, JSON_BIGINT_AS_STRING | JSON_THROW_ON_ERROR);
        } catch (\JsonException) {
            return null;
        }
    }

    /**
     * The exception for a non-200 answer: by Baton's error code first (STALE_FENCE,
     * UNKNOWN_SESSION), then by the gRPC status of the body, then by the HTTP status.
     */
    public static function failure(int $httpStatus, mixed $json, string $raw, string $what): BatonException
    {
        $grpcStatus = is_array($json) && isset($json['status']) && is_string($json['status']) ? $json['status'] : self::statusOfHttp($httpStatus);
        $code = is_array($json) && isset($json['code']) && is_numeric($json['code']) ? (int) $json['code'] : (self::GRPC_CODES[$grpcStatus] ?? 2);
        $error = is_array($json) && isset($json['error']) && is_string($json['error']) && $json['error'] !== '' ? $json['error'] : null;
        $leader = is_array($json) && isset($json['leader']) && is_string($json['leader']) && $json['leader'] !== '' ? $json['leader'] : null;
        $message = is_array($json) && isset($json['message']) && is_string($json['message']) ? $json['message'] : substr(trim($raw), 0, 200);
        $text = "$what failed: $grpcStatus" . ($error !== null ? " [$error]" : '') . ($message !== '' ? ": $message" : '');
        $class = match (true) {
            $error === 'STALE_FENCE' => StaleFenceException::class,
            $error === 'UNKNOWN_SESSION' => SessionLostException::class,
            $grpcStatus === 'UNAVAILABLE', $grpcStatus === 'DEADLINE_EXCEEDED' => UnavailableException::class,
            $grpcStatus === 'INVALID_ARGUMENT', $grpcStatus === 'OUT_OF_RANGE' => InvalidArgumentException::class,
            $grpcStatus === 'NOT_FOUND' => NotFoundException::class,
            $grpcStatus === 'RESOURCE_EXHAUSTED' => LimitExceededException::class,
            $grpcStatus === 'UNAUTHENTICATED', $grpcStatus === 'PERMISSION_DENIED' => AccessDeniedException::class,
            $grpcStatus === 'FAILED_PRECONDITION' => FailedPreconditionException::class,
            default => BatonException::class,
        };
        return new $class($text, $grpcStatus, $code, $error, $httpStatus, $leader);
    }

    /** The gRPC status a bare HTTP status stands for (an answer without Baton's JSON body). */
    private static function statusOfHttp(int $http): string
    {
        return match ($http) {
            400 => 'INVALID_ARGUMENT',
            401 => 'UNAUTHENTICATED',
            403 => 'PERMISSION_DENIED',
            404 => 'NOT_FOUND',
            409 => 'ABORTED',
            429 => 'RESOURCE_EXHAUSTED',
            499 => 'CANCELLED',
            501 => 'UNIMPLEMENTED',
            502, 503 => 'UNAVAILABLE',
            504 => 'DEADLINE_EXCEEDED',
            default => 'UNKNOWN',
        };
    }

    public const GRPC_CODES = [
        'OK' => 0, 'CANCELLED' => 1, 'UNKNOWN' => 2, 'INVALID_ARGUMENT' => 3, 'DEADLINE_EXCEEDED' => 4,
        'NOT_FOUND' => 5, 'ALREADY_EXISTS' => 6, 'PERMISSION_DENIED' => 7, 'RESOURCE_EXHAUSTED' => 8,
        'FAILED_PRECONDITION' => 9, 'ABORTED' => 10, 'OUT_OF_RANGE' => 11, 'UNIMPLEMENTED' => 12,
        'INTERNAL' => 13, 'UNAVAILABLE' => 14, 'DATA_LOSS' => 15, 'UNAUTHENTICATED' => 16,
    ];

    public function __destruct()
    {
        foreach ($this->handles as $h) {
            curl_close($h);
        }
    }
}
