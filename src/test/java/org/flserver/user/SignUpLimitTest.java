package org.flserver.user;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Sign-ups per client address: a window per address, bounded memory. */
class SignUpLimitTest {

    private final AtomicLong now = new AtomicLong(1_000_000);

    private SignUpLimit limit(int max, long windowMillis, int entries) {
        return new SignUpLimit(new SignUpLimit.Settings(max, windowMillis, entries), now::get);
    }

    @Test
    void anAddressMakesAtMostTheLimitPerWindowAndIsToldWhenItMayAgain() {
        SignUpLimit limit = limit(3, 60_000, 100);
        assertEquals(0, limit.acquire("198.51.100.7"));
        now.addAndGet(10_000);
        assertEquals(0, limit.acquire("198.51.100.7"));
        assertEquals(0, limit.acquire("198.51.100.7"));
        // the window started 10 s ago: 50 s left
        assertEquals(50, limit.acquire("198.51.100.7"));
        now.addAndGet(49_500);
        assertEquals(1, limit.acquire("198.51.100.7"), "rounded up to whole seconds");
        now.addAndGet(500);
        assertEquals(0, limit.acquire("198.51.100.7"), "a new window");
        assertEquals(0, limit.acquire("198.51.100.7"));
        assertEquals(0, limit.acquire("198.51.100.7"));
        assertEquals(60, limit.acquire("198.51.100.7"));
    }

    @Test
    void addressesAreCountedApart() {
        SignUpLimit limit = limit(1, 60_000, 100);
        assertEquals(0, limit.acquire("198.51.100.7"));
        assertEquals(60, limit.acquire("198.51.100.7"));
        assertEquals(0, limit.acquire("198.51.100.8"));
        assertEquals(0, limit.acquire("2001:db8:0:1::/64"));
    }

    @Test
    void aRefusedSignUpIsNotCounted() {
        SignUpLimit limit = limit(1, 60_000, 100);
        assertEquals(0, limit.acquire("a"));
        for (int i = 0; i < 5; i++) {
            assertEquals(60, limit.acquire("a"));
        }
        now.addAndGet(60_000);
        assertEquals(0, limit.acquire("a"), "the refusals did not extend the window");
    }

    @Test
    void zeroTurnsTheLimitOff() {
        SignUpLimit limit = limit(0, 60_000, 100);
        for (int i = 0; i < 1000; i++) {
            assertEquals(0, limit.acquire("a"));
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
        assertEquals(50, limit.acquire("b"), "b is still remembered");
        assertEquals(0, limit.acquire("a"), "a was forgotten: a new window (b is forgotten for it)");
        assertEquals(3, limit.size());
        now.set(t + 60_000);
        limit.acquire("e"); // c's window has ended (d's and a's have not): only c is dropped
        assertEquals(3, limit.size());
        assertEquals(10, limit.acquire("d"));
        assertEquals(10, limit.acquire("a"));
        now.set(t + 70_000);
        limit.acquire("f"); // d's and a's windows have ended: both are dropped at once
        assertEquals(2, limit.size());
        assertEquals(50, limit.acquire("e"));
    }
}
