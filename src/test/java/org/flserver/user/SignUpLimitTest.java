package org.flserver.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Sign-ups per client address (a window per address, bounded memory) and from all addresses together. */
class SignUpLimitTest {

    private final AtomicLong now = new AtomicLong(1_000_000);

    /** Only the per-address limit. */
    private SignUpLimit limit(int max, long windowMillis, int entries) {
        return new SignUpLimit(new SignUpLimit.Settings(max, 0, windowMillis, entries), now::get);
    }

    private SignUpLimit limit(int maxPerAddress, int maxTotal) {
        return new SignUpLimit(new SignUpLimit.Settings(maxPerAddress, maxTotal, 60_000, 100), now::get);
    }

    @Test
    void allAddressesTogetherMakeAtMostTheTotalPerWindowAndTheFirstRefusalIsMarked() {
        SignUpLimit limit = limit(2, 3);
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("a"));
        now.addAndGet(20_000);
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("b"));
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("c"));
        // the total's window started with a's sign-up, 20 s ago
        assertEquals(new SignUpLimit.Verdict(40, true, true), limit.acquire("d"));
        assertEquals(new SignUpLimit.Verdict(40, true, false), limit.acquire("e"), "warned once per window");
        now.addAndGet(40_000);
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("d"), "a new window of the total");
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("e"));
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("f"));
        assertEquals(new SignUpLimit.Verdict(60, true, true), limit.acquire("g"), "its first refusal again");
    }

    @Test
    void whatAnAddressLimitRefusesDoesNotUseUpTheTotal() {
        SignUpLimit limit = limit(1, 3);
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("a"));
        for (int i = 0; i < 10; i++) {
            assertEquals(new SignUpLimit.Verdict(60, false, false), limit.acquire("a"));
        }
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("b"));
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("c"));
        assertTrue(limit.acquire("d").total());
    }

    @Test
    void whatTheTotalRefusesIsNotCountedForTheAddress() {
        SignUpLimit limit = limit(2, 2);
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("a")); // the total's window: 60 s from now
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("a"));
        now.addAndGet(30_000);
        // b's window starts here (until 90 s); the total refuses twice
        assertEquals(new SignUpLimit.Verdict(30, true, true), limit.acquire("b"));
        assertEquals(new SignUpLimit.Verdict(30, true, false), limit.acquire("b"));
        now.addAndGet(30_000);
        // the total's next window: b still has both of its sign-ups
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("b"));
        assertEquals(SignUpLimit.Verdict.GO, limit.acquire("b"));
        assertEquals(new SignUpLimit.Verdict(30, false, false), limit.acquire("b"), "now b's own limit, until 90 s");
    }

    @Test
    void zeroTurnsTheTotalOff() {
        SignUpLimit limit = limit(0, 0);
        for (int i = 0; i < 1000; i++) {
            assertEquals(SignUpLimit.Verdict.GO, limit.acquire("a" + i % 3));
        }
    }

    @Test
    void anAddressMakesAtMostTheLimitPerWindowAndIsToldWhenItMayAgain() {
        SignUpLimit limit = limit(3, 60_000, 100);
        assertEquals(0, limit.acquire("198.51.100.7").seconds());
        now.addAndGet(10_000);
        assertEquals(0, limit.acquire("198.51.100.7").seconds());
        assertEquals(0, limit.acquire("198.51.100.7").seconds());
        // the window started 10 s ago: 50 s left
        assertEquals(50, limit.acquire("198.51.100.7").seconds());
        now.addAndGet(49_500);
        assertEquals(1, limit.acquire("198.51.100.7").seconds(), "rounded up to whole seconds");
        now.addAndGet(500);
        assertEquals(0, limit.acquire("198.51.100.7").seconds(), "a new window");
        assertEquals(0, limit.acquire("198.51.100.7").seconds());
        assertEquals(0, limit.acquire("198.51.100.7").seconds());
        assertEquals(60, limit.acquire("198.51.100.7").seconds());
    }

    @Test
    void addressesAreCountedApart() {
        SignUpLimit limit = limit(1, 60_000, 100);
        assertEquals(0, limit.acquire("198.51.100.7").seconds());
        assertEquals(60, limit.acquire("198.51.100.7").seconds());
        assertEquals(0, limit.acquire("198.51.100.8").seconds());
        assertEquals(0, limit.acquire("2001:db8:0:1::/64").seconds());
    }

    @Test
    void aRefusedSignUpIsNotCounted() {
        SignUpLimit limit = limit(1, 60_000, 100);
        assertEquals(0, limit.acquire("a").seconds());
        for (int i = 0; i < 5; i++) {
            assertEquals(60, limit.acquire("a").seconds());
        }
        now.addAndGet(60_000);
        assertEquals(0, limit.acquire("a").seconds(), "the refusals did not extend the window");
    }

    @Test
    void zeroTurnsTheLimitOff() {
        SignUpLimit limit = limit(0, 60_000, 100);
        for (int i = 0; i < 1000; i++) {
            assertEquals(0, limit.acquire("a").seconds());
        }
        assertEquals(0, limit.size());
    }

    @Test
    void memoryIsBoundedByForgettingEndedWindowsFirstThenTheOldest() {
        SignUpLimit limit = limit(1, 60_000, 3);
        long t = now.get();
        limit.acquire("a");
        limit.acquire("b");
        limit.acquire("c");
        now.set(t + 10_000);
        limit.acquire("d"); // full, no window ended: the oldest, a, is forgotten
        assertEquals(3, limit.size());
        assertEquals(50, limit.acquire("b").seconds(), "b is still remembered");
        assertEquals(0, limit.acquire("a").seconds(), "a was forgotten: a new window (b is forgotten for it)");
        assertEquals(3, limit.size());
        now.set(t + 60_000);
        limit.acquire("e"); // c's window has ended (d's and a's have not): only c is dropped
        assertEquals(3, limit.size());
        assertEquals(10, limit.acquire("d").seconds());
        assertEquals(10, limit.acquire("a").seconds());
        now.set(t + 70_000);
        limit.acquire("f"); // d's and a's windows have ended: both are dropped at once
        assertEquals(2, limit.size());
        assertEquals(50, limit.acquire("e").seconds());
    }
}
