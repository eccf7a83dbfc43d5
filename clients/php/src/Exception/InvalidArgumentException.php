<?php
declare(strict_types=1);

namespace Baton\Exception;

/** INVALID_ARGUMENT (400): bad input, e.g. an empty name, zero workers, a TTL outside the limits, malformed JSON. */
class InvalidArgumentException extends BatonException
{
}
