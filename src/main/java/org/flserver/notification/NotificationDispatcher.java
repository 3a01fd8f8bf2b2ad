package org.flserver.notification;

import jakarta.annotation.Resource;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.notification.DeliveryPolicy.Attempt;
import org.flserver.notification.DeliveryPolicy.Decision;
import org.flserver.notification.NotificationStore.Delivery;
import org.flserver.notification.NotificationStore.Due;

/**
 * Delivers the outbox (design.md §5, api.md §8.2): claims due notifications with a lease, POSTs
 * them outside any transaction, and records each outcome in a transaction of its own.
 *
 * <p><b>When it runs.</b> A dispatch pass starts right after a transaction that queued
 * notifications commits (so a round's notifications leave within milliseconds), when a retry
 * falls due, when a delivery ends (the receiver's next notification may now go), and every poll
 * interval (for rows another instance queued, and leases of a dead instance that ran out). Passes
 * never overlap on one instance; several instances on one database are kept apart by the
 * conditional claim.
 *
 * <p><b>Order.</b> Only the oldest PENDING notification of each receiver is ever claimed, so a
 * receiver's next notification waits until the one before is SENT, REJECTED, FAILED or CANCELLED
 * — including while the one before waits for a retry. That is what makes every participant see
 * TRAINING_START before its first UPDATE_ROUND_START. Different receivers are served in parallel,
 * at most {@code fl.notification.parallelism} at a time per instance.
 *
 * <p><b>Threads.</b> Its own small pool, made from the container's managed thread factory so the
 * threads carry the application's context (EJB calls, JNDI). Not the default managed executors:
 * Payara Micro configures them with core pool size 0 and an unbounded queue, which a thread pool
 * serves with a single thread shared by everything that submits to it, and each delivery blocks
 * its thread for up to the connect plus read timeout.
 *
 * <p><b>At least once.</b> If an instance dies between the POST and the record, the lease runs
 * out and the notification is sent again; a receiver can see a notification twice, never zero
 * times once its transaction committed.
 */
@ApplicationScoped
public class NotificationDispatcher {

    private static final Logger LOG = Logger.getLogger(NotificationDispatcher.class.getName());

    @Resource(lookup = "java:comp/DefaultManagedThreadFactory")
    ManagedThreadFactory threadFactory;

    @Inject
    NotificationStore store;

    @Inject
    NotificationNetworks networks;

    @Inject
    HostResolver resolver;

    @Inject
    @ConfigProperty(name = "fl.notification.retry-delays-seconds", defaultValue = DeliveryPolicy.DEFAULT_DELAYS)
    String retryDelays;

    @Inject
    @ConfigProperty(name = "fl.notification.max-attempts", defaultValue = "5")
    int maxAttempts;

    @Inject
    @ConfigProperty(name = "fl.notification.connect-timeout-ms", defaultValue = "10000")
    long connectTimeoutMs;

    @Inject
    @ConfigProperty(name = "fl.notification.read-timeout-ms", defaultValue = "30000")
    long readTimeoutMs;

    @Inject
    @ConfigProperty(name = "fl.notification.poll-interval-ms", defaultValue = "5000")
    long pollIntervalMs;

    @Inject
    @ConfigProperty(name = "fl.notification.parallelism", defaultValue = "8")
    int parallelism;

    /** Names this instance's leases (lease_owner), for diagnosis; a counter makes each one unique. */
    private final String instance = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final AtomicLong leases = new AtomicLong();
    /** Wake-ups not yet served: a pass runs while it is above 0, and only one at a time. */
    private final AtomicInteger passRequests = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();

    private volatile boolean running;
    private ScheduledThreadPoolExecutor pool;
    private HttpNotifier http;
    private DeliveryPolicy policy;
    private Duration lease;

    /** Starts the pool and the poll; called once at deployment, after the schema migrations. */
    public synchronized void start() {
        if (running) {
            return;
        }
        if (connectTimeoutMs < 1 || readTimeoutMs < 1 || pollIntervalMs < 1 || parallelism < 1) {
            throw new IllegalStateException("fl.notification.connect-timeout-ms, read-timeout-ms, poll-interval-ms"
                    + " and parallelism must be positive");
        }
        try {
            policy = DeliveryPolicy.of(retryDelays, maxAttempts);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("fl.notification.retry-delays-seconds / max-attempts: " + e.getMessage(), e);
        }
        Duration connect = Duration.ofMillis(connectTimeoutMs);
        Duration read = Duration.ofMillis(readTimeoutMs);
        http = new HttpNotifier(connect, read, networks.allowed(), resolver::resolve);
        // A try takes at most connect + read; the margin covers recording it. A lease that runs
        // out while its instance is alive would only cause a second delivery, never a lost one.
        lease = connect.plus(read).plusSeconds(60);
        // One thread per delivery in flight, one for the pass, one for the timers.
        pool = new ScheduledThreadPoolExecutor(parallelism + 2, threadFactory);
        pool.setRemoveOnCancelPolicy(true);
        running = true;
        pool.scheduleWithFixedDelay(this::wake, pollIntervalMs, pollIntervalMs, TimeUnit.MILLISECONDS);
        LOG.info(() -> "notification dispatcher " + instance + " started: tries " + maxAttempts + ", retry delays "
                + policy.delays() + ", connect timeout " + connectTimeoutMs + " ms, read timeout " + readTimeoutMs
                + " ms, poll every " + pollIntervalMs + " ms, " + parallelism + " deliveries in parallel, allowed networks "
                + networks.allowed() + " (unspecified, link-local, cloud metadata, multicast and reserved addresses always refused)");
    }

    /**
     * Stops taking work. Deliveries in flight are interrupted and not recorded; their leases run
     * out and another instance, or this one after a restart, sends them again.
     */
    public synchronized void stop() {
        running = false;
        if (pool != null) {
            pool.shutdownNow();
            try {
                pool.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Runs the dispatch right after a transaction that queued notifications has committed. */
    void afterCommit(@Observes(during = TransactionPhase.AFTER_SUCCESS) NotificationsQueued queued) {
        wake();
    }

    /** Asks for a dispatch pass; cheap and safe from any thread, at any time. */
    public void wake() {
        if (!running) {
            return;
        }
        if (passRequests.getAndIncrement() == 0) {
            try {
                pool.execute(this::runPasses);
            } catch (RejectedExecutionException e) {
                passRequests.set(0); // stopping
            }
        }
    }

    /** Passes until no wake-up came in during the last one. */
    private void runPasses() {
        int seen;
        do {
            seen = passRequests.get();
            if (!running) {
                return;
            }
            try {
                pass();
            } catch (RuntimeException e) {
                // The database may be away for a moment; the next wake-up or poll tries again.
                LOG.log(Level.WARNING, "notification dispatch failed: " + e, e);
            }
        } while (!passRequests.compareAndSet(seen, 0));
    }

    private void pass() {
        int free = parallelism - inFlight.get();
        if (free <= 0) {
            return; // a finishing delivery wakes the dispatcher again
        }
        List<Due> due = store.due(OffsetDateTime.now(), free);
        for (Due next : due) {
            OffsetDateTime now = OffsetDateTime.now();
            Optional<Delivery> claimed = store.claim(next, instance + "-" + leases.incrementAndGet(), now, now.plus(lease));
            if (claimed.isPresent()) {
                inFlight.incrementAndGet();
                try {
                    pool.execute(() -> deliver(claimed.get()));
                } catch (RejectedExecutionException e) {
                    inFlight.decrementAndGet(); // stopping; the lease runs out
                    return;
                }
            }
        }
    }

    private void deliver(Delivery delivery) {
        try {
            LOG.log(Level.FINE, () -> "POST " + delivery.endpoint() + " " + delivery.payload());
            Attempt attempt = http.post(delivery.endpoint(), delivery.payload());
            if (!running || Thread.currentThread().isInterrupted()) {
                return; // stopping: the try is not counted, the lease runs out
            }
            Decision decision = policy.decide(delivery.attempts(), attempt);
            if (store.record(delivery, decision, OffsetDateTime.now())) {
                log(delivery, decision);
                if (decision.status() == NotificationStatus.PENDING) {
                    pool.schedule(this::wake, decision.retryAfter().toMillis(), TimeUnit.MILLISECONDS);
                }
            } else {
                LOG.fine(() -> "notification " + delivery.id() + ": outcome not recorded (cancelled or lease lost)");
            }
        } catch (RuntimeException e) {
            // Recording failed (an observer of the delivery events threw, or the database is
            // away): nothing was recorded, and the notification is tried again when its lease
            // runs out.
            LOG.log(Level.SEVERE, "notification " + delivery.id() + " (" + delivery.type() + ", training "
                    + delivery.trainingId() + "): recording the outcome failed: " + e, e);
        } finally {
            inFlight.decrementAndGet();
            wake();
        }
    }

    private static void log(Delivery d, Decision decision) {
        String what = "notification " + d.id() + " " + d.type() + " of training " + d.trainingId() + " to "
                + d.receiverId() + " at " + d.endpoint();
        switch (decision.status()) {
            case SENT -> LOG.fine(() -> what + ": delivered, HTTP " + decision.httpStatus());
            case REJECTED -> LOG.warning(() -> what + ": rejected, HTTP " + decision.httpStatus()
                    + (d.type().roundType() ? "" : " (only recorded)"));
            case FAILED -> LOG.warning(() -> what + ": failed, " + decision.error()
                    + (d.type().roundType() ? "" : " (only recorded)"));
            case PENDING -> LOG.info(() -> what + ": " + decision.error() + "; next try in "
                    + decision.retryAfter().toMillis() + " ms");
            default -> {
            }
        }
    }
}
