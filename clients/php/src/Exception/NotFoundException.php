<?php
declare(strict_types=1);

namespace Baton\Exception;

/** NOT_FOUND (404): the named group, target or item does not exist. */
class NotFoundException extends BatonException
{
}
