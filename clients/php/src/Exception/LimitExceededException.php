<?php
declare(strict_types=1);

namespace Baton\Exception;

/** RESOURCE_EXHAUSTED (429): a configured limit would be exceeded. */
class LimitExceededException extends BatonException
{
}
