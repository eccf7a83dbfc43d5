package dev.baton.client;

import io.grpc.Status;

/**
 * A blocking call was interrupted. The thread's interrupt flag is set again when this is thrown, and
 * the call's RPC is cancelled. As with {@link BatonUnavailableException}, the outcome of a write is
 * unknown (the server may have applied it, or may still apply it).
 */
public class BatonInterruptedException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** @param cause the {@link InterruptedException} */
    public BatonInterruptedException(InterruptedException cause) {
        super(Status.Code.CANCELLED, null, "interrupted while waiting for Baton", cause);
    }
}
