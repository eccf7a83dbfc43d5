package dev.baton.bench.cluster;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The per-process counts the load generator reports beside each result. */
class MachineTest {
    @Test
    void threadRunsCountEveryWakeUpOfTheProcessesThreads() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/self/task")), "no /proc here");
        long pid = ProcessHandle.current().pid();
        CountDownLatch woken = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        long before = Machine.threadRuns(pid);
        Thread sleeper = new Thread(() -> {
            for (int i = 0; i < 100; i++) {
                LockSupport.parkNanos(200_000); // each park ends in a sleep and a wake-up
            }
            woken.countDown();
            try {
                done.await(); // alive until read: a thread that has ended is not counted
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        sleeper.start();
        try {
            woken.await();
            long after = Machine.threadRuns(pid);
            assertThat(before).isPositive();
            assertThat(after - before).as("runs over 100 sleeps of one thread").isGreaterThanOrEqualTo(100)
                    .as("a count of runs, not the nanoseconds on a CPU (the first field)").isLessThan(100_000);
        } finally {
            done.countDown();
            sleeper.join();
        }
    }

    @Test
    void aProcessThatIsNotThereHasNoCount() {
        assertThat(Machine.threadRuns(Long.MAX_VALUE)).isEqualTo(-1);
    }
}
