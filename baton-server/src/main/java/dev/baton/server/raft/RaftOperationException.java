package dev.baton.server.raft;

/**
 * A proposal, read or snapshot that the Raft engine refused or could not finish. {@link #code()} is
 * SOFAJRaft's error name ({@code EBUSY}, {@code ETIMEDOUT}, {@code EAGAIN}, {@code ESTOP}, ...).
 *
 * <p>For a proposal this does <em>not</em> always mean "not applied": an entry appended by a leader
 * that then lost its leadership may still be committed by the next leader. Clients retry with the
 * same request id (docs/design.md, "Idempotent requests"), which makes the outcome exactly-once
 * either way.
 */
public class RaftOperationException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String code;

    public RaftOperationException(String code, String message) {
        super(code + ": " + message);
        this.code = code;
    }

    /** SOFAJRaft's error name, e.g. {@code EPERM} or {@code EBUSY}. */
    public String code() {
        return code;
    }
}
