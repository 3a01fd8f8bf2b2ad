package org.flserver.model;

import org.flserver.user.RetryLater;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The upload checks' slots: no more checks run at once than there are slots, one that finds none
 * free in time is a 503 with Retry-After (and does not run), and a slot comes back when its check
 * ends, also when the check throws.
 */
class WeightCheckSlotsTest {

    @Test
    void aCheckWithoutAFreeSlotIsRefusedAndSlotsComeBack() throws Exception {
        WeightCheckSlots slots = new WeightCheckSlots(2, 50);
        CountDownLatch running = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?>[] holders = new Future<?>[2];
            for (int i = 0; i < 2; i++) {
                holders[i] = pool.submit(() -> slots.check(() -> {
                    running.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            assertTrue(running.await(30, java.util.concurrent.TimeUnit.SECONDS), "both slots taken");
            boolean[] ran = {false};
            RetryLater refused = assertThrows(RetryLater.class, () -> slots.check(() -> {
                ran[0] = true;
            }));
            assertEquals(503, refused.status());
            assertEquals(10, refused.seconds(), "Retry-After");
            assertEquals(false, ran[0], "a refused check does not run");
            release.countDown();
            for (Future<?> f : holders) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThrows(IllegalArgumentException.class, () -> slots.check(() -> {
            throw new IllegalArgumentException("a refused file");
        }));
        // both slots are free again, also after the check that threw
        CountDownLatch both = new CountDownLatch(2);
        ExecutorService again = Executors.newFixedThreadPool(2);
        try {
            Future<?> a = again.submit(() -> slots.check(() -> awaitBoth(both)));
            Future<?> b = again.submit(() -> slots.check(() -> awaitBoth(both)));
            a.get();
            b.get();
        } finally {
            again.shutdownNow();
        }
        assertEquals(42, (int) slots.check(() -> 42));
    }

    /** Returns only once two checks are inside their slots at the same time (fails after 30 s). */
    private static void awaitBoth(CountDownLatch both) {
        both.countDown();
        try {
            if (!both.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
                throw new IllegalStateException("the two slots were not free at once");
            }
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
