package dev.baton.it.poolcounter;

import dev.baton.it.Nodes;

/** {@link PoolCounterCases} against a three-node cluster. */
class PoolCounterOnThreeNodesTest extends PoolCounterCases {
    @Override
    Nodes start() {
        return Nodes.three();
    }
}
