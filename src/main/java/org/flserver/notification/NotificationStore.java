package org.flserver.notification;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.training.Training;

/**
 * The dispatcher's short transactions on the outbox, each one on its own (REQUIRES_NEW): finding
 * the due notifications, claiming one, and recording how a try went. No HTTP call happens inside
 * any of them; the dispatcher makes it between the claim and the record. Internal to the
 * notification package (public only because EJB business methods must be).
 *
 * <p>Each claim is its own transaction and touches one row, so a claim can never be part of a
 * lock cycle with another claim or with {@link Outbox#cancelAll}, which locks many rows.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.REQUIRES_NEW)
public class NotificationStore {

    @PersistenceContext
    EntityManager em;

    @Inject
    Event<DeliveryRejected> rejected;

    @Inject
    Event<DeliveryFailed> failed;

    /** A receiver's oldest PENDING notification, due and not leased. */
    public record Due(long id, UUID receiverId) {
    }

    /** A claimed notification: everything needed to deliver it and to record the outcome. */
    public record Delivery(long id, UUID trainingId, UUID receiverId, NotificationType type, String endpoint,
                           String payload, int attempts, String lease) {
    }

    /** At most {@code limit} receivers' due notifications, oldest first, one per receiver. */
    public List<Due> due(OffsetDateTime now, int limit) {
        return em.createNamedQuery(Notification.DUE, Object[].class)
                .setParameter("now", now)
                .setMaxResults(limit)
                .getResultList().stream()
                .map(row -> new Due(((Number) row[0]).longValue(), (UUID) row[1]))
                .toList();
    }

    /**
     * Takes a lease on notification {@code due} until {@code until}, if it is still PENDING, due,
     * unleased and its receiver's oldest PENDING one; empty when another dispatcher (this instance
     * or another) was faster or the row changed.
     */
    public Optional<Delivery> claim(Due due, String lease, OffsetDateTime now, OffsetDateTime until) {
        int claimed = em.createNativeQuery(Notification.CLAIM_SQL)
                .setParameter(1, lease)
                .setParameter(2, until)
                .setParameter(3, due.id())
                .setParameter(4, now)
                .executeUpdate();
        if (claimed == 0) {
            return Optional.empty();
        }
        Notification n = em.find(Notification.class, due.id());
        return Optional.of(new Delivery(n.getId(), n.getTrainingId(), n.getReceiverId(), n.getType(),
                n.getEndpoint(), n.getPayload(), n.getAttempts(), lease));
    }

    /**
     * Records one try of a claimed notification, if the claim still holds (the row is PENDING and
     * still leased by {@code delivery}: not cancelled meanwhile, nor claimed again by another
     * instance after the lease ran out). When the try settles a round-type notification as
     * REJECTED or FAILED, fires {@link DeliveryRejected} or {@link DeliveryFailed} in this same
     * transaction, after the new status is flushed, so an observer's changes commit with it.
     *
     * @return whether anything was recorded
     */
    public boolean record(Delivery delivery, DeliveryPolicy.Decision decision, OffsetDateTime now) {
        boolean consequential = delivery.type().roundType()
                && (decision.status() == NotificationStatus.REJECTED || decision.status() == NotificationStatus.FAILED);
        if (consequential
                && em.find(Training.class, delivery.trainingId(), LockModeType.PESSIMISTIC_WRITE) == null) {
            // Lock order: the training row first, as every state change of a training does
            // (design.md §5); the observer will lock it anyway. Taking the notification row
            // first could deadlock with a state change that cancels this receiver's notifications.
            return false; // the training is gone, and its notifications with it (ON DELETE CASCADE)
        }
        Notification n = em.find(Notification.class, delivery.id(), LockModeType.PESSIMISTIC_WRITE);
        if (n == null || n.getStatus() != NotificationStatus.PENDING || !delivery.lease().equals(n.getLeaseOwner())) {
            return false;
        }
        n.recordTry(decision, now);
        em.flush();
        if (consequential) {
            if (decision.status() == NotificationStatus.REJECTED) {
                rejected.fire(new DeliveryRejected(n.getId(), n.getTrainingId(), n.getReceiverId(), n.getType(),
                        decision.httpStatus()));
            } else {
                failed.fire(new DeliveryFailed(n.getId(), n.getTrainingId(), n.getReceiverId(), n.getType(),
                        n.getLastError()));
            }
        }
        return true;
    }
}
