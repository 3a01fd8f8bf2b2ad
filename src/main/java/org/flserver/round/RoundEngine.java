package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.json.JsonObject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Logger;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.StoredFile;
import org.flserver.model.SwagStatistics;
import org.flserver.notification.NotificationType;
import org.flserver.notification.Outbox;
import org.flserver.platform.Jsonp;
import org.flserver.training.Training;
import org.flserver.training.TrainingState;
import org.flserver.training.UncertaintyMethod;
import org.flserver.user.User;

/**
 * The round engine (api.md §7 with §15, design.md §5): the only code that changes a started
 * training's state. Services call it inside their own transaction, with the training's row already
 * locked ({@code PESSIMISTIC_WRITE}), right after they stored what arrived; everything it decides —
 * phase, state, jobs, notifications — commits or rolls back with that transaction. The job worker
 * and the notification observers lock the row themselves before calling in.
 *
 * <p>Every event is checked against the stored {@link TrainingRound}: an event that does not match
 * the phase and round the engine waits for (a second "last" upload, a late metric, a rejection
 * after the training ended) changes nothing, so each transition happens exactly once.
 *
 * <p>Counting follows docs/api.md §15.3/§15.6: only updates, statistics and metrics of <em>current</em>
 * participants count, each participant once.
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.MANDATORY)
public class RoundEngine {

    private static final Logger LOG = Logger.getLogger(RoundEngine.class.getName());

    @PersistenceContext
    EntityManager em;

    @Inject
    Outbox outbox;

    @Inject
    Event<JobQueued> jobQueued;

    /** The training was just moved I → O: TRAINING_START, then the first UPDATE_ROUND_START. */
    public void trainingStarted(Training training) {
        GlobalModel model = training.getModel();
        int round = model.getRound();
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (state == null) {
            em.persist(new TrainingRound(training.getId(), round, RoundPhase.UPDATES));
        } else {
            state.moveTo(round, RoundPhase.UPDATES);
        }
        if (model.getWeightsSha256() != null) { // a mean model (an ensemble) has no weights of its own
            recordVersion(model, round, model.getWeightsSha256(), model.getWeightsSize(), null);
        }
        for (User participant : training.getParticipants()) {
            outbox.send(training, participant, NotificationType.TRAINING_START, modelBody(model.getId()));
        }
        startUpdateRound(training, round, List.of());
    }

    /** A participant's local model for the current round was stored (already persisted and flushed). */
    public void localModelReceived(Training training, LocalModel update) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (state == null || state.getPhase() != RoundPhase.UPDATES || update.getRound() != state.getRound()) {
            return;
        }
        evaluateUpdates(training, state);
    }

    /** Metrics for {@code model} at {@code step} were stored by a user (the training's own model). */
    public void metricsReported(Training training, GlobalModel model, int step) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (state == null || state.getPhase() != RoundPhase.TESTING || step != state.getRound()) {
            return;
        }
        evaluateTests(training, state);
    }

    /** A participant's SWAG statistics for the current round were stored (persisted and flushed). */
    public void swagStatisticsReceived(Training training, SwagStatistics statistics) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (state == null || state.getPhase() != RoundPhase.SWAG || statistics.getRound() != state.getRound()) {
            return;
        }
        evaluateSwag(training, state);
    }

    /**
     * Participants were removed (by the actor, or because they rejected a notification): what the
     * engine waits for may now be complete.
     */
    public void participantsChanged(Training training) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (state == null) {
            return;
        }
        switch (state.getPhase()) {
            case UPDATES -> evaluateUpdates(training, state);
            case TESTING -> evaluateTests(training, state);
            case SWAG -> evaluateSwag(training, state);
            default -> {
                // a job runs (it completes with the participants it started with) or the training ended
            }
        }
    }

    /**
     * A participant answered a round notification with non-2xx (api.md §8.3, §15.8): it is removed
     * from the training, its pending notifications are dropped, and the round is re-evaluated.
     */
    public void receiverRejected(UUID trainingId, UUID receiverId) {
        Training training = em.find(Training.class, trainingId, LockModeType.PESSIMISTIC_WRITE);
        if (training == null || !isRunning(training)) {
            return;
        }
        boolean removed = training.getParticipants().removeIf(u -> u.getId().equals(receiverId));
        if (!removed) {
            return;
        }
        LOG.info(() -> "training " + trainingId + ": participant " + receiverId
                + " rejected a round notification and was removed");
        training.touch();
        outbox.cancel(trainingId, receiverId);
        em.flush();
        participantsChanged(training);
    }

    /** A round notification could not be delivered after every retry: the training goes to E. */
    public void receiverUnreachable(UUID trainingId, UUID receiverId, String reason) {
        Training training = em.find(Training.class, trainingId, LockModeType.PESSIMISTIC_WRITE);
        if (training == null || !isRunning(training)) {
            return;
        }
        if (training.getParticipants().stream().noneMatch(u -> u.getId().equals(receiverId))) {
            return; // removed meanwhile: its silence no longer matters
        }
        fail(training, "participant " + receiverId + " is unreachable: " + reason);
    }

    /**
     * Completes a MODEL job: the new weights become the global model's, the round advances, the
     * round's local models are deleted (their provenance kept), and the next step is announced. The
     * caller has locked the training row and checked that the job is still PENDING.
     */
    public void modelAggregated(Training training, AggregationJob job, String sha256, long size, List<JobInput> inputs) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        GlobalModel model = training.getModel();
        int next = job.getRound() + 1;
        ModelVersion version = recordVersion(model, next, sha256, size, job.getId());
        recordProvenance(version, JobKind.MODEL, inputs);
        model.setWeights(new StoredFile(sha256, size));
        model.setRound(next);
        // FedDC keeps the local models of non-boundary rounds until here; all of them go now.
        em.createQuery("DELETE FROM LocalModel l WHERE l.baseModel = :model AND l.round <= :round")
                .setParameter("model", model).setParameter("round", job.getRound()).executeUpdate();
        job.finish(JobStatus.DONE, null);
        training.setLocked(false);
        training.touch();
        if (training.getUncertaintyMethod() == UncertaintyMethod.SWAG) {
            training.setState(TrainingState.SWAG_ROUND);
            state.moveTo(next, RoundPhase.SWAG);
            sendToParticipants(training, NotificationType.SWAG_ROUND_START, roundBody(next, model.getId()));
            return;
        }
        afterAggregation(training, state, next);
    }

    /** Completes a SWAG_MOMENTS job: the moments are stored on the model, state S → O, then as after a round. */
    public void momentsAggregated(Training training, AggregationJob job, String firstSha256, String secondSha256,
                           List<JobInput> inputs) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        GlobalModel model = training.getModel();
        ModelVersion version = em.createQuery("SELECT v FROM ModelVersion v WHERE v.modelId = :model"
                        + " AND v.round = :round", ModelVersion.class)
                .setParameter("model", model.getId()).setParameter("round", job.getRound())
                .getResultList().stream().findFirst().orElseThrow(() -> new IllegalStateException(
                        "no model version for round " + job.getRound() + " of training " + training.getId()));
        recordProvenance(version, JobKind.SWAG_MOMENTS, inputs);
        // The moments belong to the model row whatever its entity class (a GLOBAL model trained with
        // SWAG becomes a SWAG model here, as the reference stores them on it).
        em.flush();
        em.createNativeQuery("UPDATE model SET model_type = 'SWAG', swag_first_moment_sha256 = ?,"
                        + " swag_second_moment_sha256 = ? WHERE id = ?")
                .setParameter(1, firstSha256).setParameter(2, secondSha256).setParameter(3, model.getId())
                .executeUpdate();
        job.finish(JobStatus.DONE, null);
        training.setLocked(false);
        training.setState(TrainingState.ONGOING);
        training.touch();
        afterAggregation(training, state, job.getRound());
    }

    /** A job failed for good (its inputs cannot be aggregated): the training goes to E. */
    public void jobFailed(Training training, AggregationJob job, String reason) {
        job.finish(JobStatus.FAILED, reason);
        training.setLocked(false);
        if (isRunning(training)) {
            fail(training, "aggregation of round " + job.getRound() + " failed: " + reason);
        }
    }

    /** Whether the round engine still acts on events of this training (O or S). */
    static boolean isRunning(Training training) {
        return training.getState() == TrainingState.ONGOING || training.getState() == TrainingState.SWAG_ROUND;
    }

    // ---------------------------------------------------------------------------------------------

    private void evaluateUpdates(Training training, TrainingRound state) {
        Set<User> participants = training.getParticipants();
        if (participants.isEmpty()) {
            fail(training, "no participants left");
            return;
        }
        int round = state.getRound();
        List<LocalModel> updates = currentUpdates(training, round);
        if (updates.size() < participants.size()) {
            return;
        }
        int period = training.daisyChainPeriod();
        int next = round + 1;
        if (period > 0 && next % period != 0 && next < training.getTargetNumUpdates()) {
            // FedDC between boundaries (docs/api.md §7.3, §15.7): no aggregation; each participant continues
            // from a shuffled peer's local model, and the round advances.
            training.getModel().setRound(next);
            training.touch();
            startUpdateRound(training, next, updates);
            return;
        }
        em.persist(new AggregationJob(training.getId(), round, JobKind.MODEL));
        state.moveTo(round, RoundPhase.AGGREGATING);
        training.setLocked(true);
        training.touch();
        em.flush();
        jobQueued.fire(new JobQueued(training.getId()));
    }

    private void evaluateSwag(Training training, TrainingRound state) {
        Set<User> participants = training.getParticipants();
        if (participants.isEmpty()) {
            fail(training, "no participants left");
            return;
        }
        long arrived = em.createQuery("SELECT COUNT(DISTINCT s.owner) FROM SwagStatistics s WHERE s.model = :model"
                        + " AND s.round = :round AND s.owner IN :participants", Long.class)
                .setParameter("model", training.getModel()).setParameter("round", state.getRound())
                .setParameter("participants", participants).getSingleResult();
        if (arrived < participants.size()) {
            return;
        }
        em.persist(new AggregationJob(training.getId(), state.getRound(), JobKind.SWAG_MOMENTS));
        state.moveTo(state.getRound(), RoundPhase.SWAG_AGGREGATING);
        training.setLocked(true);
        training.touch();
        em.flush();
        jobQueued.fire(new JobQueued(training.getId()));
    }

    private void evaluateTests(Training training, TrainingRound state) {
        Set<User> participants = training.getParticipants();
        if (participants.isEmpty()) {
            fail(training, "no participants left");
            return;
        }
        long reported = em.createQuery("SELECT COUNT(DISTINCT m.reporter) FROM Metric m WHERE m.model = :model"
                        + " AND m.step = :step AND m.reporter IN :participants", Long.class)
                .setParameter("model", training.getModel()).setParameter("step", state.getRound())
                .setParameter("participants", participants).getSingleResult();
        if (reported < participants.size()) {
            return;
        }
        GlobalModel model = training.getModel();
        training.touch();
        if (model.getRound() < training.getTargetNumUpdates()) {
            startUpdateRound(training, model.getRound(), List.of());
        } else {
            finish(training, state);
        }
    }

    /** After an aggregation into round {@code next}: a test round, or (FedDC between tests) the next round. */
    private void afterAggregation(Training training, TrainingRound state, int next) {
        GlobalModel model = training.getModel();
        if (training.daisyChainPeriod() > 0 && next < training.getTargetNumUpdates()) {
            // FedDC runs no test rounds between rounds (docs/api.md §7.3): the next round starts at once.
            startUpdateRound(training, next, List.of());
            return;
        }
        state.moveTo(next, RoundPhase.TESTING);
        sendToParticipants(training, NotificationType.MODEL_TEST_ROUND, roundBody(next, model.getId()));
    }

    /**
     * Starts round {@code round}: UPDATE_ROUND_START with the global model's id to every participant,
     * or — FedDC, a round that is not a multiple of the period — each participant gets the id of a
     * peer's local model of the previous round, shuffled (docs/api.md §7.3).
     */
    private void startUpdateRound(Training training, int round, List<LocalModel> previousUpdates) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        state.moveTo(round, RoundPhase.UPDATES);
        training.setState(TrainingState.ONGOING);
        int period = training.daisyChainPeriod();
        UUID global = training.getModel().getId();
        if (period > 0 && round % period != 0 && !previousUpdates.isEmpty()) {
            List<UUID> ids = new ArrayList<>(previousUpdates.stream().map(LocalModel::getId).toList());
            Collections.shuffle(ids);
            int i = 0;
            for (User participant : training.getParticipants()) {
                outbox.send(training, participant, NotificationType.UPDATE_ROUND_START,
                        roundBody(round, ids.get(i++ % ids.size())));
            }
            return;
        }
        sendToParticipants(training, NotificationType.UPDATE_ROUND_START, roundBody(round, global));
    }

    private void finish(Training training, TrainingRound state) {
        training.setState(TrainingState.COMPLETED);
        training.touch();
        state.moveTo(state.getRound(), RoundPhase.FINISHED);
        Set<User> receivers = new LinkedHashSet<>(training.getParticipants());
        receivers.add(training.getActor());
        for (User receiver : receivers) {
            outbox.send(training, receiver, NotificationType.TRAINING_FINISHED, modelBody(training.getModel().getId()));
        }
    }

    private void fail(Training training, String reason) {
        LOG.warning(() -> "training " + training.getId() + " failed: " + reason);
        training.setState(TrainingState.ERROR);
        training.touch();
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (state != null) {
            state.moveTo(state.getRound(), RoundPhase.FAILED);
        }
        outbox.cancelAll(training.getId());
    }

    /** The current round's updates of current participants, one per participant (the schema makes them unique). */
    private List<LocalModel> currentUpdates(Training training, int round) {
        Set<UUID> participantIds = new HashSet<>();
        training.getParticipants().forEach(u -> participantIds.add(u.getId()));
        return em.createQuery("SELECT l FROM LocalModel l WHERE l.baseModel = :model AND l.round = :round"
                        + " ORDER BY l.createdAt, l.id", LocalModel.class)
                .setParameter("model", training.getModel()).setParameter("round", round)
                .getResultList().stream()
                .filter(l -> participantIds.contains(l.getOwner().getId()))
                .toList();
    }

    private void sendToParticipants(Training training, NotificationType type, JsonObject body) {
        for (User participant : training.getParticipants()) {
            outbox.send(training, participant, type, body);
        }
    }

    private ModelVersion recordVersion(GlobalModel model, int round, String sha256, long size, Long jobId) {
        List<ModelVersion> existing = em.createQuery("SELECT v FROM ModelVersion v WHERE v.modelId = :model"
                        + " AND v.round = :round", ModelVersion.class)
                .setParameter("model", model.getId()).setParameter("round", round).getResultList();
        if (!existing.isEmpty()) {
            return existing.get(0);
        }
        ModelVersion version = new ModelVersion(model.getId(), round, sha256, size, jobId);
        em.persist(version);
        em.flush();
        return version;
    }

    private void recordProvenance(ModelVersion version, JobKind kind, List<JobInput> inputs) {
        // the weights the job used: sample size / total, or equal weights when the total is 0 (JobRunner)
        double total = JobRunner.totalSampleSize(inputs);
        for (JobInput input : inputs) {
            em.persist(new ModelProvenance(version.getId(), kind, input.updateId(), input.ownerId(),
                    input.ownerUsername(), input.round(), input.sampleSize(),
                    total > 0 ? input.sampleSize() / total : 1.0 / inputs.size(), input.sha256()));
            // one insert at a time: the identity order is then the aggregation order (EclipseLink
            // may otherwise insert a transaction's new rows in any order)
            em.flush();
        }
    }

    private static JsonObject modelBody(UUID modelId) {
        return Jsonp.createObjectBuilder().add("global_model_uuid", modelId.toString()).build();
    }

    private static JsonObject roundBody(int round, UUID modelId) {
        return Jsonp.createObjectBuilder().add("round", round).add("global_model_uuid", modelId.toString()).build();
    }
}
