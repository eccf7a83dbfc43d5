<?php
// For installations without Composer: `require 'path/to/clients/php/autoload.php';` maps the
// namespace Baton\ onto src/, exactly as composer.json's PSR-4 rule does.
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'Baton\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
