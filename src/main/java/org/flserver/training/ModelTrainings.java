package org.flserver.training;

import jakarta.ejb.Local;
import jakarta.ejb.LocalBean;
import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.model.Model;
import org.flserver.model.ModelAudience;
import org.flserver.user.User;

/**
 * The trainings a model belongs to: the training of a global model, and the {@link ModelAudience}
 * that decides with it who may see or delete a model. These queries name trainings, so they live
 * here and not in the model package below. It has two views: the interface, which the model
 * package injects ({@code @Local}), and the class itself for the packages above ({@code @LocalBean});
 * with {@code @LocalBean} alone the interface would be no bean type.
 */
@Stateless
@Local(ModelAudience.class)
@LocalBean
public class ModelTrainings implements ModelAudience {

    @PersistenceContext
    EntityManager em;

    /** The training of a global model, if one was created on it. */
    public Optional<Training> trainingOf(GlobalModel model) {
        return em.createQuery("SELECT t FROM Training t WHERE t.model = :model", Training.class)
                .setParameter("model", model).getResultList().stream().findFirst();
    }

    @Override
    public boolean takesPart(Collection<UUID> globalModelIds, UUID callerId) {
        return em.createQuery("SELECT COUNT(t) FROM Training t WHERE t.model.id IN :ids"
                        + " AND (t.actor.id = :caller OR :user MEMBER OF t.participants)", Long.class)
                .setParameter("ids", globalModelIds).setParameter("caller", callerId)
                .setParameter("user", em.getReference(User.class, callerId))
                .getSingleResult() > 0;
    }

    /**
     * One query with the trainings as a subquery. It used to be two, the ids of the caller's
     * trainings' models passed back as one IN list: a user in more than about 32,000 trainings would
     * have met PostgreSQL's limit on bind parameters.
     */
    @Override
    public List<Model> visibleModels(UUID callerId) {
        return em.createQuery("SELECT m FROM Model m WHERE m.owner.id = :caller OR EXISTS (SELECT t FROM Training t"
                        + " WHERE t.model.id = m.id AND (t.actor.id = :caller OR :user MEMBER OF t.participants))"
                        + " ORDER BY m.createdAt, m.id", Model.class)
                .setParameter("caller", callerId)
                .setParameter("user", em.getReference(User.class, callerId))
                .getResultList();
    }

    @Override
    public boolean lockTraining(GlobalModel model) {
        List<Training> locked = em.createQuery("SELECT t FROM Training t WHERE t.model = :model", Training.class)
                .setParameter("model", model).setLockMode(LockModeType.PESSIMISTIC_WRITE).getResultList();
        if (locked.isEmpty()) {
            return false;
        }
        Training training = locked.get(0);
        em.refresh(training); // the flag as it is now that no one else can change it
        return training.isLocked();
    }

    @Override
    public boolean isActor(GlobalModel model, UUID callerId) {
        return trainingOf(model).map(t -> t.getActor().getId().equals(callerId)).orElse(false);
    }
}
