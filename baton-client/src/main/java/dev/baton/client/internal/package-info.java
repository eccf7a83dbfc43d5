/**
 * The client's plumbing, not part of its API: endpoints and channels ({@code Endpoints}), attempts,
 * retries and deadlines ({@code Invoker}), the call stream ({@code CallStream}), one session's
 * keep-alives ({@code SessionKeeper}) and request-id window ({@code RequestWindow}), and the set of
 * sessions a client spreads its acquires over ({@code SessionSet}). Its classes are public only so
 * that {@code dev.baton.client} can use them; they may change at any time.
 */
package dev.baton.client.internal;
