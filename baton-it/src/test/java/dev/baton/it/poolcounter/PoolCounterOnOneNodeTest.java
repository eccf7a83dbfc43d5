package dev.baton.it.poolcounter;

import dev.baton.it.Nodes;

/** {@link PoolCounterCases} against a single node. */
class PoolCounterOnOneNodeTest extends PoolCounterCases {
    @Override
    Nodes start() {
        return Nodes.single();
    }
}
