package org.flserver.metric;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.model.Model;
import org.flserver.model.ModelService;
import org.flserver.round.RoundEngine;
import org.flserver.training.Training;
import org.flserver.user.User;

/**
 * Metrics reported for models (api.md §5.6): storing and listing them, with the visibility rule of
 * §15.2 (only who may see the model may read or report its metrics). Each public method is one
 * transaction.
 *
 * <p>Metrics on a training's global model are the test-round reports the round engine counts, so
 * they are stored under the training's row lock and handed to {@link RoundEngine#metricsReported}
 * in the same transaction: the engine sees every report exactly once, and a report cannot slip
 * between the engine's count and a round change. The step is read after the lock, so it is the
 * round the model is in when the report is counted.
 */
@Stateless
public class MetricService {

    @PersistenceContext
    EntityManager em;

    @Inject
    ModelService models;

    @Inject
    RoundEngine engine;

    /** Stores the values for the model at its current round (step) and tells the engine about global ones. */
    public void report(UUID modelId, UUID callerId, List<MetricValue> values) {
        Model model = models.visibleModel(modelId, callerId);
        Optional<Training> training = model instanceof GlobalModel global ? models.trainingOf(global) : Optional.empty();
        training.ifPresent(t -> {
            em.lock(t, LockModeType.PESSIMISTIC_WRITE);
            // the round may have moved on while this transaction waited for the lock
            em.refresh(model);
        });
        int step = model.getRound();
        attach(model, em.getReference(User.class, callerId), step, values);
        em.flush();
        training.ifPresent(t -> engine.metricsReported(t, (GlobalModel) model, step));
    }

    /**
     * Persists metrics for a model inside the caller's transaction (a local update brings its own
     * training metrics). Each row is flushed on its own: the ids must follow the order of the
     * report, which the listing shows, and the provider would otherwise insert new rows of one
     * class in an order of its choosing.
     */
    public void attach(Model model, User reporter, int step, List<MetricValue> values) {
        for (MetricValue v : values) {
            em.persist(new Metric(model, reporter, step, v.key(), v.valueFloat(), v.valueBinary()));
            em.flush();
        }
    }

    /** {@code GET /models/<id>/metrics/}: every metric of the model, in the order they were stored. */
    public List<Metric> metricsOf(UUID modelId, UUID callerId) {
        Model model = models.visibleModel(modelId, callerId);
        return em.createQuery("SELECT m FROM Metric m JOIN FETCH m.reporter WHERE m.model = :model ORDER BY m.id",
                Metric.class).setParameter("model", model).getResultList();
    }
}
