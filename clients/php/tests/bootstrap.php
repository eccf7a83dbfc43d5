<?php
declare(strict_types=1);

require __DIR__ . '/../autoload.php';

// The tests' own classes (composer.json's autoload-dev).
spl_autoload_register(static function (string $class): void {
    $prefix = 'Baton\\Tests\\';
    if (strncmp($class, $prefix, strlen($prefix)) === 0) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
