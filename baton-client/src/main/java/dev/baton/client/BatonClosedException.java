package dev.baton.client;

import io.grpc.Status;

/**
 * The {@link BatonClient} was closed: calls made after {@link BatonClient#close()}, and calls still
 * in flight when the client shut its channels down, fail with this. For a write still in flight the
 * outcome is unknown, but its session has been closed, which released everything it held.
 */
public class BatonClosedException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** @param message why */
    public BatonClosedException(String message) {
        super(Status.Code.CANCELLED, null, message, null);
    }
}
