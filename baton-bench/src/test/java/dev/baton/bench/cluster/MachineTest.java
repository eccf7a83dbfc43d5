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
        assertThat(Machine.cpuMillis(Long.MAX_VALUE)).isEqualTo(-1);
        assertThat(Machine.kernelCpuMillis(Long.MAX_VALUE)).isEqualTo(-1);
    }

    @Test
    void theKernelsPartGrowsWithSystemCallsAndStaysWithinTheWhole() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/self/stat")), "no /proc here");
        long pid = ProcessHandle.current().pid();
        long all0 = Machine.cpuMillis(pid); // read before the kernel's part at the start, after it at the end
        long kernel0 = Machine.kernelCpuMillis(pid);
        // System calls until the kernel has charged this process at least 50 ms (clock ticks of 10 ms)
        Path f = Files.createTempFile("machine-test", ".bin");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.READ)) {
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocateDirect(1);
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (Machine.kernelCpuMillis(pid) - kernel0 < 50 && System.nanoTime() < deadline) {
                for (int i = 0; i < 10_000; i++) {
                    one.clear();
                    ch.write(one, 0);
                }
            }
        } finally {
            Files.delete(f);
        }
        long kernel1 = Machine.kernelCpuMillis(pid);
        long all1 = Machine.cpuMillis(pid);
        assertThat(kernel0).isNotNegative();
        assertThat(kernel1 - kernel0).as("system time of writes").isGreaterThanOrEqualTo(50);
        assertThat(all1 - all0).as("user + system").isGreaterThanOrEqualTo(kernel1 - kernel0);
        assertThat(kernel1).isLessThanOrEqualTo(all1);

        // Work in user space only: the whole grows, the kernel's part hardly (not the same figure twice)
        long spin = 0;
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (Machine.cpuMillis(pid) - all1 < 300 && System.nanoTime() < deadline) {
            for (int i = 0; i < 50_000_000; i++) {
                spin = spin * 6364136223846793005L + 1442695040888963407L;
            }
        }
        assertThat(spin).isNotZero();
        assertThat(Machine.cpuMillis(pid) - all1).as("user + system after spinning").isGreaterThanOrEqualTo(300);
        assertThat(Machine.kernelCpuMillis(pid) - kernel1).as("system time of spinning").isLessThan(150);
    }
}
