<?php
declare(strict_types=1);

namespace Baton\Exception;

/** FAILED_PRECONDITION with error STALE_FENCE: the fence quoted is no longer the current grant (the lock was lost or already released). Nothing was changed. */
class StaleFenceException extends BatonException
{
}
