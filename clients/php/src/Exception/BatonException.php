<?php
declare(strict_types=1);

namespace Baton\Exception;

/**
 * A call Baton refused, or one whose outcome could not be learned. Carries the gRPC status name
 * (INVALID_ARGUMENT, FAILED_PRECONDITION, ...), its number, Baton's own error code (STALE_FENCE,
 * UNKNOWN_SESSION, LIMIT_EXCEEDED, ...; null when the answer had none), the HTTP status (0 when no
 * answer came) and the leader's address when the node knew it.
 */
class BatonException extends \RuntimeException
{
    public function __construct(
        string $message,
        private readonly string $status = 'UNKNOWN',
        private readonly int $grpcCode = 2,
        private readonly ?string $batonError = null,
        private readonly int $httpStatus = 0,
        private readonly ?string $leader = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $grpcCode, $previous);
    }

    /** The gRPC status name, e.g. "FAILED_PRECONDITION". */
    public function getStatus(): string
    {
        return $this->status;
    }

    /** The gRPC status number (google.rpc.Code), also getCode(). */
    public function getGrpcCode(): int
    {
        return $this->grpcCode;
    }

    /** Baton's error code, e.g. "STALE_FENCE", or null. */
    public function getBatonError(): ?string
    {
        return $this->batonError;
    }

    /** The HTTP status of the answer, 0 if none came (connection failure, timeout). */
    public function getHttpStatus(): int
    {
        return $this->httpStatus;
    }

    /** The leader's address as the answering node knew it, or null. */
    public function getLeader(): ?string
    {
        return $this->leader;
    }
}
