package org.flserver.round;

import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.tensor.WeightFileException;

/**
 * Runs aggregation jobs on this server instance: polls the job table every few seconds (and at once
 * when a transaction queued a job), claims one job at a time with a lease, keeps the lease alive
 * while the aggregation runs, and records the outcome. Any number of instances may run a worker
 * against one database; the lease decides who runs a job, the completion under the training's row
 * lock decides that it takes effect once.
 *
 * <p>A failure that a retry cannot cure (the inputs are not aggregatable) fails the job and the
 * training at once; anything else (I/O errors, any other exception or error, a crash of the
 * instance) is retried by whichever worker claims the job next, up to {@code fl.jobs.max-attempts}
 * runs in all — a run that took its instance down counts too ({@link JobQueue#claimNext}).
 */
@ApplicationScoped
public class JobWorker {

    private static final Logger LOG = Logger.getLogger(JobWorker.class.getName());

    /**
     * Threads with the application's context. The worker keeps its own two: one runs the jobs, the
     * other polls and renews the lease of the running job. (Payara's default managed scheduled
     * executor has a single thread, where a long aggregation would starve its own lease renewal.)
     */
    @Resource(lookup = "java:comp/DefaultManagedThreadFactory")
    ManagedThreadFactory threadFactory;

    @Inject
    JobQueue queue;

    @Inject
    JobRunner runner;

    @Inject
    @ConfigProperty(name = "fl.jobs.poll-seconds", defaultValue = "2")
    double pollSeconds;

    @Inject
    @ConfigProperty(name = "fl.jobs.lease-seconds", defaultValue = "60")
    double leaseSeconds;

    @Inject
    @ConfigProperty(name = "fl.jobs.max-attempts", defaultValue = "5")
    int maxAttempts;

    /**
     * Fault injection for the crash test only: the worker holds a claimed job this long before it
     * starts aggregating (renewing the lease meanwhile), so that a test can kill the process while a
     * job is claimed. 0 (the default) in every real deployment.
     */
    @Inject
    @ConfigProperty(name = "fl.jobs.hold-after-claim-seconds", defaultValue = "0")
    double holdAfterClaimSeconds;

    private final String owner = ownerName();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicBoolean wakeAgain = new AtomicBoolean();
    private volatile ScheduledThreadPoolExecutor executor;

    void start(@Observes @Initialized(ApplicationScoped.class) Object applicationStarted) {
        long period = Math.max(100, (long) (pollSeconds * 1000));
        executor = new ScheduledThreadPoolExecutor(2, threadFactory);
        executor.setRemoveOnCancelPolicy(true);
        executor.scheduleWithFixedDelay(this::drain, period, period, TimeUnit.MILLISECONDS);
        LOG.info(() -> "aggregation worker " + owner + " polls every " + period + " ms");
    }

    /** A job was queued and its transaction committed: look for work now. */
    void jobQueued(@Observes(during = TransactionPhase.AFTER_SUCCESS) JobQueued event) {
        ScheduledThreadPoolExecutor e = executor;
        if (e != null) {
            e.execute(this::drain);
        }
    }

    @PreDestroy
    void stop() {
        ScheduledThreadPoolExecutor e = executor;
        if (e != null) {
            e.shutdownNow();
        }
    }

    /** Claims and runs jobs until none is left; one drain at a time per instance. */
    void drain() {
        if (!draining.compareAndSet(false, true)) {
            wakeAgain.set(true);
            return;
        }
        try {
            do {
                wakeAgain.set(false);
                Optional<JobQueue.ClaimedJob> job;
                while ((job = queue.claimNext(owner, lease(), maxAttempts)).isPresent()) {
                    run(job.get());
                }
            } while (wakeAgain.get());
        } catch (Throwable e) {
            // Everything, Errors too: this runs as the periodic task, and a task that throws is never
            // run again by its executor — the instance would stop taking jobs for good.
            LOG.log(Level.SEVERE, "aggregation worker: " + e, e);
        } finally {
            draining.set(false);
        }
    }

    private void run(JobQueue.ClaimedJob job) {
        long period = Math.max(50, (long) (leaseSeconds * 1000 / 3));
        ScheduledFuture<?> renewal = executor.scheduleWithFixedDelay(() -> {
            try {
                if (!queue.renew(job.id(), owner, lease())) {
                    LOG.warning(() -> "aggregation job " + job.id() + ": lease lost");
                }
            } catch (RuntimeException e) {
                // the database was unreachable, say: try again next period (a task that throws is
                // never run again, and the lease would then expire under a healthy run)
                LOG.log(Level.WARNING, "aggregation job " + job.id() + ": the lease could not be renewed", e);
            }
        }, period, period, TimeUnit.MILLISECONDS);
        try {
            if (holdAfterClaimSeconds > 0) {
                LOG.warning(() -> "aggregation job " + job.id() + " claimed by " + owner + "; holding it "
                        + holdAfterClaimSeconds + " s (fl.jobs.hold-after-claim-seconds)");
                Thread.sleep((long) (holdAfterClaimSeconds * 1000));
            }
            long started = System.nanoTime();
            JobRunner.Output output = runner.run(job);
            boolean completed = job.kind() == JobKind.MODEL
                    ? queue.completeModel(job.id(), output.first().sha256(), output.first().size(), job.inputs(),
                            output.outcome())
                    : queue.completeMoments(job.id(), output.first().sha256(), output.second().sha256(), job.inputs());
            LOG.info(() -> "aggregation job " + job.id() + " (" + job.kind() + ", training " + job.trainingId()
                    + ", round " + job.round() + ", " + job.inputs().size() + " updates) "
                    + (completed ? "completed" : "was completed elsewhere or is no longer wanted") + " in "
                    + (System.nanoTime() - started) / 1_000_000 + " ms");
        } catch (WeightFileException e) {
            LOG.warning(() -> "aggregation job " + job.id() + " cannot be aggregated: " + e.getMessage());
            queue.failed(job.id(), owner, e.getMessage(), true, maxAttempts, Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable e) {
            // Anything else — I/O errors, bugs, an OutOfMemoryError of this run — counts as a failed
            // attempt, retried up to fl.jobs.max-attempts. A VirtualMachineError is recorded too (the
            // run's memory is released by now, so recording usually works) and then rethrown: drain()
            // logs it and ends this pass, so the instance takes no further job right away from a JVM in
            // trouble, while its periodic poll lives on. A run that kills the JVM is counted by
            // JobQueue.claimNext instead.
            LOG.log(Level.WARNING, "aggregation job " + job.id() + " failed (attempt " + job.attempts() + ")", e);
            queue.failed(job.id(), owner, e.getClass().getSimpleName() + ": " + e.getMessage(), false, maxAttempts,
                    lease());
            if (e instanceof VirtualMachineError error) {
                throw error;
            }
        } finally {
            renewal.cancel(false);
        }
    }

    private Duration lease() {
        return Duration.ofMillis((long) (leaseSeconds * 1000));
    }

    static String ownerName() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "host";
        }
        String id = host + "-" + UUID.randomUUID().toString().substring(0, 8);
        return id.length() <= 64 ? id : id.substring(id.length() - 64);
    }
}
