package dev.baton.it.lock;

import dev.baton.it.Nodes;

/** {@link FencedLockCases} against a single node. */
class FencedLockOnOneNodeTest extends FencedLockCases {
    @Override
    Nodes start() {
        return Nodes.single();
    }
}
