/**
 * Fenced locks as a {@link java.util.concurrent.locks.Lock}: {@link dev.baton.client.lock.FencedLock}
 * over a {@link dev.baton.client.BatonClient}'s session, with fencing tokens, try-with-resources
 * handles, and listeners told when a held lock is lost with its session
 * ({@link dev.baton.client.lock.LockLostException}). See {@code docs/lock.md}.
 */
package dev.baton.client.lock;
