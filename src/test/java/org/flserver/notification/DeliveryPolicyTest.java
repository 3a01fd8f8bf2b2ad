package org.flserver.notification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.flserver.notification.DeliveryPolicy.Attempt;
import org.flserver.notification.DeliveryPolicy.Decision;
import org.junit.jupiter.api.Test;

/** The delivery rules of api.md §8.2 and the parsing of their configuration. */
class DeliveryPolicyTest {

    private static final DeliveryPolicy DEFAULT =
            DeliveryPolicy.of(DeliveryPolicy.DEFAULT_DELAYS, DeliveryPolicy.DEFAULT_MAX_ATTEMPTS);

    @Test
    void defaultIsTheReferenceSchedule() {
        assertEquals(List.of(Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(15),
                Duration.ofSeconds(20), Duration.ofSeconds(25)), DEFAULT.delays());
        assertEquals(5, DEFAULT.maxAttempts());
    }

    @Test
    void delaysAreDecimalSecondsWithSpacesAllowed() {
        assertEquals(List.of(Duration.ofMillis(200), Duration.ofMillis(1500), Duration.ZERO, Duration.ofSeconds(3)),
                DeliveryPolicy.parseDelays(" 0.2, 1.5,0 ,3"));
        assertEquals(List.of(Duration.ofMillis(1)), DeliveryPolicy.parseDelays("0.0005")); // rounded to ms
    }

    @Test
    void badDelaysAreRefusedWithAReason() {
        for (String bad : List.of("", " ", "5,,10", "5,", "ten", "-1", "5;10", "1e400000")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DeliveryPolicy.parseDelays(bad), bad);
            assertFalse(e.getMessage().isBlank());
        }
        assertThrows(IllegalArgumentException.class, () -> DeliveryPolicy.parseDelays(null));
        assertThrows(IllegalArgumentException.class, () -> DeliveryPolicy.of("5", 0));
    }

    @Test
    void theLastDelayRepeatsWhenThereAreMoreTriesThanDelays() {
        DeliveryPolicy p = DeliveryPolicy.of("1,2", 6);
        assertEquals(Duration.ofSeconds(1), p.delayAfter(1));
        assertEquals(Duration.ofSeconds(2), p.delayAfter(2));
        assertEquals(Duration.ofSeconds(2), p.delayAfter(5));
        assertThrows(IllegalArgumentException.class, () -> p.delayAfter(0));
    }

    @Test
    void every2xxIsAcceptedAndNothingElse() {
        for (int code : new int[] {200, 201, 202, 204, 299}) {
            assertTrue(DeliveryPolicy.accepted(code), "" + code);
        }
        for (int code : new int[] {100, 199, 300, 302, 400, 404, 409, 500, 503}) {
            assertFalse(DeliveryPolicy.accepted(code), "" + code);
        }
    }

    @Test
    void anAcceptedAnswerIsSentWhateverTheEarlierTries() {
        Decision d = DEFAULT.decide(3, Attempt.answered(202));
        assertEquals(NotificationStatus.SENT, d.status());
        assertEquals(202, d.httpStatus());
        assertNull(d.error());
        assertNull(d.retryAfter());
    }

    @Test
    void anyOtherAnswerIsRejectedAtOnceWithoutRetry() {
        for (int code : new int[] {500, 404, 301}) {
            Decision d = DEFAULT.decide(0, Attempt.answered(code));
            assertEquals(NotificationStatus.REJECTED, d.status());
            assertEquals(code, d.httpStatus());
            assertNull(d.retryAfter());
        }
    }

    @Test
    void noAnswerIsRetriedWithTheBackOffThenFailsAfterTheLastTry() {
        Attempt refused = Attempt.noAnswer("ConnectException");
        List<Duration> waits = new java.util.ArrayList<>();
        int tries = 0;
        Decision d;
        do {
            d = DEFAULT.decide(tries++, refused);
            if (d.status() == NotificationStatus.PENDING) {
                waits.add(d.retryAfter());
            }
        } while (d.status() == NotificationStatus.PENDING);
        assertEquals(NotificationStatus.FAILED, d.status());
        assertEquals(5, tries);
        assertEquals(List.of(Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(15),
                Duration.ofSeconds(20)), waits);
        assertEquals("ConnectException (try 5 of 5)", d.error());
        assertNull(d.httpStatus());
    }

    @Test
    void aRefusedDestinationFailsAtOnceWithoutRetryOnAnyTry() {
        Attempt refused = Attempt.refused("destination refused: 169.254.169.254 (link-local address)");
        for (int earlier : new int[] {0, 2}) {
            Decision d = DEFAULT.decide(earlier, refused);
            assertEquals(new Decision(NotificationStatus.FAILED, null,
                    "destination refused: 169.254.169.254 (link-local address) (not tried again)", null), d);
        }
        assertFalse(Attempt.noAnswer("ConnectException").permanent());
        assertFalse(Attempt.answered(200).permanent());
    }

    @Test
    void oneTryMeansNoRetry() {
        assertEquals(NotificationStatus.FAILED,
                DeliveryPolicy.of("1", 1).decide(0, Attempt.noAnswer("x")).status());
    }

    @Test
    void longErrorsAreShortenedForTheColumn() {
        String longError = "e".repeat(2000);
        String stored = Notification.shorten(longError);
        assertEquals(Notification.ERROR_LENGTH, stored.length());
        assertEquals("short", Notification.shorten("short"));
        assertNull(Notification.shorten(null));
    }
}
