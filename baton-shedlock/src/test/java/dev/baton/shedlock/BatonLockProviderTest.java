package dev.baton.shedlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.client.BatonClient;
import dev.baton.server.testing.InProcessNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import net.javacrumbs.shedlock.core.LockAssert;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockProvider;
import net.javacrumbs.shedlock.core.SimpleLock;
import net.javacrumbs.shedlock.spring.annotation.EnableSchedulerLock;
import net.javacrumbs.shedlock.spring.annotation.SchedulerLock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;

/** {@link BatonLockProvider} against one real node, with two clients as two processes would have. */
class BatonLockProviderTest {
    private static InProcessNode node;
    private static BatonClient clientA;
    private static BatonClient clientB;
    private static BatonLockProvider providerA;
    private static BatonLockProvider providerB;

    @BeforeAll
    static void start() {
        node = InProcessNode.start();
        clientA = node.client();
        clientB = node.client();
        providerA = new BatonLockProvider(clientA);
        providerB = new BatonLockProvider(clientB);
    }

    @AfterAll
    static void stop() {
        if (clientA != null) {
            clientA.close();
        }
        if (clientB != null) {
            clientB.close();
        }
        if (node != null) {
            node.close();
        }
    }

    private static LockConfiguration config(String name, Duration atMost, Duration atLeast) {
        return new LockConfiguration(Instant.now(), name, atMost, atLeast);
    }

    @Test
    void onlyOneProviderGetsTheLock() {
        LockConfiguration c = config("only-one", Duration.ofSeconds(60), Duration.ZERO);
        SimpleLock lock = providerA.lock(c).orElseThrow();
        assertThat(providerB.lock(c)).isEmpty();
        assertThat(providerA.lock(c)).as("a second task of the same process").isEmpty();
        lock.unlock();
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class);
        SimpleLock other = awaitLock(providerB, c);
        assertThat(providerA.lock(c)).isEmpty();
        other.unlock();
    }

    @Test
    void unlockBeforeLockAtLeastForKeepsTheLockUntilThen() {
        Duration atLeast = Duration.ofSeconds(3);
        LockConfiguration c = config("at-least", Duration.ofSeconds(60), atLeast);
        long before = System.nanoTime();
        SimpleLock lock = providerA.lock(c).orElseThrow();
        lock.unlock();
        Optional<SimpleLock> early = providerB.lock(c);
        long elapsed = System.nanoTime() - before;
        if (elapsed < atLeast.toNanos()) {
            // The whole attempt fell inside lockAtLeastFor: the lock was still held.
            assertThat(early).isEmpty();
        } else {
            early.ifPresent(SimpleLock::unlock);
        }
        SimpleLock later = awaitLock(providerB, c);
        assertThat(System.nanoTime() - before).isGreaterThanOrEqualTo(atLeast.toNanos());
        later.unlock();
    }

    @Test
    void lockAtMostForReleasesALockNeverUnlocked() {
        Duration atMost = Duration.ofSeconds(1);
        LockConfiguration c = config("at-most", atMost, Duration.ZERO);
        long before = System.nanoTime();
        SimpleLock forgotten = providerA.lock(c).orElseThrow();
        SimpleLock next = awaitLock(providerB, c);
        assertThat(System.nanoTime() - before).isGreaterThanOrEqualTo(atMost.toNanos());
        next.unlock();
        // The forced release happened: extending the old lock is refused, unlocking it too.
        assertThat(forgotten.extend(Duration.ofSeconds(10), Duration.ZERO)).isEmpty();
        assertThatThrownBy(forgotten::unlock).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void extendReplacesTheLock() {
        LockConfiguration c = config("extended", Duration.ofSeconds(60), Duration.ZERO);
        SimpleLock lock = providerA.lock(c).orElseThrow();
        SimpleLock extended = lock.extend(Duration.ofSeconds(60), Duration.ZERO).orElseThrow();
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class);
        assertThat(providerB.lock(c)).isEmpty();
        extended.unlock();
        awaitLock(providerB, c).unlock();
    }

    @Test
    void schedulerLockRunsTheTaskOnlyWhileNoOtherProcessHoldsTheLock() throws Exception {
        SimpleLock elsewhere = providerB.lock(config("tick", Duration.ofSeconds(60), Duration.ZERO)).orElseThrow();
        try (AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext()) {
            context.registerBean(BatonClient.class, () -> clientA, d -> d.setDestroyMethodName(""));
            context.register(ScheduledConfig.class);
            context.refresh();
            Ticker ticker = context.getBean(Ticker.class);
            Thread.sleep(500);
            assertThat(ticker.runs()).as("runs while another process holds the lock").isZero();
            elsewhere.unlock();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (ticker.runs() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(ticker.runs()).isPositive();
            assertThat(ticker.unlockedRuns()).isZero();
        }
    }

    /** Tries until the lock is free (the other holder's release may take a moment to arrive). */
    private static SimpleLock awaitLock(LockProvider provider, LockConfiguration c) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Optional<SimpleLock> lock = provider.lock(c);
            if (lock.isPresent()) {
                return lock.get();
            }
            assertThat(System.nanoTime()).as("lock " + c.getName() + " freed in time").isLessThan(deadline);
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Configuration
    @EnableScheduling
    @EnableSchedulerLock(defaultLockAtMostFor = "PT30S")
    static class ScheduledConfig {
        @Bean
        LockProvider lockProvider(BatonClient client) {
            return new BatonLockProvider(client);
        }

        @Bean
        Ticker ticker() {
            return new Ticker();
        }
    }

    /** Read through its methods: the bean is a proxy (ShedLock's method interception). */
    static class Ticker {
        private final AtomicInteger runs = new AtomicInteger();
        private final AtomicInteger unlockedRuns = new AtomicInteger();

        public int runs() {
            return runs.get();
        }

        public int unlockedRuns() {
            return unlockedRuns.get();
        }

        @Scheduled(fixedDelay = 50)
        @SchedulerLock(name = "tick")
        public void tick() {
            try {
                LockAssert.assertLocked();
            } catch (IllegalStateException e) {
                unlockedRuns.incrementAndGet();
            }
            runs.incrementAndGet();
        }
    }
}
