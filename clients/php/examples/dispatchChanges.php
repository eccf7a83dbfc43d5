<?php
/**
 * A change dispatcher in the shape of Wikibase's maintenance script dispatchChanges.php, over
 * Baton's dispatch group (Baton\Wikibase\BatonChangeDispatchCoordinator) and a fake change feed.
 *
 * Each pass: raise the group's head to the feed's newest change, select and lock a target, read up
 * to --batch-size changes after its cursor, deliver them, release the target with the new cursor.
 * "Delivering" appends one line per batch to the target's file under --sink:
 *
 *     <cursor before> <first id> <last id> <count> <fence> <pid>
 *
 * while holding an exclusive, non-blocking flock on that file from the moment the target is locked
 * until just before it is released. If the flock is busy, another dispatcher serves the same target
 * at the same time: the script records it in <sink>/violations.log (and delivers anyway, so the
 * overlap is visible). A test can then check that no target was served twice at once, that the
 * cursors never went back, and that every target got every change.
 *
 * The feed: --changes M gives changes 1..M (the default, 1000); --feed FILE reads change ids from a
 * file, one per line, read again every pass so another process can append; a line "end" says the
 * feed is complete. --exit-when-done ends the run once the feed is complete and every target has
 * caught up with it.
 *
 *   php dispatchChanges.php --endpoints 10.0.0.1:7532,10.0.0.2:7532 --group wikidata --targets 20 \
 *       --sink /tmp/sink --max-time 120 --idle-delay 1 --batch-size 100
 *
 * At the end it prints a summary as one JSON line: passes, batches, changes, empty, idle, failed,
 * violations, sessions (opened: a lost session is replaced), unanswered (HTTP attempts that got no
 * usable answer and were retried, e.g. on another node).
 */
declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use Baton\BatonClient;
use Baton\Exception\BatonException;
use Baton\Exception\SessionLostException;
use Baton\Exception\UnavailableException;
use Baton\Wikibase\BatonChangeDispatchCoordinator;

const USAGE = <<<'TXT'
Usage: php dispatchChanges.php [options]
  --endpoints LIST        Baton HTTP ports, comma-separated (default $BATON_HTTP_ENDPOINTS or 127.0.0.1:7532)
  --token TOKEN           bearer token (default $BATON_TOKEN)
  --ca-file PEM           CA certificate(s) of the nodes' HTTPS port
  --group NAME            dispatch group (default wikidata)
  --targets N             targets client1..clientN (default 20)
  --changes M             built-in feed: changes 1..M (default 1000)
  --feed FILE             feed from FILE: one change id per line, "end" when complete
  --sink DIR              where deliveries go (default: a new temp directory)
  --max-time S            no pass starts after S seconds (default 3600)
  --max-passes N          at most N passes, idle and failed ones included (default unlimited)
  --idle-delay S          sleep after an idle or failed pass (default 10)
  --batch-size N          changes per batch, and the group's lag threshold (default 1000)
  --dispatch-interval S   how long a target rests after a release (default 60)
  --randomness N          pick among the N most lagged targets (default 15)
  --session-ttl MS        session lease (default: the server's)
  --exit-when-done        stop once the feed is complete and every target caught up
  --verbose               one line per pass on stderr

TXT;

$opts = getopt('', [
    'endpoints:', 'token:', 'ca-file:', 'group:', 'targets:', 'changes:', 'feed:', 'sink:', 'max-time:',
    'max-passes:', 'idle-delay:', 'batch-size:', 'dispatch-interval:', 'randomness:', 'session-ttl:',
    'exit-when-done', 'verbose', 'help',
], $rest);
if ($opts === false || isset($opts['help']) || $rest < count($argv)) {
    fwrite(isset($opts['help']) ? STDOUT : STDERR, USAGE);
    exit(isset($opts['help']) ? 0 : 2);
}

$endpoints = $opts['endpoints'] ?? (getenv('BATON_HTTP_ENDPOINTS') ?: '127.0.0.1:7532');
$token = $opts['token'] ?? (getenv('BATON_TOKEN') ?: null);
$group = $opts['group'] ?? 'wikidata';
$targetCount = (int) ($opts['targets'] ?? 20);
$maxTime = (float) ($opts['max-time'] ?? 3600);
$maxPasses = isset($opts['max-passes']) ? (int) $opts['max-passes'] : PHP_INT_MAX;
$idleDelay = (float) ($opts['idle-delay'] ?? 10);
$batchSize = (int) ($opts['batch-size'] ?? 1000);
$dispatchInterval = (float) ($opts['dispatch-interval'] ?? 60);
$randomness = (int) ($opts['randomness'] ?? 15);
$sessionTtl = (int) ($opts['session-ttl'] ?? 0);
$exitWhenDone = isset($opts['exit-when-done']);
$verbose = isset($opts['verbose']);
$sink = $opts['sink'] ?? (sys_get_temp_dir() . '/baton-dispatch-' . getmypid());
if ($targetCount < 1 || $batchSize < 1 || $randomness < 1) {
    fwrite(STDERR, "--targets, --batch-size and --randomness must be at least 1\n");
    exit(2);
}
if (!is_dir($sink) && !@mkdir($sink, 0777, true) && !is_dir($sink)) {
    fwrite(STDERR, "cannot create the sink directory $sink\n");
    exit(2);
}

/** The change feed: ids in increasing order. */
interface Feed
{
    /** The newest change id (0: none). */
    public function head(): int;

    /** True once no change will be added. */
    public function complete(): bool;

    /** @return list<int> up to $max ids above $seen, in order */
    public function after(int $seen, int $max): array;
}

final class RangeFeed implements Feed
{
    public function __construct(private readonly int $last)
    {
    }

    public function head(): int
    {
        return $this->last;
    }

    public function complete(): bool
    {
        return true;
    }

    public function after(int $seen, int $max): array
    {
        $first = $seen + 1;
        return $first > $this->last ? [] : range($first, min($this->last, $seen + $max));
    }
}

final class FileFeed implements Feed
{
    /** @var list<int> */
    private array $ids = [];
    private bool $complete = false;
    private int $size = -1;

    public function __construct(private readonly string $file)
    {
    }

    private function load(): void
    {
        clearstatcache(true, $this->file);
        $size = @filesize($this->file);
        if ($size === false || $size === $this->size) {
            return;
        }
        $ids = [];
        $complete = false;
        // Only whole lines: the writer may be in the middle of one.
        $text = (string) @file_get_contents($this->file);
        $cut = strrpos($text, "\n");
        foreach (explode("\n", $cut === false ? '' : substr($text, 0, $cut)) as $line) {
            $line = trim($line);
            if ($line === 'end') {
                $complete = true;
            } elseif ($line !== '' && ctype_digit($line)) {
                $ids[] = (int) $line;
            }
        }
        $this->ids = $ids;
        $this->complete = $complete;
        $this->size = $cut === false ? -1 : $size;
    }

    public function head(): int
    {
        $this->load();
        return $this->ids === [] ? 0 : $this->ids[count($this->ids) - 1];
    }

    public function complete(): bool
    {
        $this->load();
        return $this->complete;
    }

    public function after(int $seen, int $max): array
    {
        $out = [];
        foreach ($this->ids as $id) {
            if ($id > $seen) {
                $out[] = $id;
                if (count($out) >= $max) {
                    break;
                }
            }
        }
        return $out;
    }
}

/** Deliveries: one file per target, flocked while the target is served. */
final class FileSink
{
    public int $violations = 0;
    /** @var resource|null */
    private $open = null;

    public function __construct(private readonly string $dir)
    {
    }

    /** Starts serving $site: takes the flock of its file, recording a violation if it is busy. */
    public function begin(string $site, string $fence): void
    {
        $f = fopen($this->dir . '/' . rawurlencode($site) . '.log', 'a');
        if ($f === false) {
            throw new RuntimeException("cannot open the sink of $site");
        }
        if (!flock($f, LOCK_EX | LOCK_NB)) {
            $this->violations++;
            file_put_contents($this->dir . '/violations.log',
                sprintf("%s pid=%d fence=%s %s\n", $site, getmypid(), $fence, gmdate('c')), FILE_APPEND | LOCK_EX);
        }
        $this->open = $f;
    }

    /** @param list<int> $batch */
    public function deliver(int $seen, array $batch, string $fence): void
    {
        fwrite($this->open, sprintf("%d %d %d %d %s %d\n", $seen, $batch[0], $batch[count($batch) - 1], count($batch), $fence, getmypid()));
        fflush($this->open);
    }

    /** Stops serving: gives the flock back. */
    public function end(): void
    {
        if ($this->open !== null) {
            flock($this->open, LOCK_UN);
            fclose($this->open);
            $this->open = null;
        }
    }
}

$feed = isset($opts['feed']) ? new FileFeed($opts['feed']) : new RangeFeed((int) ($opts['changes'] ?? 1000));
$fileSink = new FileSink($sink);
$clients = [];
for ($i = 1; $i <= $targetCount; $i++) {
    $clients["client$i"] = "client{$i}wiki";
}
$log = static function (string $line) use ($verbose): void {
    if ($verbose) {
        fwrite(STDERR, sprintf("[%s %d] %s\n", gmdate('H:i:s'), getmypid(), $line));
    }
};

$options = ['retryFor' => 60.0];
if ($token !== null) {
    $options['token'] = $token;
}
if (isset($opts['ca-file'])) {
    $options['caFile'] = $opts['ca-file'];
}
$client = new BatonClient($endpoints, $options);
$sessions = 0;
$newCoordinator = static function () use ($client, $sessionTtl, $group, $batchSize, $randomness, $dispatchInterval, $clients, &$sessions): BatonChangeDispatchCoordinator {
    $c = new BatonChangeDispatchCoordinator($client->openSession($sessionTtl), $group);
    $c->setBatchSize($batchSize);
    $c->setRandomness($randomness);
    $c->setDispatchInterval($dispatchInterval);
    $c->initState($clients);
    $sessions++;
    return $c;
};

$start = microtime(true);
$endAt = $start + $maxTime;
$stats = ['passes' => 0, 'batches' => 0, 'changes' => 0, 'empty' => 0, 'idle' => 0, 'failed' => 0];
$coordinator = null;
$releaseHeld = false;

/** Sleeps up to $seconds (not past the end of the run), renewing the session on the way. */
$sleep = static function (float $seconds) use (&$coordinator, $endAt): void {
    $until = min(microtime(true) + $seconds, $endAt);
    while (($left = $until - microtime(true)) > 0) {
        usleep((int) (min($left, 0.5) * 1e6));
        try {
            $coordinator?->getSession()->keepAliveIfDue();
        } catch (BatonException) {
            return; // the next pass finds out
        }
    }
};

$caughtUp = static function () use (&$coordinator, $feed, $group): bool {
    if (!$feed->complete()) {
        return false;
    }
    $head = $feed->head();
    $g = $coordinator->getSession()->dispatch()->getGroup($group);
    foreach ($g['targets'] as $t) {
        if (!$t['disabled'] && (int) $t['seen'] < $head) {
            return false;
        }
    }
    return true;
};

$headAdvanced = -1;
while ($stats['passes'] < $maxPasses && microtime(true) < $endAt) {
    $stats['passes']++;
    $last = $stats['passes'] >= $maxPasses;
    $state = null;
    $released = true;
    try {
        if ($coordinator === null) {
            $coordinator = $newCoordinator();
            $headAdvanced = -1;
        }
        if ($releaseHeld) {
            $n = $coordinator->releaseHeld();
            $releaseHeld = false;
            $log("released $n target(s) held after an unknown outcome");
        }
        $head = $feed->head();
        if ($head > $headAdvanced) {
            $headAdvanced = $coordinator->advanceHead($head);
        }
        $state = $coordinator->selectClient();
        if ($state === null) {
            $stats['idle']++;
            $log('idle');
            if ($exitWhenDone && $caughtUp()) {
                $log('the feed is complete and every target caught up');
                break;
            }
            if (!$last) {
                $sleep($idleDelay);
            }
            continue;
        }
        $released = false;
        $fileSink->begin($state['chd_site'], $state['chd_lock']);
        $seen = $state['chd_seen'];
        $batch = $feed->after($seen, $batchSize);
        if ($batch !== []) {
            $fileSink->deliver($seen, $batch, $state['chd_lock']);
            $stats['batches']++;
            $stats['changes'] += count($batch);
            $newSeen = $batch[count($batch) - 1];
            if (count($batch) < $batchSize) {
                // Nothing more to read: continue after the head, over any gap in the ids.
                $newSeen = max($newSeen, $head);
            }
        } else {
            $stats['empty']++;
            $newSeen = max($seen, $head);
        }
        $fileSink->end();
        $coordinator->releaseClient(['chd_seen' => $newSeen] + $state);
        $released = true;
        $log(sprintf('%s: %d change(s), cursor %d -> %d (fence %s)', $state['chd_site'], count($batch), $seen, $newSeen, $state['chd_lock']));
    } catch (SessionLostException $e) {
        // Everything the session held is released already; carry on with a new one (Wikibase's
        // script would be started again by cron).
        $fileSink->end();
        $stats['failed']++;
        fwrite(STDERR, "session lost, opening a new one: {$e->getMessage()}\n");
        $coordinator = null;
        $releaseHeld = false;
    } catch (Throwable $e) {
        $fileSink->end();
        $stats['failed']++;
        fwrite(STDERR, 'pass failed: ' . get_class($e) . ': ' . $e->getMessage() . "\n");
        if ($e instanceof UnavailableException) {
            // The outcome of the last call is unknown: a target may be locked that we never heard
            // of, or not released. Free whatever the session holds before the next selection.
            $releaseHeld = true;
        } elseif ($state !== null && !$released && $coordinator !== null) {
            try {
                $coordinator->releaseClient($state); // cursor unchanged: the batch goes out again
            } catch (Throwable $e2) {
                $releaseHeld = true;
            }
        }
        if (!$last) {
            $sleep($idleDelay);
        }
    }
}

try {
    $coordinator?->getSession()->close();
} catch (BatonException $e) {
    fwrite(STDERR, "closing the session failed: {$e->getMessage()}\n");
}
$stats['violations'] = $fileSink->violations;
$stats['sessions'] = $sessions;
$stats['unanswered'] = $client->unansweredAttempts();
$stats['seconds'] = round(microtime(true) - $start, 3);
echo json_encode($stats), "\n";
exit(0);
