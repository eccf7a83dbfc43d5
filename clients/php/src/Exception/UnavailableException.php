<?php
declare(strict_types=1);

namespace Baton\Exception;

/** No node answered in time, or the answer was UNAVAILABLE (no leader, outcome unknown) for the whole retry period. A write with a request id may or may not have happened: retry it with the same request id. */
class UnavailableException extends BatonException
{
}
