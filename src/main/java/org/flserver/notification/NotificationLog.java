package org.flserver.notification;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.List;
import java.util.UUID;

/**
 * Read-only view of the outbox for people: the admin page's notification log of a training, and
 * tests that check what was delivered. The payload is left out; it can be large and the admin
 * page has no use for it.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.SUPPORTS)
public class NotificationLog {

    @PersistenceContext
    EntityManager em;

    /** Every notification of the training, in the order they were queued (id order). */
    public List<NotificationEntry> forTraining(UUID trainingId) {
        return em.createQuery("SELECT n, u.username FROM Notification n, User u"
                        + " WHERE u.id = n.receiverId AND n.trainingId = :training ORDER BY n.id", Object[].class)
                .setParameter("training", trainingId)
                .getResultList().stream()
                .map(row -> entry((Notification) row[0], (String) row[1]))
                .toList();
    }

    private static NotificationEntry entry(Notification n, String username) {
        return new NotificationEntry(n.getId(), n.getType(), n.getReceiverId(), username, n.getEndpoint(),
                n.getStatus(), n.getAttempts(), n.getHttpStatus(), n.getLastError(), n.getCreatedAt(),
                n.getFinishedAt());
    }
}
