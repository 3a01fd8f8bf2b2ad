package org.flserver.model;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.user.RetryLater;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Bounds how many uploaded weight files the server reads at once: the upload checks, and the
 * tensor files sent as inference inputs and the stored models read for a model's statistics, which
 * every request may ask for. Reading one such file may cost
 * up to the pickle interpreter's heap budget (128 MiB, {@code SymbolicPickle.MAX_HEAP_BYTES}) on
 * top of the readers' buffers, and that budget is per file: without a bound, a few dozen concurrent
 * uploads of hostile pickles multiply it into an OutOfMemoryError that takes every other request
 * down too. A check that finds no free slot within {@code fl.upload.check-wait-millis} gets a 503
 * with {@code Retry-After} instead of queueing without end; its upload is then not kept.
 */
@ApplicationScoped
public class WeightCheckSlots {

    /** 0: one per processor. */
    @Inject
    @ConfigProperty(name = "fl.upload.concurrent-checks", defaultValue = "0")
    int configuredSlots;

    @Inject
    @ConfigProperty(name = "fl.upload.check-wait-millis", defaultValue = "10000")
    long waitMillis;

    private Semaphore slots;

    public WeightCheckSlots() {
        // for CDI
    }

    /** For tests: {@code slots} checks at once, each waiting at most {@code waitMillis} for a slot. */
    WeightCheckSlots(int slots, long waitMillis) {
        this.configuredSlots = slots;
        this.waitMillis = waitMillis;
        init();
    }

    @PostConstruct
    void init() {
        int n = configuredSlots > 0 ? configuredSlots : Runtime.getRuntime().availableProcessors();
        slots = new Semaphore(n, true); // fair: the longest-waiting upload goes first
    }

    /** A check: reads files, returns what it found or throws. */
    @FunctionalInterface
    public interface Check<T, E extends Exception> {
        T run() throws E;
    }

    /** Runs a check in a slot; 503 when none was free in time. */
    public <T, E extends Exception> T check(Check<T, E> check) throws E {
        acquire();
        try {
            return check.run();
        } finally {
            slots.release();
        }
    }

    /** {@link #check(Check)} for checks without a result. */
    public void check(Runnable check) {
        check(() -> {
            check.run();
            return null;
        });
    }

    private void acquire() {
        boolean acquired;
        try {
            acquired = slots.tryAcquire(waitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            acquired = false;
        }
        if (!acquired) {
            throw RetryLater.unavailable("Too many weight files are being read at once. Try again in 10 seconds.", 10);
        }
    }
}
