package org.flserver.user;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Checks a username and password the expensive way (PBKDF2) under three rules that keep that
 * expense from being abused: the {@link LoginThrottle} decides first whether the check may run at
 * all; identical checks running at the same time (same username, password and client address) are
 * done once ({@link SingleFlight}); and at most a fixed number of verifications run at once, so a
 * flood of wrong passwords queues behind a few busy cores instead of starving the whole server.
 * New passwords (sign-ups) are hashed in the same slots ({@link #inVerificationSlot}).
 *
 * <p>An unknown username is verified against a dummy hash with the configured PBKDF2 parameters, so
 * that it costs the same time as a wrong password for an existing user and the answer time does not
 * tell which usernames exist.
 *
 * <p>Plain Java (the hash function, the account look-up and the clock come from outside), so the
 * rules can be tested without a server; {@link PasswordGuard} builds the instance the server uses.
 */
public final class PasswordChecks {

    public enum Status {
        /** The password is right. */
        ACCEPTED,
        /** Wrong password or unknown user (the caller must not tell which). */
        REFUSED,
        /** Not checked: too many failures; try again after {@code retryAfterSeconds}. */
        THROTTLED,
        /** Not checked: too many verifications were waiting already. */
        BUSY
    }

    /** The outcome; user id and password hash only when accepted. */
    public record Result(Status status, UUID userId, String passwordHash, long retryAfterSeconds) {
    }

    /** What the account look-up returns for an existing username. */
    public record Stored(UUID userId, String passwordHash) {
    }

    private final LoginThrottle throttle;
    private final BiPredicate<String, String> verifier;
    private final String dummyHash;
    private final Semaphore verifications;
    private final long waitMillis;
    private final SingleFlight<String, Result> flights = new SingleFlight<>();

    /**
     * @param verifier     (password, stored hash) → matches; {@link PasswordHasher#verify} in the server
     * @param dummyHash    a hash of a random password with the configured parameters, for unknown users
     * @param concurrent   verifications allowed at once
     * @param waitMillis   how long a check waits for its turn before answering {@link Status#BUSY}
     */
    public PasswordChecks(LoginThrottle throttle, BiPredicate<String, String> verifier, String dummyHash,
                          int concurrent, long waitMillis) {
        this.throttle = throttle;
        this.verifier = verifier;
        this.dummyHash = dummyHash;
        this.verifications = new Semaphore(Math.max(1, concurrent), true);
        this.waitMillis = waitMillis;
    }

    /**
     * Checks the password of {@code username} for a client at {@code address}; {@code accounts}
     * finds the stored hash of a username (null when there is no such user).
     */
    public Result check(String username, String password, String address, Function<String, Stored> accounts) {
        return flights.run(flightKey(username, password, address),
                () -> checkOnce(username, password, address, accounts));
    }

    /**
     * Runs {@code hashing} (PBKDF2 of a new password: a sign-up) in one of the verification slots, so
     * that new passwords share the bound on concurrent PBKDF2 work with logins and a flood of
     * sign-ups queues like a flood of guesses; null, without running it, when no slot freed up within
     * the wait (the caller answers busy). Not throttled per address: a sign-up is no guess.
     */
    public <T> T inVerificationSlot(Supplier<T> hashing) {
        try {
            if (!verifications.tryAcquire(waitMillis, TimeUnit.MILLISECONDS)) {
                return null;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
        try {
            return hashing.get();
        } finally {
            verifications.release();
        }
    }

    /** Callers currently waiting for the same check (for tests). */
    int waitingFor(String username, String password, String address) {
        return flights.followers(flightKey(username, password, address));
    }

    private Result checkOnce(String username, String password, String address, Function<String, Stored> accounts) {
        LoginThrottle.Attempt attempt = throttle.begin(username, address);
        if (attempt.refused()) {
            return new Result(Status.THROTTLED, null, null, attempt.retryAfterSeconds());
        }
        boolean accepted;
        Stored stored;
        try {
            stored = accounts.apply(username);
            if (!verifications.tryAcquire(waitMillis, TimeUnit.MILLISECONDS)) {
                throttle.abandoned(attempt);
                return new Result(Status.BUSY, null, null, 1);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throttle.abandoned(attempt);
            return new Result(Status.BUSY, null, null, 1);
        } catch (RuntimeException | Error e) {
            throttle.abandoned(attempt);
            throw e;
        }
        try {
            // the dummy hash is verified too, and its result thrown away: the same work either way
            boolean matches = verifier.test(password, stored == null ? dummyHash : stored.passwordHash());
            accepted = matches && stored != null;
        } catch (RuntimeException | Error e) {
            throttle.abandoned(attempt);
            throw e;
        } finally {
            verifications.release();
        }
        if (!accepted) {
            return new Result(Status.REFUSED, null, null, 0);
        }
        throttle.succeeded(attempt);
        return new Result(Status.ACCEPTED, stored.userId(), stored.passwordHash(), 0);
    }

    /** Same credentials from the same address share one check; only a digest is kept as the key. */
    private static String flightKey(String username, String password, String address) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String part : new String[]{username, password, address}) {
                byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
                sha.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
                sha.update((byte) ':');
                sha.update(bytes);
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
