package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.flserver.round.CollectionPhase.Status;
import org.flserver.training.Training;

/**
 * The durable side of phase deadlines (design.md §5.4), built like {@link JobQueue}: each method is
 * its own transaction. {@link #claim} takes a due phase with a conditional UPDATE of its lease —
 * atomic on every database, so of several instances one gets it — and {@link #close} then locks the
 * training row, re-reads the phase and acts only if it is still OPEN. The lease only keeps instances
 * from queueing on the same row lock; the OPEN check under the lock is what makes a phase close once,
 * whether the last upload, another instance or a restarted one got there first.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.REQUIRES_NEW)
public class PhaseDeadlines {

    @PersistenceContext
    EntityManager em;

    @Inject
    RoundEngine engine;

    /** Ids of open phases whose deadline has passed and that no one holds, oldest deadline first. */
    public List<Long> due(int max) {
        OffsetDateTime now = OffsetDateTime.now();
        return em.createQuery("SELECT p.id FROM CollectionPhase p WHERE p.status = :open AND p.dueAt <= :now"
                        + " AND (p.leaseUntil IS NULL OR p.leaseUntil < :now) ORDER BY p.dueAt, p.id", Long.class)
                .setParameter("open", Status.OPEN).setParameter("now", now).setMaxResults(max).getResultList();
    }

    /** The earliest deadline of any open phase (for the poller's next wake-up). */
    public Optional<OffsetDateTime> nextDue() {
        return Optional.ofNullable(em.createQuery("SELECT MIN(p.dueAt) FROM CollectionPhase p WHERE p.status = :open",
                OffsetDateTime.class).setParameter("open", Status.OPEN).getSingleResult());
    }

    /** Takes a due phase for {@code owner} for {@code lease}; false when another instance has it or it closed. */
    public boolean claim(long phaseId, String owner, Duration lease) {
        OffsetDateTime now = OffsetDateTime.now();
        return em.createQuery("UPDATE CollectionPhase p SET p.leaseOwner = :owner, p.leaseUntil = :until"
                        + " WHERE p.id = :id AND p.status = :open AND p.dueAt <= :now"
                        + " AND (p.leaseUntil IS NULL OR p.leaseUntil < :now)")
                .setParameter("owner", owner).setParameter("until", now.plus(lease)).setParameter("id", phaseId)
                .setParameter("open", Status.OPEN).setParameter("now", now).executeUpdate() == 1;
    }

    /**
     * Closes a claimed phase at its deadline: the training row first (design.md §5.1), then the
     * phase, which must still be OPEN. False when someone else closed it first; nothing changes then.
     */
    public boolean close(long phaseId) {
        CollectionPhase phase = em.find(CollectionPhase.class, phaseId);
        if (phase == null) {
            return false;
        }
        Training training = em.find(Training.class, phase.getTrainingId(), LockModeType.PESSIMISTIC_WRITE);
        if (training == null) {
            return false;
        }
        em.refresh(phase);
        if (phase.getStatus() != Status.OPEN) {
            return false;
        }
        engine.deadlinePassed(training, phase);
        return true;
    }
}
