package org.flserver.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The throttle's rules on a clock the test moves by hand (no sleeping). */
class LoginThrottleTest {

    /** 3 failures per username, then 10 s doubling up to 40 s; 6 per address, then 60 s up to 240 s. */
    private static final LoginThrottle.Settings SETTINGS = new LoginThrottle.Settings(
            3, 10_000, 40_000, 6, 60_000, 240_000, 3_600_000, 86_400_000, 1_000);

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final LoginThrottle throttle = new LoginThrottle(SETTINGS, now::get);

    /** A failed check: begun and never taken back. */
    private LoginThrottle.Attempt fail(String user, String address) {
        LoginThrottle.Attempt attempt = throttle.begin(user, address);
        assertFalse(attempt.refused(), "expected to be checked: " + attempt);
        return attempt;
    }

    @Test
    void aUsernameIsLockedAfterTheAllowedFailuresForADoublingCappedTime() {
        for (int i = 0; i < 3; i++) {
            fail("alice", "10.0.0.1");
        }
        assertEquals(10, throttle.begin("alice", "10.0.0.1").retryAfterSeconds());
        now.addAndGet(4_000);
        assertEquals(6, throttle.begin("alice", "10.0.0.2").retryAfterSeconds(), "from any address");
        now.addAndGet(6_000);
        fail("alice", "10.0.0.3");                                              // 4th failure
        assertEquals(20, throttle.begin("alice", "10.0.0.3").retryAfterSeconds());
        now.addAndGet(20_000);
        fail("alice", "10.0.0.4");                                              // 5th
        assertEquals(40, throttle.begin("alice", "10.0.0.4").retryAfterSeconds());
        now.addAndGet(40_000);
        fail("alice", "10.0.0.5");                                              // 6th: capped
        assertEquals(40, throttle.begin("alice", "10.0.0.5").retryAfterSeconds());
        // other usernames are not affected
        assertFalse(throttle.begin("bob", "10.0.0.5").refused());
    }

    @Test
    void refusedAttemptsAreNotCounted() {
        for (int i = 0; i < 3; i++) {
            fail("carol", "10.0.0.1");
        }
        for (int i = 0; i < 50; i++) {
            assertTrue(throttle.begin("carol", "10.0.0.1").refused());
        }
        now.addAndGet(10_000);
        fail("carol", "10.0.0.1");
        assertEquals(20, throttle.begin("carol", "10.0.0.1").retryAfterSeconds(), "4th failure, not 54th");
    }

    @Test
    void retryAfterIsRoundedUpToWholeSeconds() {
        for (int i = 0; i < 3; i++) {
            fail("dave", "10.0.0.1");
        }
        now.addAndGet(9_001);
        assertEquals(1, throttle.begin("dave", "10.0.0.1").retryAfterSeconds());
        now.addAndGet(998);
        assertEquals(1, throttle.begin("dave", "10.0.0.1").retryAfterSeconds());
        now.addAndGet(1);
        assertFalse(throttle.begin("dave", "10.0.0.1").refused());
    }

    @Test
    void successResetsTheUsernameAndMakesTheAddressKnown() {
        fail("erin", "10.0.0.1");
        fail("erin", "10.0.0.1");
        throttle.succeeded(throttle.begin("erin", "10.0.0.1"));
        // the counter starts again: three more failures are allowed
        for (int i = 0; i < 3; i++) {
            fail("erin", "10.0.0.9");
        }
        assertTrue(throttle.begin("erin", "10.0.0.9").refused());
        // the address erin logged in from is exempt from erin's lock, others are not
        assertFalse(throttle.begin("erin", "10.0.0.1").refused());
        assertTrue(throttle.begin("erin", "10.0.0.2").refused());
    }

    @Test
    void aKnownAddressStopsBeingKnownAfterItsTime() {
        throttle.succeeded(throttle.begin("fay", "10.0.0.1"));
        now.addAndGet(86_400_000);
        for (int i = 0; i < 3; i++) {
            fail("fay", "10.0.0.7");
        }
        assertTrue(throttle.begin("fay", "10.0.0.1").refused());
    }

    @Test
    void anAddressIsLockedAfterItsFailuresWhateverTheUsernames() {
        for (int i = 0; i < 6; i++) {
            fail("user" + i, "10.0.0.66");
        }
        LoginThrottle.Attempt refused = throttle.begin("somebody-else", "10.0.0.66");
        assertEquals(60, refused.retryAfterSeconds());
        // the refusal counted nothing for that username
        for (int i = 0; i < 3; i++) {
            fail("somebody-else", "10.0.0.67");
        }
        now.addAndGet(60_000);
        fail("user9", "10.0.0.66");                                             // 7th from there
        assertEquals(120, throttle.begin("user9", "10.0.0.66").retryAfterSeconds());
        // a success from the address does not wipe its failures
        now.addAndGet(120_000);
        throttle.succeeded(throttle.begin("known", "10.0.0.66"));
        fail("user10", "10.0.0.66");                                            // 8th
        assertEquals(240, throttle.begin("user10", "10.0.0.66").retryAfterSeconds());
    }

    @Test
    void aKnownAddressIsStillSubjectToItsOwnLimit() {
        throttle.succeeded(throttle.begin("gus", "10.0.0.1"));
        for (int i = 0; i < 6; i++) {
            fail("x" + i, "10.0.0.1");
        }
        assertTrue(throttle.begin("gus", "10.0.0.1").refused());
    }

    @Test
    void failuresAreForgottenAfterTheWindow() {
        fail("hal", "10.0.0.1");
        fail("hal", "10.0.0.1");
        now.addAndGet(3_600_000);
        fail("hal", "10.0.0.1");
        fail("hal", "10.0.0.1");
        assertFalse(throttle.begin("hal", "10.0.0.1").refused(), "only two failures count: the window passed");
    }

    @Test
    void abandonedAttemptsAreTakenBack() {
        for (int i = 0; i < 10; i++) {
            throttle.abandoned(throttle.begin("ivy", "10.0.0.1"));
        }
        assertFalse(throttle.begin("ivy", "10.0.0.1").refused());
        assertEquals(1, throttle.trackedUsernames());
    }

    @Test
    void concurrentGuessesAreCountedBeforeTheirChecksEnd() {
        // three checks started, none finished yet: the fourth must wait already
        throttle.begin("jo", "10.0.0.1");
        throttle.begin("jo", "10.0.0.2");
        throttle.begin("jo", "10.0.0.3");
        assertTrue(throttle.begin("jo", "10.0.0.4").refused());
    }

    @Test
    void theMapsStayBoundedAndKeepTheLockedEntries() {
        for (int i = 0; i < 3; i++) {
            fail("target", "10.1.0." + i);
        }
        for (int i = 0; i < 5_000; i++) {
            fail("random-" + i, "10.2." + (i / 250) + "." + (i % 250));
        }
        assertTrue(throttle.trackedUsernames() <= 1_000, "usernames: " + throttle.trackedUsernames());
        assertTrue(throttle.trackedAddresses() <= 1_000, "addresses: " + throttle.trackedAddresses());
        assertTrue(throttle.begin("target", "10.9.9.9").refused(), "the locked username survived eviction");
    }

    @Test
    void hugeUsernamesAreKeptAsDigests() {
        String huge = "u".repeat(100_000);
        for (int i = 0; i < 3; i++) {
            fail(huge, "10.0.0.1");
        }
        assertTrue(throttle.begin(huge, "10.0.0.2").refused());
        assertEquals(65, LoginThrottle.userKey(huge).length());
        assertEquals("short", LoginThrottle.userKey("short"));
    }
}
