package org.flserver.inference.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.djl.ModuleCache.Use;
import org.junit.jupiter.api.Test;

/** The module cache's bookkeeping, with stand-in modules (no libtorch). */
class ModuleCacheTest {

    static final class Fake implements ModuleCache.Module {
        final String sha;
        final Use use;
        volatile boolean closed;

        Fake(String sha, Use use) {
            this.sha = sha;
            this.use = use;
        }

        @Override
        public void close() {
            assertFalse(closed, "closed twice: " + sha);
            closed = true;
        }
    }

    final List<Fake> loaded = new ArrayList<>();
    final AtomicInteger loads = new AtomicInteger();

    ModuleCache<Fake> cache(int max) {
        return new ModuleCache<>(max, 2, (file, use) -> {
            loads.incrementAndGet();
            if (file.sha256().startsWith("bad")) {
                throw new InferenceException(400, "not TorchScript: " + file.sha256());
            }
            Fake f = new Fake(file.sha256(), use);
            synchronized (loaded) {
                loaded.add(f);
            }
            return f;
        });
    }

    static ModuleFile file(String sha) {
        return new ModuleFile(sha, Path.of("/nowhere", sha));
    }

    @Test
    void sharedModulesAreLoadedOnceAndEvictedLeastRecentlyUsedFirst() throws Exception {
        ModuleCache<Fake> cache = cache(2);
        Fake a;
        try (var lease = cache.acquire(file("a"), Use.SHARED)) {
            a = lease.module();
        }
        try (var lease = cache.acquire(file("a"), Use.SHARED)) {
            assertSame(a, lease.module());
        }
        Fake b = use(cache, "b");
        use(cache, "a"); // a is now the most recently used
        Fake c = use(cache, "c"); // evicts b
        assertTrue(b.closed);
        assertFalse(a.closed);
        assertFalse(c.closed);
        assertEquals(2, cache.size(Use.SHARED));
        assertEquals(3, loads.get());
        assertNotSame(b, use(cache, "b")); // loaded again, evicting a
        assertTrue(a.closed);
        cache.close();
        assertTrue(loaded.stream().allMatch(f -> f.closed));
        assertThrows(IllegalStateException.class, () -> cache.acquire(file("a"), Use.SHARED));
    }

    @Test
    void aModuleInUseIsClosedOnlyWhenItsLastLeaseEnds() throws Exception {
        ModuleCache<Fake> cache = cache(1);
        var first = cache.acquire(file("a"), Use.SHARED);
        var second = cache.acquire(file("a"), Use.SHARED);
        use(cache, "b"); // evicts a while two calls hold it
        assertFalse(first.module().closed);
        first.close();
        first.close(); // a second close of one lease counts once
        assertFalse(second.module().closed);
        second.close();
        assertTrue(second.module().closed);
    }

    @Test
    void privateInstancesAreOnePerLeaseAndAFewIdleOnesAreKept() throws Exception {
        ModuleCache<Fake> cache = cache(4);
        var l1 = cache.acquire(file("a"), Use.PRIVATE);
        var l2 = cache.acquire(file("a"), Use.PRIVATE);
        var l3 = cache.acquire(file("a"), Use.PRIVATE);
        assertNotSame(l1.module(), l2.module());
        assertNotSame(l2.module(), l3.module());
        Fake shared = use(cache, "a");
        assertFalse(List.of(l1.module(), l2.module(), l3.module()).contains(shared));
        l1.close();
        l2.close();
        l3.close(); // two are kept idle, the third closed
        assertEquals(1, List.of(l1.module(), l2.module(), l3.module()).stream().filter(f -> f.closed).count());
        try (var again = cache.acquire(file("a"), Use.PRIVATE)) {
            assertFalse(again.module().closed);
            assertEquals(4 + 0, loads.get()); // reused, not loaded
        }
        cache.close();
        assertTrue(loaded.stream().allMatch(f -> f.closed));
    }

    @Test
    void aFileThatDoesNotLoadIsRefusedAgainWithoutLoadingAgain() {
        ModuleCache<Fake> cache = cache(2);
        for (int i = 0; i < 3; i++) {
            InferenceException e = assertThrows(InferenceException.class, () -> cache.acquire(file("bad1"), Use.SHARED));
            assertEquals(400, e.status());
        }
        assertEquals(1, loads.get());
    }

    @Test
    void concurrentFirstUsesOfOneModuleLoadItOnce() throws Exception {
        ModuleCache<Fake> cache = cache(2);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Fake>> futures = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            futures.add(pool.submit(() -> {
                go.await();
                try (var lease = cache.acquire(file("a"), Use.SHARED)) {
                    return lease.module();
                }
            }));
        }
        go.countDown();
        Fake first = futures.get(0).get(10, TimeUnit.SECONDS);
        for (Future<Fake> f : futures) {
            assertSame(first, f.get(10, TimeUnit.SECONDS));
        }
        pool.shutdown();
        assertEquals(1, loads.get());
    }

    private static Fake use(ModuleCache<Fake> cache, String sha) throws InferenceException {
        try (var lease = cache.acquire(file(sha), Use.SHARED)) {
            return lease.module();
        }
    }
}
