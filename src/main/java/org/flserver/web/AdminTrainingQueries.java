package org.flserver.web;

import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.training.Training;

/**
 * Read-only look-ups for the admin screens. They live here, not in the trainings service, because
 * the admin pages see every training (the API shows a user only their own) and never change one;
 * results are copied into view objects inside the transaction, so pages never load lazily.
 */
@Stateless
public class AdminTrainingQueries {

    @PersistenceContext
    EntityManager em;

    /** Every training with its model, actor and participants, in no particular order (the page sorts). */
    public List<TrainingRow> trainings() {
        // Fetch joins: one query for the whole table instead of one per row and association.
        return em.createQuery("SELECT DISTINCT t FROM Training t JOIN FETCH t.model m JOIN FETCH t.actor "
                        + "LEFT JOIN FETCH t.participants", Training.class)
                .getResultList().stream().map(TrainingRow::new).toList();
    }

    public Optional<TrainingDetailView> training(UUID id) {
        List<Training> found = em.createQuery("SELECT t FROM Training t JOIN FETCH t.model m "
                        + "JOIN FETCH m.owner JOIN FETCH t.actor LEFT JOIN FETCH t.participants WHERE t.id = :id",
                        Training.class)
                .setParameter("id", id).getResultList();
        return found.stream().findFirst().map(TrainingDetailView::new);
    }
}
