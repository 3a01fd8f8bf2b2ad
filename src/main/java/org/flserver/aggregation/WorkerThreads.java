package org.flserver.aggregation;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * Runs one share of work on each of N threads (this one and N − 1 daemon threads), each share
 * stopping early once another has failed, and rethrows the first failure: how the aggregation's
 * passes divide their units of work.
 */
final class WorkerThreads {

    /** One thread's share; {@code failed} turns true as soon as any share has thrown. */
    interface Share {
        void run(BooleanSupplier failed) throws Exception;
    }

    private WorkerThreads() {
    }

    /**
     * @param name   prefix of the threads' names
     * @param shares one share per thread; the last runs on the calling thread
     * @throws IOException the first share's IOException, or one wrapping an interruption or a checked failure
     */
    static void run(String name, List<? extends Share> shares) throws IOException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        BooleanSupplier failed = () -> failure.get() != null;
        List<Thread> pool = new ArrayList<>();
        for (int i = 0; i < shares.size(); i++) {
            Share share = shares.get(i);
            Runnable work = () -> {
                try {
                    share.run(failed);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            };
            if (i == shares.size() - 1) {
                work.run();
            } else {
                Thread t = new Thread(work, name + "-" + (i + 1));
                t.setDaemon(true);
                t.start();
                pool.add(t);
            }
        }
        for (Thread t : pool) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure.compareAndSet(null, e);
            }
        }
        Throwable f = failure.get();
        if (f instanceof IOException io) {
            throw io;
        } else if (f instanceof RuntimeException re) {
            throw re;
        } else if (f instanceof Error err) {
            throw err;
        } else if (f != null) {
            throw new IOException("aggregation interrupted", f);
        }
    }
}
