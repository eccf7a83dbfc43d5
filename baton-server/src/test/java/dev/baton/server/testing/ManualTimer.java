package dev.baton.server.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A scheduler for tests of self-rescheduling timers: records what is scheduled (and with which delay),
 * runs a task only when the test says so, and never by itself, so nothing depends on timing.
 */
public final class ManualTimer extends ScheduledThreadPoolExecutor {
    public final List<Task> tasks = new ArrayList<>();

    public ManualTimer() {
        super(1);
    }

    @Override
    public synchronized ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        Task t = new Task(command, unit.toMillis(delay));
        tasks.add(t);
        return t;
    }

    @Override
    public synchronized ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay,
                                                                TimeUnit unit) {
        Task t = new Task(command, -1); // a periodic job (NodeDuties' announcements): never run here
        tasks.add(t);
        return t;
    }

    public synchronized Task last() {
        for (int i = tasks.size() - 1; i >= 0; i--) {
            if (tasks.get(i).delayMs >= 0) {
                return tasks.get(i);
            }
        }
        throw new AssertionError("nothing scheduled");
    }

    public long lastDelayMs() {
        return last().delayMs;
    }

    public void runLast() {
        last().command.run();
    }

    public static final class Task implements ScheduledFuture<Object> {
        public final Runnable command;
        public final long delayMs;
        public volatile boolean cancelled;

        Task(Runnable command, long delayMs) {
            this.command = command;
            this.delayMs = delayMs;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(delayMs, TimeUnit.MILLISECONDS);
        }

        @Override
        public int compareTo(Delayed o) {
            return Long.compare(getDelay(TimeUnit.MILLISECONDS), o.getDelay(TimeUnit.MILLISECONDS));
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            cancelled = true;
            return true;
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean isDone() {
            return cancelled;
        }

        @Override
        public Object get() {
            return null;
        }

        @Override
        public Object get(long timeout, TimeUnit unit) {
            return null;
        }
    }
}
