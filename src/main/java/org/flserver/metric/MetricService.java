package org.flserver.metric;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import jakarta.persistence.PersistenceException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.model.Model;
import org.flserver.model.ModelService;
import org.flserver.platform.ApiException;
import org.flserver.round.RoundEngine;
import org.flserver.round.RoundQueries;
import org.flserver.training.ModelTrainings;
import org.flserver.training.Training;
import org.flserver.user.User;

/**
 * Metrics reported for models (api.md §5.6): storing and listing them, with the visibility rule of
 * docs/api.md §15.2 (only who may see the model may read or report its metrics). Each public method is one
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
    ModelTrainings trainings;

    @Inject
    RoundEngine engine;

    @Inject
    RoundQueries rounds;

    @Inject
    MetricLimits limits;

    /** Stores the values for the model at its current round (step) and tells the engine about global ones. */
    public void report(UUID modelId, UUID callerId, List<MetricValue> values) {
        Model model = models.visibleModel(modelId, callerId);
        Optional<Training> training = model instanceof GlobalModel global ? trainings.trainingOf(global) : Optional.empty();
        if (training.isPresent()) {
            em.lock(training.get(), LockModeType.PESSIMISTIC_WRITE);
            // the round may have moved on while this transaction waited for the lock
            em.refresh(model);
        } else {
            em.lock(model, LockModeType.PESSIMISTIC_WRITE); // so that concurrent reports meet the limits below in turn
        }
        requireRoomFor(model, values);
        int step = model.getRound();
        if (training.isPresent() && rounds.missedTestRound(training.get().getId(), step, callerId)) {
            // a late report for a test round that closed at its deadline without it (api.md §6.6)
            throw ApiException.detail(409, "Round " + step + " is closed.");
        }
        attach(model, em.getReference(User.class, callerId), step, values);
        training.ifPresent(t -> engine.metricsReported(t, (GlobalModel) model, step));
    }

    /**
     * 403 when the model's metrics with these would be more than {@code fl.metrics.max-per-model}
     * rows or {@code fl.metrics.max-binary-bytes-per-model} bytes of values that are no number
     * ({@link MetricLimits}). The caller holds the lock that orders the model's reports.
     */
    private void requireRoomFor(Model model, List<MetricValue> values) {
        Object[] stored = (Object[]) em.createNativeQuery("SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(value_binary)), 0)"
                + " FROM metric WHERE model_id = ?1").setParameter(1, model.getId()).getSingleResult();
        long rows = ((Number) stored[0]).longValue();
        long bytes = ((Number) stored[1]).longValue();
        long newBytes = values.stream().mapToLong(v -> v.valueBinary() == null ? 0 : v.valueBinary().length).sum();
        if (rows + values.size() > limits.maxPerModel()) {
            throw ApiException.forbidden("Model " + model.getId() + " has " + rows + " metrics; it keeps at most "
                    + limits.maxPerModel() + " (fl.metrics.max-per-model).");
        }
        if (bytes + newBytes > limits.maxBinaryBytesPerModel()) {
            throw ApiException.forbidden("Model " + model.getId() + " has " + bytes + " bytes of metric values that"
                    + " are no number; it keeps at most " + limits.maxBinaryBytesPerModel()
                    + " (fl.metrics.max-binary-bytes-per-model).");
        }
    }

    /**
     * Inserts metrics for a model inside the caller's transaction (a local update brings its own
     * training metrics), as one JDBC batch in the order of the report.
     *
     * <p>Not through {@code persist}: the ids (an identity column) must follow the order of the
     * report, which the listing shows, and EclipseLink inserts the new objects of one flush in an
     * order of its own (an identity map); one flush per row kept the order but cost a round trip
     * and a change-set pass over the whole persistence context per row — 40 s for 25,000 rows under
     * the training's lock. A batch runs its statements in order, on the transaction's connection,
     * so the queries that follow (the round engine's count) see the rows. Metrics are not in the
     * shared cache, so there is nothing to keep in step.
     */
    public void attach(Model model, User reporter, int step, List<MetricValue> values) {
        if (values.isEmpty()) {
            return;
        }
        em.flush(); // the model row (a new local model) must exist before the rows that refer to it
        Connection connection = em.unwrap(Connection.class);
        try (PreparedStatement insert = connection.prepareStatement("INSERT INTO metric"
                + " (metric_key, value_float, value_binary, step, model_id, reporter_id) VALUES (?, ?, ?, ?, ?, ?)")) {
            for (MetricValue v : values) {
                insert.setString(1, v.key());
                if (v.valueFloat() == null) {
                    insert.setNull(2, Types.DOUBLE);
                } else {
                    insert.setDouble(2, v.valueFloat());
                }
                if (v.valueBinary() == null) {
                    insert.setNull(3, Types.VARBINARY);
                } else {
                    insert.setBytes(3, v.valueBinary());
                }
                insert.setInt(4, step);
                insert.setObject(5, model.getId());
                insert.setObject(6, reporter.getId());
                insert.addBatch();
            }
            insert.executeBatch();
        } catch (SQLException e) {
            throw new PersistenceException("storing " + values.size() + " metrics failed", e);
        }
    }

    /** {@code GET /models/<id>/metrics/}: every metric of the model, in the order they were stored. */
    public List<Metric> metricsOf(UUID modelId, UUID callerId) {
        Model model = models.visibleModel(modelId, callerId);
        return em.createQuery("SELECT m FROM Metric m JOIN FETCH m.reporter WHERE m.model = :model ORDER BY m.id",
                Metric.class).setParameter("model", model).getResultList();
    }
}
