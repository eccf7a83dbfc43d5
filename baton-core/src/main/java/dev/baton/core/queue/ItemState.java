package dev.baton.core.queue;

import dev.baton.core.command.Bytes;

/**
 * One work item of a gated queue.
 *
 * @param prerequisites sorted, distinct event names that must not be pending for the item to be claimed
 * @param seq           its place in the queue (FIFO order)
 * @param pending       how many of its prerequisites are pending now
 * @param claimedBy     the session working on it, 0 if queued
 * @param fence         the fence of the current claim
 * @param attempts      how many times it was claimed
 */
public record ItemState(String id, Bytes payload, String[] prerequisites, long seq, int pending, long claimedBy,
                        long fence, int attempts, long enqueuedAt) {

    public boolean claimed() {
        return claimedBy != 0;
    }

    /** Queued, not claimed, and no prerequisite pending. */
    public boolean ready() {
        return claimedBy == 0 && pending == 0;
    }

    public ItemState withPending(int p) {
        return new ItemState(id, payload, prerequisites, seq, p, claimedBy, fence, attempts, enqueuedAt);
    }

    public ItemState withClaim(long session, long f, int a) {
        return new ItemState(id, payload, prerequisites, seq, pending, session, f, a, enqueuedAt);
    }

    public ItemState unclaimed(long newSeq) {
        return new ItemState(id, payload, prerequisites, newSeq, pending, 0, 0, attempts, enqueuedAt);
    }
}
