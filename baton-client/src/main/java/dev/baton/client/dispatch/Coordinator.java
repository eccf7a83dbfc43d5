package dev.baton.client.dispatch;

import java.util.Map;

/**
 * What a {@link Dispatcher} needs from a {@link ChangeDispatchCoordinator}. Package-private: it exists
 * so the driver loop can be tested against an in-memory coordinator.
 */
interface Coordinator {
    int initState(Map<String, String> clientWikiDbs);

    long advanceHead(long head);

    DispatchState selectClient();

    DispatchState releaseClient(DispatchState state);

    int releaseHeld();
}
