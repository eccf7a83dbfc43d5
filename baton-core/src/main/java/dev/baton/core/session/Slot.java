package dev.baton.core.session;

/**
 * One of a session's pool slots (poolcounterd's per-connection lock stack entry).
 *
 * @param key       the pool key
 * @param state     held, or waiting as ACQ4ME / ACQ4ANY
 * @param id        the fence while held, the wait id while waiting
 * @param requestId the acquire's request id (0 if none), so a wait's outcome can be remembered for retries
 * @param since     when the slot was granted or the wait began (entry time, ms)
 */
public record Slot(String key, State state, long id, long requestId, long since) {
    public enum State { HELD, WAIT_ME, WAIT_ANY }

    public boolean waiting() {
        return state != State.HELD;
    }
}
