package org.flserver.user;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Runs a piece of work once for all callers that ask for the same key at the same time: the first
 * caller (the leader) runs it, the others wait for the leader's result instead of doing the same
 * work again. Nothing is remembered afterwards; a later call runs the work anew.
 *
 * <p>Why: a client that opens many connections at once and sends the same Basic header on each
 * would otherwise start one PBKDF2 verification per connection, all competing for the CPU, before
 * the first of them could fill the cache of verified headers.
 */
final class SingleFlight<K, V> {

    private record Flight<V>(CompletableFuture<V> result, AtomicInteger followers) {
    }

    private final Map<K, Flight<V>> running = new ConcurrentHashMap<>();

    /** The work's result, computed by this caller or by the one already computing it for this key. */
    V run(K key, Supplier<V> work) {
        Flight<V> mine = new Flight<>(new CompletableFuture<>(), new AtomicInteger());
        Flight<V> other = running.putIfAbsent(key, mine);
        if (other != null) {
            other.followers().incrementAndGet();
            try {
                return other.result().join();
            } catch (CompletionException e) {
                // the leader's own exception, so that followers fail exactly as the leader did
                if (e.getCause() instanceof RuntimeException cause) {
                    throw cause;
                }
                if (e.getCause() instanceof Error cause) {
                    throw cause;
                }
                throw e;
            }
        }
        try {
            V value = work.get();
            mine.result().complete(value);
            return value;
        } catch (RuntimeException | Error e) {
            mine.result().completeExceptionally(e);
            throw e;
        } finally {
            running.remove(key, mine);
        }
    }

    /** How many callers are waiting for the running work of this key (0 when none runs). */
    int followers(K key) {
        Flight<V> flight = running.get(key);
        return flight == null ? 0 : flight.followers().get();
    }
}
