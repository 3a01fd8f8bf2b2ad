package org.flserver.inference.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.flserver.inference.InferenceException;
import org.flserver.inference.worker.WorkerProtocol;
import org.flserver.inference.worker.WorkerProtocol.Limits;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.inference.worker.WorkerProtocol.Request;

/**
 * The warm inference workers, one set per caller and modules: a worker is started for the first
 * request of a {@link Key} and kept for the next ones, so that a model's second request costs a
 * pipe round trip instead of a JVM and libtorch start. A worker never changes hands: it serves only
 * its key's owner and modules until it is ended (evicted for room, idle too long, killed at a
 * deadline, or broken), so no memory of one user's requests is ever reused for another's.
 *
 * <p>Fairness: each owner may have at most {@code workersPerOwner} workers, so one user's slow or
 * hostile models occupy at most that many processes (its further requests wait in its own queue);
 * all owners together at most {@code maxWorkers}, where idle workers of others are evicted to make
 * room. Every request has a deadline: a worker still running at its deadline, or whose caller went
 * away, is killed, and its slot freed for the next.
 */
public final class WorkerPool implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(WorkerPool.class.getName());

    /** How often running requests are checked for their caller having gone. */
    private static final long WATCH_MILLIS = 100;

    /** Whose worker for which modules (file hash to file): the unit of isolation and reuse. */
    public record Key(String owner, SortedMap<String, Path> modules) {
    }

    /**
     * The pool's bounds.
     *
     * @param maxWorkers      workers of all owners together
     * @param workersPerOwner workers one owner may have
     * @param startTimeout    how long a worker may take to start
     * @param idleTimeout     how long an idle worker is kept
     * @param replyLimits     what a worker's reply may hold
     */
    public record Settings(int maxWorkers, int workersPerOwner, Duration startTimeout, Duration idleTimeout,
                           Limits replyLimits) {
    }

    private final WorkerLauncher launcher;
    private final Settings settings;
    private final ThreadFactory threads;
    private final ScheduledExecutorService watchdog;

    private final Map<Key, Deque<WorkerProcess>> idle = new LinkedHashMap<>(); // guarded by this
    private final Map<String, Integer> perOwner = new HashMap<>(); // guarded by this
    private final Set<WorkerProcess> running = new HashSet<>(); // guarded by this: every worker started
    private int live; // guarded by this
    private boolean closed; // guarded by this
    private long started; // guarded by this

    public WorkerPool(WorkerLauncher launcher, Settings settings, ThreadFactory threads) {
        this.launcher = launcher;
        this.settings = settings;
        this.threads = threads;
        this.watchdog = Executors.newSingleThreadScheduledExecutor(threads);
        watchdog.scheduleWithFixedDelay(this::evictIdle, 10, 10, TimeUnit.SECONDS);
    }

    /**
     * Runs {@code request} in a worker of {@code key} and returns its reply, or fails with the
     * status the caller deserves: 504 when the deadline passed (the worker was killed), 503 when no
     * worker could be had in time or the caller went away, 400 when the worker died while running
     * the model (it crashed or broke a limit).
     *
     * @param deadline  {@link System#nanoTime()} by which the reply must be there
     * @param cancelled true once the caller is gone (checked every {@value #WATCH_MILLIS} ms)
     */
    public Reply run(Key key, Request request, long deadline, BooleanSupplier cancelled) throws InferenceException {
        WorkerProcess worker = acquire(key, deadline);
        boolean reusable = false;
        ScheduledFuture<?> watch = watch(worker, deadline, cancelled);
        try {
            Reply reply = worker.call(request, settings.replyLimits());
            reusable = true;
            return reply;
        } catch (IOException e) {
            throw failure(worker, e, "running the model");
        } finally {
            watch.cancel(false);
            release(worker, reusable && worker.alive());
        }
    }

    /** Workers one owner has now, running or idle (for tests). */
    public synchronized int liveWorkersOf(String owner) {
        return perOwner.getOrDefault(owner, 0);
    }

    /** Workers started since the pool was made (for tests). */
    public synchronized long startedWorkers() {
        return started;
    }

    @Override
    public void close() {
        List<WorkerProcess> ending;
        synchronized (this) {
            closed = true;
            // busy ones too: their callers' waits end with the pipe
            ending = new ArrayList<>(running);
            idle.clear();
            notifyAll();
        }
        ending.forEach(w -> w.kill(WorkerProcess.KillReason.CLOSED));
        watchdog.shutdownNow();
    }

    /** An idle worker of {@code key}, or a new one once the owner and the pool have room. */
    private WorkerProcess acquire(Key key, long deadline) throws InferenceException {
        List<WorkerProcess> evicted = new ArrayList<>();
        try {
            synchronized (this) {
                while (true) {
                    if (closed) {
                        throw new InferenceException(503, "Inference is shutting down.");
                    }
                    Deque<WorkerProcess> ready = idle.get(key);
                    while (ready != null && !ready.isEmpty()) {
                        WorkerProcess w = ready.pollLast();
                        if (w.alive()) {
                            return w;
                        }
                        forget(w);
                    }
                    if (perOwner.getOrDefault(key.owner(), 0) >= settings.workersPerOwner()) {
                        // the owner's idle workers for other modules make room for this one
                        WorkerProcess own = oldestIdle(key.owner());
                        if (own != null) {
                            evicted.add(own);
                            forget(own);
                        }
                    }
                    if (perOwner.getOrDefault(key.owner(), 0) < settings.workersPerOwner()) {
                        if (live >= settings.maxWorkers()) {
                            WorkerProcess victim = oldestIdle(null);
                            if (victim != null) {
                                evicted.add(victim);
                                forget(victim);
                            }
                        }
                        if (live < settings.maxWorkers()) {
                            live++;
                            started++;
                            perOwner.merge(key.owner(), 1, Integer::sum);
                            break;
                        }
                    }
                    long wait = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                    if (wait <= 0) {
                        throw new InferenceException(503, "Every inference worker this request may use is busy;"
                                + " try again later.");
                    }
                    wait(Math.min(wait, 1000));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InferenceException(503, "Inference was interrupted.");
        } finally {
            evicted.forEach(w -> w.kill(WorkerProcess.KillReason.EVICTED));
        }
        return start(key, deadline);
    }

    /** Starts a worker for {@code key} in the slot the caller reserved; frees the slot on failure. */
    private WorkerProcess start(Key key, long deadline) throws InferenceException {
        WorkerProcess worker;
        try {
            worker = WorkerProcess.start(key, launcher.worker(key.modules()), threads);
            synchronized (this) {
                running.add(worker);
                if (closed) {
                    worker.kill(WorkerProcess.KillReason.CLOSED);
                }
            }
        } catch (IOException e) {
            freeSlot(key);
            LOG.log(Level.WARNING, "an inference worker could not be started", e);
            throw new InferenceException(503, "An inference worker could not be started: " + e.getMessage());
        }
        long startBy = Math.min(deadline, System.nanoTime() + settings.startTimeout().toNanos());
        ScheduledFuture<?> watch = watch(worker, startBy, () -> false);
        try {
            worker.awaitReady();
            LOG.fine(() -> "inference worker " + worker.pid() + " ready: " + worker.description());
            return worker;
        } catch (IOException e) {
            InferenceException failure = failure(worker, e, "starting");
            release(worker, false);
            throw failure.status() == 400
                    ? new InferenceException(503, "An inference worker could not be started; see the server log.")
                    : failure;
        } finally {
            watch.cancel(false);
        }
    }

    /** Kills the worker at the deadline or as soon as its caller is gone. */
    private ScheduledFuture<?> watch(WorkerProcess worker, long deadline, BooleanSupplier cancelled) {
        return watchdog.scheduleWithFixedDelay(() -> {
            if (System.nanoTime() - deadline >= 0) {
                worker.kill(WorkerProcess.KillReason.DEADLINE);
            } else if (cancelled.getAsBoolean()) {
                worker.kill(WorkerProcess.KillReason.CANCELLED);
            }
        }, Math.min(WATCH_MILLIS, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))),
                WATCH_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** What a caller is told when its worker's pipe broke, by why the worker ended. */
    private InferenceException failure(WorkerProcess worker, IOException e, String doing) {
        WorkerProcess.KillReason reason = worker.killReason();
        if (reason == null) {
            worker.kill(WorkerProcess.KillReason.BROKEN);
            worker.awaitExit(Duration.ofSeconds(2));
            LOG.warning(() -> "inference worker " + worker.pid() + " ended while " + doing + " (exit status "
                    + worker.exitStatus() + ", " + e + "); its last output: " + worker.errorTail());
            if (e instanceof WorkerProtocol.OutputRefused refused) {
                // the model answered, with an output the server does not take: say so, not "crashed"
                return new InferenceException(400, refused.getMessage());
            }
            return new InferenceException(400, "The inference worker running this model stopped (the model crashed"
                    + " it or exceeded its memory or another limit).");
        }
        return switch (reason) {
            case DEADLINE -> new InferenceException(504, "The model did not finish in time: its run was stopped"
                    + " (fl.inference.timeout-seconds).");
            case CANCELLED -> new InferenceException(503, "The request was cancelled.");
            default -> new InferenceException(503, "Inference is shutting down.");
        };
    }

    private void release(WorkerProcess worker, boolean reusable) {
        if (reusable) {
            synchronized (this) {
                if (!closed) {
                    worker.markIdle(System.nanoTime());
                    idle.computeIfAbsent(worker.key, k -> new ArrayDeque<>()).addLast(worker);
                    notifyAll();
                    return;
                }
            }
        }
        worker.kill(WorkerProcess.KillReason.CLOSED);
        forget(worker);
    }

    /** Frees the slot of a worker that ended (or never started). */
    private synchronized void freeSlot(Key key) {
        live--;
        perOwner.computeIfPresent(key.owner(), (k, n) -> n > 1 ? n - 1 : null);
        notifyAll();
    }

    /** Takes a worker, idle or not, out of the pool's books and frees its slot (the caller kills it). */
    private synchronized void forget(WorkerProcess w) {
        running.remove(w);
        Deque<WorkerProcess> q = idle.get(w.key);
        if (q != null && q.remove(w) && q.isEmpty()) {
            idle.remove(w.key);
        }
        freeSlot(w.key);
    }

    /** The idle worker idle longest, of {@code owner} or (null) of anyone. */
    private WorkerProcess oldestIdle(String owner) {
        WorkerProcess oldest = null;
        for (Deque<WorkerProcess> q : idle.values()) {
            for (WorkerProcess w : q) {
                if (owner != null && !owner.equals(w.key.owner())) {
                    continue;
                }
                if (oldest == null || w.idleSince() - oldest.idleSince() < 0) {
                    oldest = w;
                }
            }
        }
        return oldest;
    }

    /** Ends workers idle for longer than the idle timeout, and idle ones that died. */
    private void evictIdle() {
        List<WorkerProcess> ending = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            for (Deque<WorkerProcess> q : idle.values()) {
                for (WorkerProcess w : q) {
                    if (!w.alive() || now - w.idleSince() > settings.idleTimeout().toNanos()) {
                        ending.add(w);
                    }
                }
            }
            ending.forEach(this::forget);
        }
        ending.forEach(w -> w.kill(WorkerProcess.KillReason.EVICTED));
    }
}
