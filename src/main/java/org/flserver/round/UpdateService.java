package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.MeanModel;
import org.flserver.model.ModelService;
import org.flserver.model.ParticipantUploads;
import org.flserver.model.StoredFile;
import org.flserver.model.SwagStatistics;
import org.flserver.model.UploadForm;
import org.flserver.platform.ApiException;
import org.flserver.platform.UniqueKeys;
import org.flserver.training.RoundOptions;
import org.flserver.training.Training;
import org.flserver.training.TrainingState;
import org.flserver.user.User;

/**
 * What participants send during a training: local model updates (api.md §5.7) and SWAG
 * statistics (docs/api.md §5.8), received by {@code ModelResource} at {@code /api/models/<id>/}
 * and handed here through {@link ParticipantUploads}. An upload is an act of the training round,
 * so its rules live in this package; the model package stays the store of models and files.
 * Each public method is one transaction.
 *
 * <p>An upload is checked twice. {@link #check} runs steps 3–7 of docs/api.md §5.7 without a lock, so a
 * request that cannot be accepted is refused before its file is read; the store methods run them
 * again with the training row locked ({@code PESSIMISTIC_WRITE}), because the round may have
 * moved on meanwhile, and only then look for an earlier upload of the same participant for the
 * same round (409, docs/api.md §15.3). The unique constraints {@code model_one_update_per_round} and
 * {@code swag_statistics_once} back that check up; a violation is answered with the same 409.
 * The round engine hears of the stored upload in the same transaction, with the row still locked.
 */
@Stateless
public class UpdateService implements ParticipantUploads {

    @PersistenceContext
    EntityManager em;

    @Inject
    ModelService models;

    @Inject
    UpdateMetrics metrics;

    @Inject
    RoundEngine engine;

    @Inject
    RoundQueries rounds;

    /**
     * The metrics a local update may carry (docs/api.md §5.7): used only when both fields are
     * present with the same number of entries, otherwise ignored, as in the reference.
     */
    @Override
    public void checkUpdateFields(UploadForm form) {
        if (hasMetrics(form)) {
            metrics.check(form.texts("metric_names"), form.texts("metric_values"));
        }
    }

    @Override
    public StoredFile checkLocalUpdate(UUID globalId, UUID callerId, int round) {
        return check(globalId, callerId, round, TrainingState.ONGOING);
    }

    @Override
    public StoredFile checkSwagStatistics(UUID globalId, UUID callerId, int round) {
        return check(globalId, callerId, round, TrainingState.SWAG_ROUND);
    }

    /**
     * Steps 3–7 of docs/api.md §5.7 for an upload to {@code globalId}: 400 when it is no global model, 404
     * without a training, 403 for non-participants, 400 (list) in another state or round. Returns
     * the global model's current weights, which the upload must match.
     */
    private StoredFile check(UUID globalId, UUID callerId, int round, TrainingState expected) {
        Training training = checked(globalId, callerId, round, expected, LockModeType.NONE);
        GlobalModel global = training.getModel();
        if (global instanceof MeanModel || global.getWeightsSha256() == null) {
            // a training on an ensemble has nothing to average updates into
            throw ApiException.list(400, "Model " + globalId + " is a mean model: it has no weights of its own and"
                    + " takes no updates.");
        }
        return new StoredFile(global.getWeightsSha256(), global.getWeightsSize());
    }

    @Override
    public void storeLocalUpdate(UUID globalId, UUID callerId, int round, int sampleSize, StoredFile file,
                                 UploadForm form) {
        Training training = checked(globalId, callerId, round, TrainingState.ONGOING, LockModeType.PESSIMISTIC_WRITE);
        GlobalModel global = training.getModel();
        if (alreadySent("SELECT COUNT(m) FROM LocalModel m WHERE m.baseModel = :model", global, round, callerId)) {
            throw duplicateUpdate(training, round);
        }
        User owner = em.getReference(User.class, callerId);
        LocalModel local = new LocalModel(owner, round, global, sampleSize);
        local.setWeights(file);
        em.persist(local);
        // a concurrent duplicate that passed the check: the unique key refuses it here, as the same 409
        UniqueKeys.flush(em, () -> duplicateUpdate(training, round));
        if (hasMetrics(form)) {
            metrics.attach(local, form.texts("metric_names"), form.texts("metric_values"));
        }
        engine.localModelReceived(training, local);
    }

    @Override
    public void storeSwagStatistics(UUID globalId, UUID callerId, int round, int sampleSize,
                                              StoredFile firstMoment, StoredFile secondMoment) {
        Training training = checked(globalId, callerId, round, TrainingState.SWAG_ROUND,
                LockModeType.PESSIMISTIC_WRITE);
        GlobalModel global = training.getModel();
        if (alreadySent("SELECT COUNT(m) FROM SwagStatistics m WHERE m.model = :model", global, round, callerId)) {
            throw duplicateStatistics(training, round);
        }
        SwagStatistics statistics = new SwagStatistics(global, round, em.getReference(User.class, callerId),
                sampleSize, firstMoment.sha256(), secondMoment.sha256());
        em.persist(statistics);
        UniqueKeys.flush(em, () -> duplicateStatistics(training, round));
        engine.swagStatisticsReceived(training, statistics);
    }

    private static boolean hasMetrics(UploadForm form) {
        return form.has("metric_names") && form.has("metric_values")
                && form.texts("metric_names").size() == form.texts("metric_values").size();
    }

    private Training checked(UUID globalId, UUID callerId, int round, TrainingState expected, LockModeType lock) {
        GlobalModel global = models.globalModel(globalId, "GlobalModel");
        List<UUID> trainingIds = em.createQuery("SELECT t.id FROM Training t WHERE t.model = :model", UUID.class)
                .setParameter("model", global).getResultList();
        if (trainingIds.isEmpty()) {
            throw ApiException.detail(404, "Model with ID " + globalId + " does not have a training process running");
        }
        Training training = em.find(Training.class, trainingIds.get(0), lock);
        if (training == null) {
            // deleted between the two statements
            throw ApiException.detail(404, "Model with ID " + globalId + " does not have a training process running");
        }
        if (lock != LockModeType.NONE) {
            // read the round as it is now that no one else can change it
            em.refresh(global);
        }
        if (training.getParticipants().stream().noneMatch(u -> u.getId().equals(callerId))) {
            throw ApiException.forbidden("You are not a participant of training " + training.getId() + "!");
        }
        // The round is being aggregated (its job is pending): the job's inputs are fixed, and the
        // job's completion deletes the round's uploads, so a late one would be accepted and then
        // lost (design.md §5.2). With or without round options the round is closed. (Read after
        // the training's row lock, in a transaction that has not read it before: the phase as it is.)
        // Each kind of upload has its own aggregation: a local update for the round a moments job
        // works on is an update for a round that has not started (400 below), not a late one.
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        RoundPhase aggregating = expected == TrainingState.SWAG_ROUND ? RoundPhase.SWAG_AGGREGATING
                : RoundPhase.AGGREGATING;
        if (state != null && state.getRound() == round && state.getPhase() == aggregating) {
            throw ApiException.detail(409, "Round " + round + " is closed.");
        }
        // trainings with round options (design.md §5.4): a closed phase takes nothing more, and
        // only the participants the phase invited deliver to it
        Optional<CollectionPhase> phase = rounds.phase(training.getId(), round,
                expected == TrainingState.SWAG_ROUND ? RoundPhase.SWAG : RoundPhase.UPDATES);
        if (phase.isPresent()) {
            if (phase.get().getStatus() != CollectionPhase.Status.OPEN) {
                throw ApiException.detail(409, "Round " + round + " is closed.");
            }
            if (!phase.get().getExpected().contains(callerId)) {
                throw ApiException.forbidden("You were not invited to round " + round + " of training "
                        + training.getId() + ".");
            }
        } else if (RoundOptions.of(training).controlsPhases()) {
            // The phase of this round has not opened yet (its test round runs): no one knows yet who
            // will be invited, so an early update would bypass the draw and the deadline.
            throw ApiException.list(400, "Training with ID " + training.getId() + " is not currently in round "
                    + round);
        }
        if (training.getState() != expected) {
            throw ApiException.list(400, "Training with ID " + training.getId() + " is in state "
                    + training.getState().value());
        }
        if (round != global.getRound()) {
            throw ApiException.list(400, "Training with ID " + training.getId() + " is not currently in round "
                    + round);
        }
        return training;
    }

    /** Whether the caller already sent this kind of upload for the round ({@code count} selects the kind). */
    private boolean alreadySent(String count, GlobalModel global, int round, UUID callerId) {
        return em.createQuery(count + " AND m.round = :round AND m.owner.id = :caller", Long.class)
                .setParameter("model", global).setParameter("round", round).setParameter("caller", callerId)
                .getSingleResult() > 0;
    }

    private static ApiException duplicateUpdate(Training training, int round) {
        return ApiException.detail(409, "You have already uploaded a model update for round " + round
                + " of training " + training.getId() + ".");
    }

    private static ApiException duplicateStatistics(Training training, int round) {
        return ApiException.detail(409, "You have already uploaded SWAG statistics for round " + round
                + " of training " + training.getId() + ".");
    }
}
