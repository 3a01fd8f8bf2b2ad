package org.flserver.user;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Counts failed password checks per username and per client address and says when the next check
 * must wait, so that passwords cannot be guessed at the speed of the server's CPU. Kept in memory,
 * per server instance: an attacker spreading guesses over several instances gets a few more tries,
 * but each instance still slows him down exponentially.
 *
 * <p>Two counters with different purposes:
 * <ul>
 * <li><b>Per address</b> (strict): too many failures from one address, for whatever usernames, lock
 * that address out of password checks for a time that doubles with each further failure. This is
 * what stops one machine from trying a password list against many accounts. Only failures count,
 * so many legitimate users behind one address are not hurt by their own successful logins.</li>
 * <li><b>Per username</b> (soft): too many failures for one username, from any addresses, make its
 * password checks wait too, but for a shorter, capped time. This stops a botnet from trying many
 * passwords against one account. So that an attacker who knows a username cannot keep its owner out
 * forever, addresses that logged in successfully as that user before ("known addresses") are exempt
 * from the username's lock (their own address counter still applies).</li>
 * </ul>
 *
 * <p>An attempt is counted as failed when it starts ({@link #begin}) and taken back when it
 * succeeds: concurrent guesses are therefore counted before their (slow) verification finishes, and
 * cannot slip past the limit together. A refused attempt is not counted, so waiting out the lock
 * always helps. Unknown usernames are counted exactly like known ones, so the throttling says
 * nothing about which accounts exist.
 *
 * <p>Memory is bounded: each map holds at most {@code maxEntries} keys. When full, expired entries go
 * first, then those with the fewest failures (the least useful to keep), never the locked ones first.
 */
public final class LoginThrottle {

    /** The limits; lockouts double with each failure beyond the allowed number, up to the cap. */
    public record Settings(int userMaxFailures, long userLockoutMillis, long userMaxLockoutMillis,
                           int addressMaxFailures, long addressLockoutMillis, long addressMaxLockoutMillis,
                           long failureWindowMillis, long knownAddressMillis, int maxEntries) {
    }

    /**
     * A started check. {@code retryAfterSeconds > 0} means it was refused (not counted) and the
     * caller must answer without checking the password.
     */
    public record Attempt(String username, String address, long retryAfterSeconds, boolean exemptFromUserLock,
                          long startedMillis, long previousUserFailure, long previousAddressFailure) {
        public boolean refused() {
            return retryAfterSeconds > 0;
        }
    }

    /** Failures so far and when the last one happened (immutable; replaced atomically in the maps). */
    private record Counter(int failures, long lastFailureMillis) {
    }

    private final Settings settings;
    private final LongSupplier clockMillis;
    private final Map<String, Counter> byUser = new ConcurrentHashMap<>();
    private final Map<String, Counter> byAddress = new ConcurrentHashMap<>();
    /** (username, address) pairs that logged in successfully, with when that stops counting. */
    private final Map<String, Long> knownAddresses = new ConcurrentHashMap<>();

    public LoginThrottle(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
    }

    /**
     * Starts a password check: refused while the address, or the username (unless the address is
     * known for it), is locked; otherwise counted as a failure until {@link #succeeded} or
     * {@link #abandoned} says otherwise.
     */
    public Attempt begin(String username, String address) {
        username = userKey(username);
        long now = clockMillis.getAsLong();
        boolean known = isKnown(username, address, now);
        long[] wait = new long[1];
        // when the failures before this attempt happened, to be put back if it is taken back
        long[] previous = new long[2];
        makeRoom(byAddress, address, now);
        byAddress.compute(address, (key, counter) -> {
            long until = lockedUntil(counter, settings.addressMaxFailures(), settings.addressLockoutMillis(),
                    settings.addressMaxLockoutMillis());
            if (until > now) {
                wait[0] = until - now;
                return counter;
            }
            previous[1] = counter == null ? 0 : counter.lastFailureMillis();
            return counted(byAddress, counter, now);
        });
        if (wait[0] > 0) {
            return new Attempt(username, address, seconds(wait[0]), known, now, 0, 0);
        }
        makeRoom(byUser, username, now);
        byUser.compute(username, (key, counter) -> {
            long until = lockedUntil(counter, settings.userMaxFailures(), settings.userLockoutMillis(),
                    settings.userMaxLockoutMillis());
            if (until > now && !known) {
                wait[0] = until - now;
                return counter;
            }
            previous[0] = counter == null ? 0 : counter.lastFailureMillis();
            return counted(byUser, counter, now);
        });
        if (wait[0] > 0) {
            uncount(byAddress, address, now, previous[1]);
            return new Attempt(username, address, seconds(wait[0]), known, now, 0, 0);
        }
        return new Attempt(username, address, 0, known, now, previous[0], previous[1]);
    }

    /** The password was right: the username's failures are forgotten, the address becomes known for it. */
    public void succeeded(Attempt attempt) {
        if (attempt.refused()) {
            return;
        }
        byUser.remove(attempt.username());
        uncount(byAddress, attempt.address(), attempt.startedMillis(), attempt.previousAddressFailure());
        long now = clockMillis.getAsLong();
        String key = knownKey(attempt.username(), attempt.address());
        if (!knownAddresses.containsKey(key) && knownAddresses.size() >= settings.maxEntries()) {
            forgetOldestKnown(now);
        }
        knownAddresses.put(key, now + settings.knownAddressMillis());
    }

    /** The check did not happen (e.g. the server was too busy): take its provisional count back. */
    public void abandoned(Attempt attempt) {
        if (attempt.refused()) {
            return;
        }
        uncount(byUser, attempt.username(), attempt.startedMillis(), attempt.previousUserFailure());
        uncount(byAddress, attempt.address(), attempt.startedMillis(), attempt.previousAddressFailure());
    }

    /** Keys held per map (for tests of the bound). */
    int trackedUsernames() {
        return byUser.size();
    }

    int trackedAddresses() {
        return byAddress.size();
    }

    int knownAddressCount() {
        return knownAddresses.size();
    }

    private boolean isKnown(String username, String address, long now) {
        Long until = knownAddresses.get(knownKey(username, address));
        return until != null && until > now;
    }

    private static String knownKey(String username, String address) {
        return username + '\u0000' + address;
    }

    /** One more failure; a counter whose failures are older than the window starts again at one. */
    private Counter counted(Map<String, Counter> map, Counter counter, long now) {
        if (counter == null || expiresAt(map, counter) <= now) {
            return new Counter(1, now);
        }
        return new Counter(counter.failures() + 1, now);
    }

    /**
     * The map key of a username: itself, or a digest when it is longer than any stored username
     * can be (150 characters), so that huge made-up names cannot make the maps large.
     */
    static String userKey(String username) {
        if (username.length() <= 150) {
            return username;
        }
        try {
            byte[] hash = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(username.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return "#" + java.util.HexFormat.of().formatHex(hash);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Takes one provisional failure back, and with it the time it set as the last failure, unless a
     * later failure has set a newer one meanwhile (then that one stays: it really happened).
     */
    private static void uncount(Map<String, Counter> map, String key, long provisionalMillis, long previousMillis) {
        map.computeIfPresent(key, (k, counter) -> {
            if (counter.failures() <= 1) {
                return null;
            }
            long last = counter.lastFailureMillis() == provisionalMillis && previousMillis > 0
                    ? previousMillis : counter.lastFailureMillis();
            return new Counter(counter.failures() - 1, last);
        });
    }

    /** When the lock caused by these failures ends (0 or a past time when there is none). */
    private static long lockedUntil(Counter counter, int maxFailures, long lockoutMillis, long maxLockoutMillis) {
        if (counter == null || counter.failures() < maxFailures) {
            return 0;
        }
        int doublings = Math.min(counter.failures() - maxFailures, 40);
        long lockout = lockoutMillis << doublings;
        if (lockout <= 0 || lockout > maxLockoutMillis) {
            lockout = maxLockoutMillis;
        }
        return counter.lastFailureMillis() + lockout;
    }

    /** Whole seconds to wait, rounded up, at least 1 (Retry-After has no fractions). */
    static long seconds(long millis) {
        return Math.max(1, (millis + 999) / 1000);
    }

    private long expiresAt(Map<String, Counter> map, Counter counter) {
        long lock = map == byUser
                ? lockedUntil(counter, settings.userMaxFailures(), settings.userLockoutMillis(),
                        settings.userMaxLockoutMillis())
                : lockedUntil(counter, settings.addressMaxFailures(), settings.addressLockoutMillis(),
                        settings.addressMaxLockoutMillis());
        return Math.max(counter.lastFailureMillis() + settings.failureWindowMillis(), lock);
    }

    /**
     * Before a new key goes in: when the map is full, drop the expired entries; if that is not enough,
     * the tenth with the fewest (then the oldest) failures. Locked entries have the most failures, so
     * an attacker filling the map with one-off usernames evicts his own entries first.
     */
    private void makeRoom(Map<String, Counter> map, String key, long now) {
        if (map.size() < settings.maxEntries() || map.containsKey(key)) {
            return;
        }
        synchronized (map) {
            if (map.size() < settings.maxEntries()) {
                return;
            }
            map.entrySet().removeIf(e -> expiresAt(map, e.getValue()) <= now);
            int target = settings.maxEntries() - Math.max(1, settings.maxEntries() / 10);
            if (map.size() <= target) {
                return;
            }
            List<Map.Entry<String, Counter>> entries = new ArrayList<>(map.entrySet());
            entries.sort(Comparator.comparingInt((Map.Entry<String, Counter> e) -> e.getValue().failures())
                    .thenComparingLong(e -> e.getValue().lastFailureMillis()));
            for (int i = 0; i < entries.size() && map.size() > target; i++) {
                map.remove(entries.get(i).getKey(), entries.get(i).getValue());
            }
        }
    }

    private void forgetOldestKnown(long now) {
        synchronized (knownAddresses) {
            knownAddresses.values().removeIf(until -> until <= now);
            int target = settings.maxEntries() - Math.max(1, settings.maxEntries() / 10);
            if (knownAddresses.size() <= target) {
                return;
            }
            List<Map.Entry<String, Long>> entries = new ArrayList<>(knownAddresses.entrySet());
            entries.sort(Map.Entry.comparingByValue());
            for (int i = 0; i < entries.size() && knownAddresses.size() > target; i++) {
                knownAddresses.remove(entries.get(i).getKey(), entries.get(i).getValue());
            }
        }
    }
}
