package org.flserver.training;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.UUID;

/**
 * Writes a training's target from inside {@link TrainingListener}. It joins the caller's transaction
 * (MANDATORY: it must never commit on its own), so the rewrite commits or rolls back with the insert.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.MANDATORY)
public class TrainingTargetWriter {

    @PersistenceContext
    EntityManager em;

    public void writeTarget(UUID trainingId, int targetNumUpdates) {
        em.createQuery("UPDATE Training t SET t.targetNumUpdates = :target WHERE t.id = :id")
                .setParameter("target", targetNumUpdates)
                .setParameter("id", trainingId)
                .executeUpdate();
    }
}
