package org.flserver.notification;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.json.JsonObject;
import java.util.UUID;
import org.flserver.training.Training;
import org.flserver.user.User;

/**
 * The notification outbox (design.md §5): a notification is a row written in the same transaction
 * as the state change that causes it, so it is sent if and only if that change commits. A
 * dispatcher delivers the rows afterwards, per receiver strictly in the order they were written.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.MANDATORY)
public class Outbox {

    /**
     * Queues one notification to one receiver: {@code {"notification_type": type, "body": body,
     * "training_uuid": training id}} POSTed to the receiver's message endpoint as it is now.
     */
    public void send(Training training, User receiver, NotificationType type, JsonObject body) {
        throw new UnsupportedOperationException("not yet implemented");
    }

    /** Drops every not yet delivered notification of a training to one receiver (it was removed). */
    public void cancel(UUID trainingId, UUID receiverId) {
        throw new UnsupportedOperationException("not yet implemented");
    }

    /** Drops every not yet delivered notification of a training (it failed). */
    public void cancelAll(UUID trainingId) {
        throw new UnsupportedOperationException("not yet implemented");
    }
}
