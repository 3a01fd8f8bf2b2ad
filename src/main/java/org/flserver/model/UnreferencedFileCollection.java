package org.flserver.model;

import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Runs the collection of unreferenced stored files ({@link UnreferencedFiles}) on this instance
 * every {@code fl.files.collect-interval-seconds} (an hour), the first time ten minutes (or one
 * interval, if shorter) after the start. Files are collected once no one has written or stored
 * them again for {@code fl.files.unreferenced-max-idle-hours} (24, at least 1): far longer than any
 * upload or aggregation takes between storing its file and committing the row that names it.
 * Every instance runs it; they share the store and the protocol lets them.
 */
@ApplicationScoped
public class UnreferencedFileCollection {

    private static final Logger LOG = Logger.getLogger(UnreferencedFileCollection.class.getName());

    /** The first collection after a start comes after one interval, or after ten minutes if that is sooner. */
    private static final long FIRST_RUN_AT_MOST_MILLIS = 10 * 60 * 1000;

    /** Hashes looked up in one query (eight IN lists of this many parameters). */
    private static final int BATCH = 500;

    @Resource(lookup = "java:comp/DefaultManagedThreadFactory")
    ManagedThreadFactory threadFactory;

    @Inject
    ModelFiles files;

    @Inject
    StoredFileReferences references;

    @Inject
    @ConfigProperty(name = "fl.files.collect-interval-seconds", defaultValue = "3600")
    double intervalSeconds;

    @Inject
    @ConfigProperty(name = "fl.files.unreferenced-max-idle-hours", defaultValue = "24")
    long maxIdleHours;

    private volatile ScheduledThreadPoolExecutor executor;

    void start(@Observes @Initialized(ApplicationScoped.class) Object applicationStarted) {
        long period = Math.max(1000, (long) (intervalSeconds * 1000));
        executor = new ScheduledThreadPoolExecutor(1, threadFactory);
        // not at start (keeps starts light), but soon after: a server restarted more often than the
        // interval still collects
        executor.scheduleWithFixedDelay(this::collect, Math.min(period, FIRST_RUN_AT_MOST_MILLIS), period,
                TimeUnit.MILLISECONDS);
    }

    @PreDestroy
    void stop() {
        ScheduledThreadPoolExecutor e = executor;
        if (e != null) {
            e.shutdownNow();
        }
    }

    /** One collection; a failure is logged, and the next interval tries again. */
    void collect() {
        try {
            Instant idleSince = Instant.now().minus(Duration.ofHours(Math.max(1, maxIdleHours)));
            UnreferencedFiles.Collected c = new UnreferencedFiles(files.filesDirectory(), references::named, BATCH)
                    .collect(idleSince);
            if (c.files() > 0) {
                LOG.info(() -> "deleted " + c.files() + " stored file(s) that no model, model version or SWAG"
                        + " statistics names any more (" + c.bytes() / (1 << 20) + " MiB)");
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "collecting unreferenced stored files: " + e.getMessage(), e);
        }
    }
}
