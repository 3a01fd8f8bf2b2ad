package org.flserver.notification;

import java.util.UUID;

/**
 * CDI event: a round-type notification could not be delivered after every retry (unreachable,
 * timed out, invalid endpoint; api.md §8.2–8.3), or at once because its destination is not
 * allowed ({@link AllowedNetworks}). Fired synchronously inside the transaction that records the
 * outcome, like {@link DeliveryRejected}.
 */
public record DeliveryFailed(long notificationId, UUID trainingId, UUID receiverId, NotificationType type,
                             String reason) {
}
