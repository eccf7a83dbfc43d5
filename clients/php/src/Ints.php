<?php
declare(strict_types=1);

namespace Baton;

/**
 * The API sends 64-bit integers as JSON strings. Ids and fences stay strings in this library (they
 * are only compared and sent back); counts, cursors, heads and times become PHP ints through
 * toInt(), which refuses a value above PHP_INT_MAX instead of losing precision.
 */
final class Ints
{
    private function __construct()
    {
    }

    /** A non-negative decimal integer (string or int) as a PHP int. */
    public static function toInt(string|int $value): int
    {
        if (is_int($value)) {
            return $value;
        }
        if (!preg_match('/^\d+$/', $value)) {
            throw new \UnexpectedValueException("not an unsigned integer: '$value'");
        }
        $trimmed = ltrim($value, '0');
        if ($trimmed === '') {
            return 0;
        }
        if (strlen($trimmed) > 19 || (strlen($trimmed) === 19 && strcmp($trimmed, (string) PHP_INT_MAX) > 0)) {
            throw new \OverflowException("$value does not fit in a PHP int");
        }
        return (int) $trimmed;
    }

    /** An id or fence as the decimal string the API uses. */
    public static function toId(string|int $value): string
    {
        $s = (string) $value;
        if (!preg_match('/^\d+$/', $s)) {
            throw new \InvalidArgumentException("not an unsigned integer: '$s'");
        }
        $s = ltrim($s, '0');
        return $s === '' ? '0' : $s;
    }
}
