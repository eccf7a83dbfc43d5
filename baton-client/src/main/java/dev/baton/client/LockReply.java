package dev.baton.client;

/**
 * The server's answer to a lock acquire or release.
 *
 * @param status the outcome
 * @param name the lock's name
 * @param fence the grant's fence, when there is one
 * @param session the session the request was made on (a hold's release goes to that session)
 */
public record LockReply(LockStatus status, String name, long fence, long session) {
    /** True if the lock is held by the session after this call ({@code LOCKED} or {@code ALREADY_HELD}). */
    public boolean held() {
        return status == LockStatus.LOCKED || status == LockStatus.ALREADY_HELD;
    }
}
