package dev.baton.it.poolcounter;

import dev.baton.it.Nodes;

/** {@link PoolCounterWorkCases} against a single node. */
class PoolCounterWorkOnOneNodeTest extends PoolCounterWorkCases {
    @Override
    Nodes start() {
        return Nodes.single();
    }
}
