package dev.baton.it.lock;

import dev.baton.it.Nodes;

/** {@link FencedLockCases} against a three-node cluster. */
class FencedLockOnThreeNodesTest extends FencedLockCases {
    @Override
    Nodes start() {
        return Nodes.three();
    }
}
