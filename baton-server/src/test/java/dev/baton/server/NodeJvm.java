package dev.baton.server;

import java.nio.file.Path;
import java.util.List;

/**
 * The start of the command line of a JVM that a test runs {@code baton server} in (a node of a process
 * cluster, a server expected to refuse its options).
 */
public final class NodeJvm {
    private NodeJvm() {}

    /**
     * This JDK's {@code java} and the JIT option of test nodes. A node's first seconds compile classes
     * with C2 too, about 2 s of CPU of the 4 s a start costs: on a 2-core box three nodes starting
     * together then wait for each other. C1 alone serves a node as well for the short work of a test
     * (the benchmarks run their nodes with the usual tiers), so every start in the tests leaves that
     * CPU to the others; the waits for start-up and election stay as long as they are.
     */
    public static List<String> java() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1");
    }
}
