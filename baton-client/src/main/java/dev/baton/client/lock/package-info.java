/**
 * Fenced locks as a {@link java.util.concurrent.locks.Lock}: {@link dev.baton.client.lock.FencedLock}
 * over a {@link dev.baton.client.BatonClient}'s session, with fencing tokens, try-with-resources
 * handles, and listeners told when a held lock is lost with its session
 * ({@link dev.baton.client.lock.LockLostException}); and leader election on such a lock,
 * {@link dev.baton.client.lock.LeaderElection}, the lock's fence being the term's. See {@code docs/lock.md}.
 */
package dev.baton.client.lock;
