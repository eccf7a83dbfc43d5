<?php
declare(strict_types=1);

namespace Baton\Exception;

/** FAILED_PRECONDITION (400) other than STALE_FENCE and UNKNOWN_SESSION, e.g. a request id too old or a wait already in progress. */
class FailedPreconditionException extends BatonException
{
}
