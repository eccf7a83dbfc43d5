<?php
declare(strict_types=1);

namespace Baton\Exception;

/** UNAUTHENTICATED (401) or PERMISSION_DENIED (403): the token is missing, unknown, or lacks the role. */
class AccessDeniedException extends BatonException
{
}
