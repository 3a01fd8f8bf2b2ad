package org.flserver.inference.djl;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;

/**
 * Loaded modules per file hash, least recently used first out, at most {@code maxEntries} hashes per
 * kind of use. A module is closed (its native memory freed) only once no call holds it: eviction of
 * a module in use just marks it, and the last {@link Lease#close()} closes it.
 *
 * <p>Two kinds of use, two entries per hash: {@link Use#SHARED}, one module in eval mode that any
 * number of concurrent forward and MC-dropout calls run on (both leave it unchanged), and
 * {@link Use#PRIVATE}, modules loaded for writing their parameters (SWAG): each lease holds one
 * instance alone; idle instances are kept for the next call, at most {@code maxIdlePrivate} per hash.
 */
final class ModuleCache<M extends ModuleCache.Module> implements AutoCloseable {

    enum Use { SHARED, PRIVATE }

    /** What the cache holds: something with native memory to free. */
    interface Module {
        void close();
    }

    /** Loads a module file (outside the cache's lock). */
    interface Loader<M> {
        M load(ModuleFile file, Use use) throws InferenceException;
    }

    private record Key(String sha256, Use use) {
    }

    private final int maxEntries;
    private final int maxIdlePrivate;
    private final Loader<M> loader;
    private final LinkedHashMap<Key, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private boolean closed;

    ModuleCache(int maxEntries, int maxIdlePrivate, Loader<M> loader) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("at least one cached model, not " + maxEntries);
        }
        this.maxEntries = maxEntries;
        this.maxIdlePrivate = maxIdlePrivate;
        this.loader = loader;
    }

    /** A module for the caller's use until {@link Lease#close()}. */
    Lease acquire(ModuleFile file, Use use) throws InferenceException {
        Entry entry;
        List<Entry> evicted = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the inference backend is closed");
            }
            Key key = new Key(file.sha256(), use);
            entry = entries.get(key);
            if (entry == null) {
                entry = new Entry();
                entries.put(key, entry);
                int sameUse = 0;
                for (Key k : entries.keySet()) {
                    if (k.use() == use) {
                        sameUse++;
                    }
                }
                for (Iterator<Map.Entry<Key, Entry>> it = entries.entrySet().iterator();
                     it.hasNext() && sameUse > maxEntries; ) {
                    Map.Entry<Key, Entry> eldest = it.next();
                    if (eldest.getKey().use() == use) {
                        it.remove();
                        evicted.add(eldest.getValue());
                        sameUse--;
                    }
                }
            }
            entry.users++;
        }
        evicted.forEach(Entry::evict);
        try {
            M module = use == Use.SHARED ? entry.shared(file) : entry.takePrivate(file);
            return new Lease(entry, module, use);
        } catch (InferenceException | RuntimeException | Error e) {
            release(entry, null, use);
            throw e;
        }
    }

    /** How many hashes are loaded for {@code use} (tests). */
    synchronized int size(Use use) {
        return (int) entries.keySet().stream().filter(k -> k.use() == use).count();
    }

    private void release(Entry entry, M module, Use use) {
        boolean closeAll;
        synchronized (this) {
            entry.users--;
            closeAll = entry.users == 0 && entry.evicted;
        }
        if (module != null && use == Use.PRIVATE) {
            entry.returnPrivate(module, maxIdlePrivate);
        }
        if (closeAll) {
            entry.closeModules();
        }
    }

    @Override
    public void close() {
        List<Entry> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(entries.values());
            entries.clear();
        }
        all.forEach(Entry::evict);
    }

    /** A module held by one call. */
    final class Lease implements AutoCloseable {
        private final Entry entry;
        private final M module;
        private final Use use;
        private boolean released;

        private Lease(Entry entry, M module, Use use) {
            this.entry = entry;
            this.module = module;
            this.use = use;
        }

        M module() {
            return module;
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                release(entry, module, use);
            }
        }
    }

    /** One hash and use: the shared module (loaded once), or idle private instances. */
    private final class Entry {
        int users; // guarded by ModuleCache.this
        boolean evicted; // guarded by ModuleCache.this

        private M shared; // guarded by this
        private InferenceException failure; // guarded by this: a file that did not load, answered again
        private final Deque<M> idle = new ArrayDeque<>(); // guarded by this
        private boolean modulesClosed; // guarded by this

        synchronized M shared(ModuleFile file) throws InferenceException {
            if (failure != null) {
                throw new InferenceException(failure.status(), failure.getMessage());
            }
            if (shared == null) {
                try {
                    shared = loader.load(file, Use.SHARED);
                } catch (InferenceException e) {
                    failure = e;
                    throw e;
                }
            }
            return shared;
        }

        M takePrivate(ModuleFile file) throws InferenceException {
            synchronized (this) {
                if (failure != null) {
                    throw new InferenceException(failure.status(), failure.getMessage());
                }
                M m = idle.pollFirst();
                if (m != null) {
                    return m;
                }
            }
            try {
                return loader.load(file, Use.PRIVATE); // concurrent callers load their own instances
            } catch (InferenceException e) {
                synchronized (this) {
                    failure = e;
                }
                throw e;
            }
        }

        void returnPrivate(M m, int maxIdle) {
            synchronized (this) {
                if (!modulesClosed && idle.size() < maxIdle) {
                    idle.addFirst(m);
                    return;
                }
            }
            m.close();
        }

        void evict() {
            boolean closeNow;
            synchronized (ModuleCache.this) {
                evicted = true;
                closeNow = users == 0;
            }
            if (closeNow) {
                closeModules();
            }
        }

        synchronized void closeModules() {
            if (modulesClosed) {
                return;
            }
            modulesClosed = true;
            if (shared != null) {
                shared.close();
                shared = null;
            }
            idle.forEach(Module::close);
            idle.clear();
        }
    }
}
