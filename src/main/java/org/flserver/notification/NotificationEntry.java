package org.flserver.notification;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One line of a training's notification log (admin page, tests): what was sent to whom and how it
 * went. {@code httpStatus} is the last answer's status, {@code lastError} why the last try failed.
 */
public record NotificationEntry(long id, NotificationType type, UUID receiverId, String receiverUsername,
                                String endpoint, NotificationStatus status, int attempts, Integer httpStatus,
                                String lastError, OffsetDateTime createdAt, OffsetDateTime finishedAt) {
}
