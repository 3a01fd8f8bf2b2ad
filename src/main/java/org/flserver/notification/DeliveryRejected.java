package org.flserver.notification;

import java.util.UUID;

/**
 * CDI event: a receiver answered a round-type notification with a non-2xx status (api.md §8.3).
 * Fired synchronously inside the transaction that records the outcome, so whatever an observer
 * changes commits (or rolls back) together with it. The notification package only reports; the
 * round engine decides what it means.
 */
public record DeliveryRejected(long notificationId, UUID trainingId, UUID receiverId, NotificationType type,
                               int status) {
}
