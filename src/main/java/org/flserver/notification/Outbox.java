package org.flserver.notification;

import jakarta.annotation.Resource;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.transaction.TransactionSynchronizationRegistry;
import java.time.OffsetDateTime;
import java.util.Objects;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.flserver.platform.Jsonp;
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

    private static final Logger LOG = Logger.getLogger(Outbox.class.getName());

    /** Marks a transaction that has already asked for a dispatch after its commit. */
    private static final Object WAKE_REQUESTED = new Object() {
        @Override
        public String toString() {
            return Outbox.class.getName() + ".wakeRequested";
        }
    };

    @PersistenceContext
    EntityManager em;

    @Resource
    TransactionSynchronizationRegistry transaction;

    @Inject
    Event<NotificationsQueued> queued;

    /**
     * Queues one notification to one receiver: {@code {"notification_type": type, "body": body,
     * "training_uuid": training id}} POSTed to the receiver's message endpoint as it is now.
     *
     * <p>The row is inserted (flushed) at once: its id, taken from the database's identity, is the
     * delivery order, so it must follow the order of the calls, which the provider's own insert
     * order at commit would not guarantee.
     */
    public void send(Training training, User receiver, NotificationType type, JsonObject body) {
        Objects.requireNonNull(type, "type");
        String payload = Jsonp.createObjectBuilder()
                .add("notification_type", type.name())
                .add("body", body == null ? JsonValue.EMPTY_JSON_OBJECT : body)
                .add("training_uuid", training.getId().toString())
                .build()
                .toString();
        String endpoint = receiver.getMessageEndpoint() == null ? "" : receiver.getMessageEndpoint();
        Notification notification = new Notification(training.getId(), receiver.getId(), endpoint, type, payload);
        em.persist(notification);
        em.flush();
        LOG.log(Level.FINE, () -> "queued notification " + notification.getId() + " " + type + " to "
                + receiver.getUsername() + ": " + payload);
        // One wake-up per transaction is enough: the dispatcher takes whatever is due then.
        if (transaction.getResource(WAKE_REQUESTED) == null) {
            transaction.putResource(WAKE_REQUESTED, Boolean.TRUE);
            queued.fire(new NotificationsQueued());
        }
    }

    /**
     * Drops every not yet delivered notification of a training to one receiver (it was removed).
     * One being delivered right now is dropped too: its answer is then not recorded and has no
     * consequences.
     */
    public void cancel(UUID trainingId, UUID receiverId) {
        em.createNamedQuery(Notification.CANCEL)
                .setParameter("training", trainingId)
                .setParameter("receiver", receiverId)
                .setParameter("now", OffsetDateTime.now())
                .executeUpdate();
    }

    /** Drops every not yet delivered notification of a training (it failed), as {@link #cancel} does. */
    public void cancelAll(UUID trainingId) {
        em.createNamedQuery(Notification.CANCEL_ALL)
                .setParameter("training", trainingId)
                .setParameter("now", OffsetDateTime.now())
                .executeUpdate();
    }
}
