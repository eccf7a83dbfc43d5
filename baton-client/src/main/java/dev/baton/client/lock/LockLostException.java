package dev.baton.client.lock;

/**
 * A {@link FencedLock} was lost while held: the client's session ended (its lease ran out, it was
 * closed elsewhere, or the client was closed), so the cluster released the lock and may already have
 * granted it to someone else with a larger fence. Whatever was done under the lost grant's
 * {@link #fence()} may have overlapped with the next holder; a resource that checks fences rejects the
 * old one from then on.
 *
 * <p>Thrown by {@link FencedLock#unlock()}, {@link FencedLock#fence()} and
 * {@link FencedLock.Handle#close()} after the loss, and passed to the lock's lost listeners. It is an
 * {@link IllegalMonitorStateException} because the caller no longer holds the lock it tries to unlock.
 */
public class LockLostException extends IllegalMonitorStateException {
    private static final long serialVersionUID = 1L;

    private final String lockName;
    private final long fence;

    /**
     * @param lockName the lock's name
     * @param fence    the fence of the grant that was lost
     * @param message  why, for people
     * @param cause    the underlying failure (e.g. the client's {@code SessionLostException}), or {@code null}
     */
    public LockLostException(String lockName, long fence, String message, Throwable cause) {
        super(message);
        this.lockName = lockName;
        this.fence = fence;
        if (cause != null) {
            initCause(cause);
        }
    }

    /** The name of the lock that was lost. */
    public String lockName() {
        return lockName;
    }

    /** The fence of the lost grant: no longer valid. */
    public long fence() {
        return fence;
    }
}
