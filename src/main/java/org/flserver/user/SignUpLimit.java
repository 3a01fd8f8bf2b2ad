package org.flserver.user;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * How many sign-ups one client address may make: at most {@code maxPerAddress} in a window of
 * {@code windowMillis} that starts with the address's first sign-up after the previous window
 * ended. Sign-ups need no account, and every account gets its own share of what the server bounds
 * per user (inference workers, upload slots), so without this one address could make as many
 * accounts as it liked. The windows of at most {@code maxEntries} addresses are kept: when that
 * many are live, the one remembered longest is forgotten (an attacker with that many addresses is
 * past any per-address limit anyway), so the memory stays bounded.
 */
final class SignUpLimit {

    /**
     * @param maxPerAddress sign-ups per address and window; 0 turns the limit off
     * @param windowMillis  length of a window
     * @param maxEntries    addresses remembered at once
     */
    record Settings(int maxPerAddress, long windowMillis, int maxEntries) {
    }

    private final Settings settings;
    private final LongSupplier clockMillis;
    /** Per address: the start of its window and the sign-ups counted in it. Guarded by this. */
    private final Map<String, long[]> windows = new LinkedHashMap<>();

    SignUpLimit(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
    }

    /**
     * Counts a sign-up from {@code address} and returns 0 when it may go ahead; else (nothing
     * counted) the whole seconds, at least 1, until the address's window ends.
     */
    synchronized long acquire(String address) {
        if (settings.maxPerAddress() <= 0) {
            return 0;
        }
        long now = clockMillis.getAsLong();
        long[] window = windows.get(address);
        if (window != null && now - window[0] >= settings.windowMillis()) {
            windows.remove(address);
            window = null;
        }
        if (window == null) {
            if (windows.size() >= settings.maxEntries()) {
                forgetExpiredOrOldest(now);
            }
            windows.put(address, new long[] {now, 1});
            return 0;
        }
        if (window[1] < settings.maxPerAddress()) {
            window[1]++;
            return 0;
        }
        return LoginThrottle.seconds(window[0] + settings.windowMillis() - now);
    }

    /** Drops every window that has ended, or, when none has, the earliest started one. */
    private void forgetExpiredOrOldest(long now) {
        // windows are (re)inserted when they start, so the map's order is the order of their starts
        Iterator<long[]> it = windows.values().iterator();
        boolean dropped = false;
        while (it.hasNext()) {
            if (now - it.next()[0] >= settings.windowMillis()) {
                it.remove();
                dropped = true;
            } else {
                break; // the rest started later
            }
        }
        if (!dropped) {
            it = windows.values().iterator();
            it.next();
            it.remove();
        }
    }

    /** Addresses remembered now (for tests). */
    synchronized int size() {
        return windows.size();
    }
}
