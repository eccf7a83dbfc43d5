package dev.baton.it.poolcounter;

import dev.baton.it.Nodes;

/** {@link PoolCounterWorkCases} against a three-node cluster. */
class PoolCounterWorkOnThreeNodesTest extends PoolCounterWorkCases {
    @Override
    Nodes start() {
        return Nodes.three();
    }
}
