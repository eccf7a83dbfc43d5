package dev.baton.server.metrics;

/**
 * What the PoolCounter line-protocol door reports to {@link BatonMetrics}. The door implements it;
 * the node assembly hands the door to the metrics, so that neither knows the other's package.
 */
public interface LineDoorMetrics {
    /** Connections open now. */
    int connections();

    /** Connections accepted since start. */
    long connectionsTotal();

    /** Connections that failed (reset by the peer and the like). */
    long connectErrors();

    /** Replies that could not be sent. */
    long failedSends();

    /** Sessions kept idle for the next connection. */
    int shelvedSessions();

    /** Sessions a connection took from the shelf. */
    long sessionsReused();

    /** Connections refused: the door had the most it allows. */
    long refusedMaxConnections();

    /** Connections refused: their address had the most it allows. */
    long refusedPerAddress();

    /** Connections refused: their address is not allowed. */
    long refusedNotAllowed();

    /** Connections closed for being idle. */
    long closedIdle();

    /** Connections closed for an incomplete line that sat too long. */
    long closedPartialLine();

    /** Times a connection was not read because its client did not read its replies. */
    long backPressurePauses();

    /** Connections not read now for that reason. */
    int pausedConnections();

    /** Reply bytes not yet sent, all connections. */
    long unsentBytes();
}
