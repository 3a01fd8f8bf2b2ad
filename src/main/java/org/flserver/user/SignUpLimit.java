package org.flserver.user;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * How many sign-ups the server takes: at most {@code maxPerAddress} from one client address, and
 * at most {@code maxTotal} from all addresses together, each in a window of {@code windowMillis}
 * that starts with the first sign-up after the previous window ended. Sign-ups need no account,
 * and every account gets its own share of what the server bounds per user (inference workers,
 * upload slots), so without the first limit one address could make as many accounts as it liked;
 * the second bounds the rate at which an attacker with many addresses can (an FL consortium signs
 * up a few dozen people, not hundreds an hour). The windows of at most {@code maxEntries}
 * addresses are kept: when that many are live, the one remembered longest is forgotten (an
 * attacker with that many addresses is past any per-address limit anyway, and meets the total),
 * so the memory stays bounded.
 */
final class SignUpLimit {

    /**
     * @param maxPerAddress sign-ups per address and window; 0 turns that limit off
     * @param maxTotal      sign-ups from all addresses together per window; 0 turns that limit off
     * @param windowMillis  length of a window
     * @param maxEntries    addresses remembered at once
     */
    record Settings(int maxPerAddress, int maxTotal, long windowMillis, int maxEntries) {
    }

    /**
     * What {@link #acquire} decided.
     *
     * @param seconds 0: go ahead (counted); else the whole seconds, at least 1, until the window
     *                that refused ends (nothing counted)
     * @param total   whether the limit of all addresses together refused
     * @param first   whether this is that limit's first refusal in its window (worth a warning)
     */
    record Verdict(long seconds, boolean total, boolean first) {
        static final Verdict GO = new Verdict(0, false, false);
    }

    private final Settings settings;
    private final LongSupplier clockMillis;
    /** Per address: the start of its window and the sign-ups counted in it. Guarded by this. */
    private final Map<String, long[]> windows = new LinkedHashMap<>();
    /** All addresses together: the start of the window and the sign-ups in it; null before the first. */
    private long[] total;
    private boolean totalRefused;

    SignUpLimit(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
    }

    /**
     * Counts a sign-up from {@code address} against both limits, or against neither when one
     * refuses. The address's limit is asked first, so that what it refuses never counts against
     * the total: one address at its limit cannot use up everybody's sign-ups by retrying.
     */
    synchronized Verdict acquire(String address) {
        long now = clockMillis.getAsLong();
        long[] window = settings.maxPerAddress() > 0 ? liveWindow(address, now) : null;
        if (window != null && window[1] >= settings.maxPerAddress()) {
            return new Verdict(LoginThrottle.seconds(window[0] + settings.windowMillis() - now), false, false);
        }
        if (settings.maxTotal() > 0) {
            if (total == null || now - total[0] >= settings.windowMillis()) {
                total = new long[] {now, 0};
                totalRefused = false;
            }
            if (total[1] >= settings.maxTotal()) {
                boolean first = !totalRefused;
                totalRefused = true;
                return new Verdict(LoginThrottle.seconds(total[0] + settings.windowMillis() - now), true, first);
            }
            total[1]++;
        }
        if (window != null) {
            window[1]++;
        }
        return Verdict.GO;
    }

    /** The address's window, a new one (nothing counted yet) if it had none or it ended. */
    private long[] liveWindow(String address, long now) {
        long[] window = windows.get(address);
        if (window != null && now - window[0] >= settings.windowMillis()) {
            windows.remove(address);
            window = null;
        }
        if (window == null) {
            if (windows.size() >= settings.maxEntries()) {
                forgetExpiredOrOldest(now);
            }
            window = new long[] {now, 0};
            windows.put(address, window);
        }
        return window;
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
