package org.flserver.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiPredicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Single flight, the dummy hash for unknown users, throttled checks and the concurrency bound, with a counting hasher. */
class PasswordChecksTest {

    private static final LoginThrottle.Settings SETTINGS = new LoginThrottle.Settings(
            5, 30_000, 300_000, 20, 60_000, 3_600_000, 3_600_000, 86_400_000, 1_000);
    private static final UUID ALICE = UUID.randomUUID();
    private static final String DUMMY = "dummy-hash";

    private final AtomicLong now = new AtomicLong();
    private final AtomicInteger verifications = new AtomicInteger();
    private final List<String> verifiedHashes = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Map<String, PasswordChecks.Stored> accounts =
            Map.of("alice", new PasswordChecks.Stored(ALICE, "hash-of:right"));
    private final ExecutorService pool = Executors.newFixedThreadPool(16);

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** A stand-in for PBKDF2: counts its calls, and "hash-of:p" matches exactly the password p. */
    private BiPredicate<String, String> countingHasher(Runnable during) {
        return (password, hash) -> {
            verifications.incrementAndGet();
            verifiedHashes.add(hash);
            during.run();
            return hash.equals("hash-of:" + password);
        };
    }

    private PasswordChecks checks(BiPredicate<String, String> hasher, int concurrent) {
        return new PasswordChecks(new LoginThrottle(SETTINGS, now::get), hasher, DUMMY, concurrent, 1_000);
    }

    @Test
    void sixteenConcurrentIdenticalChecksVerifyOnce() throws Exception {
        AtomicReference<PasswordChecks> holder = new AtomicReference<>();
        // The one verification waits until the 15 other callers are waiting for its result, so all
        // 16 are provably concurrent; a second verification would wait for followers that never come.
        PasswordChecks checks = checks(countingHasher(() -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (verifications.get() == 1 && holder.get().waitingFor("alice", "right", "10.0.0.1") < 15
                    && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
        }), 4);
        holder.set(checks);
        List<Future<PasswordChecks.Result>> results = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            results.add(pool.submit(() -> checks.check("alice", "right", "10.0.0.1", accounts::get)));
        }
        for (Future<PasswordChecks.Result> result : results) {
            PasswordChecks.Result r = result.get(60, TimeUnit.SECONDS);
            assertEquals(PasswordChecks.Status.ACCEPTED, r.status());
            assertEquals(ALICE, r.userId());
        }
        assertEquals(1, verifications.get());
        // and a later check runs anew (nothing is remembered by the single flight itself)
        checks.check("alice", "right", "10.0.0.1", accounts::get);
        assertEquals(2, verifications.get());
    }

    @Test
    void unknownUsersAreVerifiedAgainstTheDummyHashAndRefusedLikeWrongPasswords() {
        PasswordChecks checks = checks(countingHasher(() -> { }), 1);
        PasswordChecks.Result unknown = checks.check("nobody", "whatever", "10.0.0.1", accounts::get);
        PasswordChecks.Result wrong = checks.check("alice", "wrong", "10.0.0.1", accounts::get);
        assertEquals(new PasswordChecks.Result(PasswordChecks.Status.REFUSED, null, null, 0), unknown);
        assertEquals(unknown, wrong);
        assertEquals(List.of(DUMMY, "hash-of:right"), verifiedHashes);
    }

    @Test
    void theDummyHashNeverLetsAnUnknownUserIn() {
        PasswordChecks checks = checks((password, hash) -> true, 1);
        PasswordChecks.Result r = checks.check("nobody", "x", "10.0.0.1", accounts::get);
        assertEquals(PasswordChecks.Status.REFUSED, r.status());
        assertNull(r.userId());
    }

    @Test
    void throttledChecksRunNoVerification() {
        PasswordChecks checks = checks(countingHasher(() -> { }), 1);
        for (int i = 0; i < 5; i++) {
            assertEquals(PasswordChecks.Status.REFUSED, checks.check("alice", "guess" + i, "10.0.0.1", accounts::get).status());
        }
        PasswordChecks.Result throttled = checks.check("alice", "right", "10.0.0.1", accounts::get);
        assertEquals(PasswordChecks.Status.THROTTLED, throttled.status());
        assertEquals(30, throttled.retryAfterSeconds());
        assertEquals(5, verifications.get());
        now.addAndGet(30_000);
        assertEquals(PasswordChecks.Status.ACCEPTED, checks.check("alice", "right", "10.0.0.1", accounts::get).status());
    }

    /** Two slots: two slow verifications take them, a third check finds none and is not counted. */
    @Test
    void noMoreVerificationsRunAtOnceThanAllowed() throws Exception {
        java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(2);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        PasswordChecks checks = new PasswordChecks(new LoginThrottle(SETTINGS, now::get), blockingOnSlow(inside, release), DUMMY, 2, 0);
        Future<PasswordChecks.Result> slow = pool.submit(() -> checks.check("x", "slow", "10.0.0.1", accounts::get));
        Future<PasswordChecks.Result> slow2 = pool.submit(() -> checks.check("y", "slow", "10.0.0.1", accounts::get));
        assertTrue(inside.await(30, TimeUnit.SECONDS));
        for (int i = 0; i < 10; i++) {
            PasswordChecks.Result busy = checks.check("alice", "p" + i, "10.0.0.2", accounts::get);
            assertEquals(new PasswordChecks.Result(PasswordChecks.Status.BUSY, null, null, 1), busy);
        }
        release.countDown();
        assertEquals(PasswordChecks.Status.REFUSED, slow.get(30, TimeUnit.SECONDS).status());
        assertEquals(PasswordChecks.Status.REFUSED, slow2.get(30, TimeUnit.SECONDS).status());
        // the ten busy answers counted no failures for alice (five would have locked her)
        assertEquals(PasswordChecks.Status.REFUSED, checks.check("alice", "p", "10.0.0.2", accounts::get).status());
        assertEquals(PasswordChecks.Status.ACCEPTED, checks.check("alice", "right", "10.0.0.2", accounts::get).status());
    }
    /** A sign-up's hash takes a verification slot like a login's check: none free, none run (null). */
    @Test
    void newPasswordsAreHashedInTheVerificationSlots() throws Exception {
        java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        PasswordChecks checks = new PasswordChecks(new LoginThrottle(SETTINGS, now::get), blockingOnSlow(inside, release), DUMMY, 1, 0);
        Future<PasswordChecks.Result> slow = pool.submit(() -> checks.check("x", "slow", "10.0.0.1", accounts::get));
        assertTrue(inside.await(30, TimeUnit.SECONDS));
        java.util.concurrent.atomic.AtomicInteger hashed = new java.util.concurrent.atomic.AtomicInteger();
        assertEquals(null, checks.inVerificationSlot(() -> "hash-" + hashed.incrementAndGet()));
        assertEquals(0, hashed.get(), "no hashing without a slot");
        release.countDown();
        assertEquals(PasswordChecks.Status.REFUSED, slow.get(30, TimeUnit.SECONDS).status());
        assertEquals("hash-1", checks.inVerificationSlot(() -> "hash-" + hashed.incrementAndGet()));
        // the slot was given back: a login check runs again
        assertEquals(PasswordChecks.Status.ACCEPTED, checks.check("alice", "right", "10.0.0.2", accounts::get).status());
    }

    /** Verifies like the account map's hashes; a check of the password "slow" holds its slot until {@code release}. */
    private static java.util.function.BiPredicate<String, String> blockingOnSlow(java.util.concurrent.CountDownLatch inside,
            java.util.concurrent.CountDownLatch release) {
        return (password, hash) -> {
            if (password.equals("slow")) {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return hash.equals("hash-of:" + password);
        };
    }
}
