package org.flserver.user;

import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import jakarta.inject.Inject;

/**
 * Remembers, for a short time, which {@code Authorization} header was already verified for which
 * user, so that a client sending {@code Basic user:password} on every request pays for one PBKDF2
 * hash per TTL rather than per request (the reference server hashes every time: 16 requests/s), and
 * a token header costs a primary-key read instead of a query.
 *
 * <p>Safety: the key is the SHA-256 of the whole header, so no password is kept in memory in clear;
 * an entry also remembers the stored value it was verified against (the password hash, or the
 * token), and the caller rejects the entry when the user's stored value has changed since — a
 * password change invalidates at once, on every server instance. Only successes are remembered;
 * the map is bounded.
 */
@ApplicationScoped
public class VerifiedCredentials {

    private static final int MAX_ENTRIES = 10_000;

    private record Entry(UUID userId, String proof, long expiresAtNanos) {
    }

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();

    @Inject
    @ConfigProperty(name = "fl.auth.basic-cache-seconds", defaultValue = "60")
    long ttlSeconds;

    /** The user a header was verified for, with the stored value it was verified against; or null. */
    public Verified lookup(String header) {
        String key = digest(header);
        Entry entry = entries.get(key);
        if (entry == null) {
            return null;
        }
        if (System.nanoTime() - entry.expiresAtNanos > 0) {
            entries.remove(key, entry);
            return null;
        }
        return new Verified(entry.userId, entry.proof);
    }

    public void remember(String header, UUID userId, String proof) {
        if (ttlSeconds <= 0) {
            return;
        }
        if (entries.size() >= MAX_ENTRIES) {
            evictExpired();
            if (entries.size() >= MAX_ENTRIES) {
                entries.clear();
            }
        }
        entries.put(digest(header), new Entry(userId, proof, System.nanoTime() + ttlSeconds * 1_000_000_000L));
    }

    public void forget(String header) {
        entries.remove(digest(header));
    }

    private void evictExpired() {
        long now = System.nanoTime();
        for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
            if (now - it.next().expiresAtNanos > 0) {
                it.remove();
            }
        }
    }

    private static String digest(String header) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(header.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(hash);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A remembered verification: the user and the password hash or token it was checked against. */
    public record Verified(UUID userId, String proof) {
    }
}
