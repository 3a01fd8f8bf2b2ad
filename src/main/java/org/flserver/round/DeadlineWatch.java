package org.flserver.round;

import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Enforces phase deadlines on this instance (design.md §5.4): polls the {@code collection_phase}
 * table every {@code fl.deadlines.poll-seconds} (1 s) for open phases whose deadline passed, and
 * closes each through {@link PhaseDeadlines} (claim with a lease, then close under the training's
 * row lock). A transaction that opens a phase with a deadline also schedules a wake-up at that
 * moment, so a phase closes within milliseconds of its deadline on the instance that opened it;
 * the wake-up is only that — after a restart, or on another instance, the poll finds the row.
 */
@ApplicationScoped
public class DeadlineWatch {

    private static final Logger LOG = Logger.getLogger(DeadlineWatch.class.getName());

    /** Phases closed per pass; the pass repeats while it finds that many. */
    private static final int BATCH = 32;

    @Resource(lookup = "java:comp/DefaultManagedThreadFactory")
    ManagedThreadFactory threadFactory;

    @Inject
    PhaseDeadlines deadlines;

    @Inject
    @ConfigProperty(name = "fl.deadlines.poll-seconds", defaultValue = "1")
    double pollSeconds;

    /** How long a claim keeps other instances off a due phase (closing takes milliseconds). */
    @Inject
    @ConfigProperty(name = "fl.deadlines.lease-seconds", defaultValue = "30")
    double leaseSeconds;

    private final String owner = JobWorker.ownerName();
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean again = new AtomicBoolean();
    private volatile ScheduledThreadPoolExecutor executor;

    void start(@Observes @Initialized(ApplicationScoped.class) Object applicationStarted) {
        long period = Math.max(100, (long) (pollSeconds * 1000));
        executor = new ScheduledThreadPoolExecutor(1, threadFactory);
        executor.setRemoveOnCancelPolicy(true);
        // the first pass one period after start: deadlines that passed while no instance ran close then
        executor.scheduleWithFixedDelay(this::pass, period, period, TimeUnit.MILLISECONDS);
        LOG.info(() -> "deadline watch " + owner + " polls every " + period + " ms");
    }

    /** A phase with a deadline was opened and its transaction committed: wake at the deadline. */
    void deadlineSet(@Observes(during = TransactionPhase.AFTER_SUCCESS) DeadlineSet event) {
        ScheduledThreadPoolExecutor e = executor;
        if (e != null) {
            long delay = Math.max(0, Duration.between(OffsetDateTime.now(), event.dueAt()).toMillis());
            e.schedule(this::pass, delay, TimeUnit.MILLISECONDS);
        }
    }

    @PreDestroy
    void stop() {
        ScheduledThreadPoolExecutor e = executor;
        if (e != null) {
            e.shutdownNow();
        }
    }

    /** Closes every due phase it can claim; one pass at a time per instance. */
    void pass() {
        if (!running.compareAndSet(false, true)) {
            again.set(true);
            return;
        }
        try {
            do {
                again.set(false);
                boolean full;
                do {
                    var due = deadlines.due(BATCH);
                    full = due.size() == BATCH;
                    for (long id : due) {
                        closeOne(id);
                    }
                } while (full);
            } while (again.get());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "deadline watch: " + e.getMessage(), e);
        } finally {
            running.set(false);
        }
    }

    private void closeOne(long id) {
        try {
            if (deadlines.claim(id, owner, Duration.ofMillis((long) (leaseSeconds * 1000)))) {
                long started = System.nanoTime();
                boolean closed = deadlines.close(id);
                LOG.fine(() -> "phase " + id + (closed ? " closed at its deadline in " : " was closed elsewhere; ")
                        + (System.nanoTime() - started) / 1_000_000 + " ms");
            }
        } catch (RuntimeException e) {
            // the lease runs out and this or another instance tries again
            LOG.log(Level.WARNING, "closing phase " + id + " at its deadline failed: " + e.getMessage(), e);
        }
    }
}
