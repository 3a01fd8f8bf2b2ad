package org.flserver.training;

import jakarta.ejb.Local;
import jakarta.ejb.LocalBean;
import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.model.GlobalModel;
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

    @Override
    public List<UUID> trainedModelsOf(UUID callerId) {
        return em.createQuery("SELECT t.model.id FROM Training t WHERE t.actor.id = :caller"
                        + " OR :user MEMBER OF t.participants", UUID.class)
                .setParameter("caller", callerId)
                .setParameter("user", em.getReference(User.class, callerId))
                .getResultList();
    }

    @Override
    public boolean isActor(GlobalModel model, UUID callerId) {
        return trainingOf(model).map(t -> t.getActor().getId().equals(callerId)).orElse(false);
    }
}
