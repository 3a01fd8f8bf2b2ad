package org.flserver.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.enterprise.concurrent.ManagedThreadFactory;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.flserver.model.StoredFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The job worker's handling of what a run throws (docs/design.md §5.2), with an in-memory queue and
 * runner: every failure of a run is recorded as a failed attempt (to be retried), an error does not
 * end the worker's drain for good, and a lease renewal that throws does not end the renewals.
 */
class JobWorkerTest {

    /** The queue's side as the worker sees it: jobs handed out in order, failures and renewals recorded. */
    static final class RecordingQueue extends JobQueue {
        final Deque<ClaimedJob> jobs = new ArrayDeque<>();
        final List<String> failures = Collections.synchronizedList(new ArrayList<>());
        final List<Long> completed = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger renewals = new AtomicInteger();
        CountDownLatch renewed = new CountDownLatch(0);

        @Override
        public synchronized Optional<ClaimedJob> claimNext(String owner, Duration lease, int maxAttempts) {
            return Optional.ofNullable(jobs.poll());
        }

        @Override
        public boolean renew(long jobId, String owner, Duration lease) {
            renewals.incrementAndGet();
            renewed.countDown();
            throw new IllegalStateException("the database is unreachable");
        }

        @Override
        public boolean completeModel(long jobId, String sha256, long size, List<JobInput> inputs,
                                     AggregationOutcome outcome) {
            completed.add(jobId);
            return true;
        }

        @Override
        public void failed(long jobId, String owner, String reason, boolean permanent, int maxAttempts,
                           Duration retryAfter) {
            failures.add(jobId + (permanent ? " permanent " : " retry ") + reason);
        }
    }

    /** A runner that does what the test tells it per job id. */
    static final class ScriptedRunner extends JobRunner {
        interface Step {
            Output run() throws Exception;
        }

        final java.util.Map<Long, Step> steps = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public Output run(JobQueue.ClaimedJob job) throws IOException {
            try {
                return steps.get(job.id()).run();
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private final RecordingQueue queue = new RecordingQueue();
    private final ScriptedRunner runner = new ScriptedRunner();
    private final JobWorker worker = new JobWorker();

    private JobWorker started(double leaseSeconds) {
        worker.queue = queue;
        worker.runner = runner;
        worker.pollSeconds = 3600; // no periodic drain during the test: it calls drain() itself
        worker.leaseSeconds = leaseSeconds;
        worker.maxAttempts = 5;
        worker.threadFactory = new ManagedThreadFactory() {
            @Override
            public Thread newThread(Runnable r) {
                Thread t = new Thread(r, "job-worker-test");
                t.setDaemon(true);
                return t;
            }

            @Override
            public ForkJoinWorkerThread newThread(ForkJoinPool pool) {
                throw new UnsupportedOperationException();
            }
        };
        worker.start(null);
        return worker;
    }

    @AfterEach
    void stop() {
        worker.stop();
    }

    private static JobQueue.ClaimedJob job(long id) {
        return new JobQueue.ClaimedJob(id, UUID.randomUUID(), 0, JobKind.MODEL, 1, "template", List.of(), null,
                null, 0, 1.0);
    }

    private static JobRunner.Output output() {
        return new JobRunner.Output(new StoredFile("out", 1), null, null);
    }

    @Test
    void anErrorOfARunIsAFailedAttemptAndTheWorkerGoesOnWithTheNextJob() {
        started(60);
        queue.jobs.add(job(1));
        queue.jobs.add(job(2));
        runner.steps.put(1L, () -> {
            throw new NoClassDefFoundError("org/example/Missing");
        });
        runner.steps.put(2L, JobWorkerTest::output);

        worker.drain();

        assertEquals(1, queue.failures.size(), queue.failures.toString());
        assertTrue(queue.failures.get(0).startsWith("1 retry NoClassDefFoundError"), queue.failures.toString());
        assertEquals(List.of(2L), queue.completed);
    }

    @Test
    void anOutOfMemoryErrorIsRecordedEndsThePassAndTheNextDrainRunsTheNextJob() {
        started(60);
        queue.jobs.add(job(1));
        queue.jobs.add(job(2));
        runner.steps.put(1L, () -> {
            throw new OutOfMemoryError("Java heap space");
        });
        runner.steps.put(2L, JobWorkerTest::output);

        worker.drain(); // must not throw: it is the body of the periodic task
        assertEquals(List.of("1 retry OutOfMemoryError: Java heap space"), queue.failures);
        assertEquals(List.of(), queue.completed, "the pass ended after the virtual machine error");

        worker.drain();
        assertEquals(List.of(2L), queue.completed);
    }

    @Test
    void aRenewalThatThrowsDoesNotEndTheRenewals() {
        started(0.15); // renewals every 50 ms
        queue.renewed = new CountDownLatch(3);
        queue.jobs.add(job(1));
        runner.steps.put(1L, () -> {
            if (!queue.renewed.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("renewed only " + queue.renewals.get() + " times");
            }
            return output();
        });

        worker.drain();

        assertEquals(List.of(), queue.failures);
        assertEquals(List.of(1L), queue.completed);
        assertTrue(queue.renewals.get() >= 3, "renewals: " + queue.renewals.get());
    }
}
