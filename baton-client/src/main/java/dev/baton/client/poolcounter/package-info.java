/**
 * MediaWiki's PoolCounter API over a {@link dev.baton.client.BatonClient}:
 * {@link dev.baton.client.poolcounter.PoolCounter} (acquireForMe, acquireForAnyone, release, with
 * MediaWiki's {@link dev.baton.client.poolcounter.PoolCounterStatus} codes), pool types configured
 * like {@code $wgPoolCounterConf} ({@link dev.baton.client.poolcounter.PoolType}, with {@code slots}
 * and {@code fastStale}), and the {@link dev.baton.client.poolcounter.PoolCounterWork} helper
 * (doWork / getCachedWork / fallback / error, fast-stale, fail-open or fail-closed). See
 * {@code docs/poolcounter-client.md}.
 */
package dev.baton.client.poolcounter;
