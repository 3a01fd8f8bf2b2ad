package org.flserver.notification;

/**
 * Where a {@link Notification} stands. PENDING is the only status that changes again: a row is
 * PENDING while it waits, while a dispatcher holds a lease on it, and between retries. The other
 * four are final, and a receiver's next notification waits for one of them.
 */
public enum NotificationStatus {
    /** Not yet delivered: waiting for its turn, being delivered, or waiting for a retry. */
    PENDING,
    /** The receiver answered 2xx. */
    SENT,
    /** The receiver answered something else; never retried (api.md §8.2). */
    REJECTED,
    /**
     * No answer after every try (unreachable, timed out, invalid endpoint), or at once for a
     * destination outside the allowed networks, which is never tried.
     */
    FAILED,
    /** Dropped before delivery by {@link Outbox#cancel} or {@link Outbox#cancelAll}. */
    CANCELLED;

    public boolean isFinal() {
        return this != PENDING;
    }
}
