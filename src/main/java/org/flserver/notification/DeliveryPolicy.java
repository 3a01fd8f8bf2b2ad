package org.flserver.notification;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What one delivery try means for a notification (api.md §8.2): any 2xx answer delivers it; any
 * other answer rejects it at once, without retry; no answer at all (refused, timed out, unknown
 * host, invalid endpoint) is tried again after a back-off, and after the last try the notification
 * has failed. Kept free of Jakarta EE so the rules are tested as plain code.
 *
 * <p>A destination outside the allowed networks ({@link AllowedNetworks}) fails at once, without
 * retry: no answer came, as with an unreachable receiver, so the consequence is the same (for a
 * round notification the training goes into E), but trying again would ask the same question of
 * the same configuration. It is not a rejection: nothing answered, and a rejection is the
 * receiver's own word, which removes it from the training.
 *
 * <p>The back-off is a list of delays: the one after the n-th failed try is the n-th entry, the
 * last entry repeating when there are more tries than entries. The default, 5, 10, 15, 20, 25 s
 * with 5 tries, is the reference server's schedule; it sleeps 25 s after its fifth failure before
 * giving up, which we skip: the failure is recorded as soon as it is certain.
 */
public final class DeliveryPolicy {

    /** The reference server's back-off in seconds (api.md §8.2). */
    public static final String DEFAULT_DELAYS = "5,10,15,20,25";

    /** Tries in all, the first one included (api.md §8.2). */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;

    private final List<Duration> delays;
    private final int maxAttempts;

    private DeliveryPolicy(List<Duration> delays, int maxAttempts) {
        this.delays = List.copyOf(delays);
        this.maxAttempts = maxAttempts;
    }

    /**
     * A policy from its configuration text: {@code delaysSeconds} is a comma-separated list of
     * non-negative decimal seconds (e.g. {@code 5,10,15} or {@code 0.2, 0.2}).
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static DeliveryPolicy of(String delaysSeconds, int maxAttempts) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("the number of tries must be at least 1, not " + maxAttempts);
        }
        return new DeliveryPolicy(parseDelays(delaysSeconds), maxAttempts);
    }

    static List<Duration> parseDelays(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("no retry delays given");
        }
        List<Duration> out = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            String entry = part.strip();
            BigDecimal seconds;
            try {
                seconds = new BigDecimal(entry);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("retry delay '" + entry + "' is not a number of seconds");
            }
            if (seconds.signum() < 0) {
                throw new IllegalArgumentException("retry delay " + entry + " is negative");
            }
            try {
                out.add(Duration.ofMillis(seconds.movePointRight(3).setScale(0, RoundingMode.HALF_UP).longValueExact()));
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("retry delay " + entry + " is too large");
            }
        }
        return out;
    }

    public List<Duration> delays() {
        return delays;
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    /** The wait after the {@code failedTries}-th failed try (1 for the first). */
    public Duration delayAfter(int failedTries) {
        if (failedTries < 1) {
            throw new IllegalArgumentException("no try has failed yet");
        }
        return delays.get(Math.min(failedTries, delays.size()) - 1);
    }

    /** Whether an HTTP status delivers a notification: any 2xx (the DLR client answers 200 or 202). */
    public static boolean accepted(int httpStatus) {
        return httpStatus >= 200 && httpStatus <= 299;
    }

    /** What follows from {@code attempt} when {@code earlierTries} tries were made before it. */
    public Decision decide(int earlierTries, Attempt attempt) {
        if (attempt.answered()) {
            int code = attempt.httpStatus();
            return accepted(code)
                    ? new Decision(NotificationStatus.SENT, code, null, null)
                    : new Decision(NotificationStatus.REJECTED, code, "answered HTTP " + code, null);
        }
        int tries = earlierTries + 1;
        if (attempt.permanent()) {
            return new Decision(NotificationStatus.FAILED, null, attempt.error() + " (not tried again)", null);
        }
        if (tries >= maxAttempts) {
            return new Decision(NotificationStatus.FAILED, null,
                    attempt.error() + " (try " + tries + " of " + maxAttempts + ")", null);
        }
        return new Decision(NotificationStatus.PENDING, null,
                attempt.error() + " (try " + tries + " of " + maxAttempts + ")", delayAfter(tries));
    }

    /**
     * One try: the receiver answered with a status, or there was no answer, for a reason; a
     * {@code permanent} reason (a refused destination) will not change by trying again.
     */
    public record Attempt(Integer httpStatus, String error, boolean permanent) {

        public static Attempt answered(int httpStatus) {
            return new Attempt(httpStatus, null, false);
        }

        public static Attempt noAnswer(String reason) {
            return new Attempt(null, reason, false);
        }

        /** Not even tried: the destination is not allowed, whatever the next try would find. */
        public static Attempt refused(String reason) {
            return new Attempt(null, reason, true);
        }

        public boolean answered() {
            return httpStatus != null;
        }
    }

    /**
     * The notification's new status ({@code PENDING} means: try again after {@code retryAfter}),
     * with what to record of the try.
     */
    public record Decision(NotificationStatus status, Integer httpStatus, String error, Duration retryAfter) {
    }
}
