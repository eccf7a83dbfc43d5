<?php
declare(strict_types=1);

namespace Baton\Exception;

/** The session is unknown or has ended (error UNKNOWN_SESSION): everything it held was released. Open a new session. */
class SessionLostException extends BatonException
{
}
