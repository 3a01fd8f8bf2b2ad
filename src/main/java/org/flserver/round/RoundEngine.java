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
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.logging.Logger;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.StoredFile;
import org.flserver.model.SwagStatistics;
import org.flserver.notification.NotificationType;
import org.flserver.notification.Outbox;
import org.flserver.platform.Jsonp;
import org.flserver.round.CollectionPhase.Status;
import org.flserver.training.RoundOptions;
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
 *
 * <p>A training whose options set {@code round_timeout_seconds}, {@code min_participants} or
 * {@code clients_per_round} (design.md §5.4) gets a {@link CollectionPhase} row for each phase that
 * waits for participants: the phase then waits for the participants it invited (a draw, for a
 * training round with {@code clients_per_round}), and closes when all of them delivered or, at its
 * deadline, with what arrived if the quorum is met ({@link #deadlinePassed}); below the quorum the
 * training fails with the reason recorded on the row. Without those options no row is written and
 * everything runs as before.
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

    @Inject
    Event<DeadlineSet> deadlineSet;

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

    /**
     * A round notification could not be delivered after every retry: the training goes to E
     * (api.md §8.3) — unless it has a round deadline (api.md §6.6). Then the deadline and the
     * quorum decide the phase without the unreachable participant, which stays in the training and
     * is invited again next time (a site whose client crashed may come back); the FAILED
     * notification stays in the training's log.
     */
    public void receiverUnreachable(UUID trainingId, UUID receiverId, String reason) {
        Training training = em.find(Training.class, trainingId, LockModeType.PESSIMISTIC_WRITE);
        if (training == null || !isRunning(training)) {
            return;
        }
        if (training.getParticipants().stream().noneMatch(u -> u.getId().equals(receiverId))) {
            return; // removed meanwhile: its silence no longer matters
        }
        if (RoundOptions.of(training).timeoutMillis() != null) {
            LOG.info(() -> "training " + trainingId + ": participant " + receiverId + " is unreachable (" + reason
                    + "); the round deadline decides without it");
            return;
        }
        fail(training, "participant " + receiverId + " is unreachable: " + reason);
    }

    /**
     * Completes a MODEL job: the new weights become the global model's, the round advances, the
     * round's local models are deleted (their provenance kept), and the next step is announced. The
     * caller has locked the training row and checked that the job is still PENDING. False (the job
     * FAILED, nothing else changed) when the training no longer aggregates that round.
     */
    public boolean modelAggregated(Training training, AggregationJob job, String sha256, long size,
                                   List<JobInput> inputs, AggregationOutcome outcome) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (!stillAggregating(training, state, job, RoundPhase.AGGREGATING)) {
            return false;
        }
        GlobalModel model = training.getModel();
        int next = job.getRound() + 1;
        ModelVersion version = recordVersion(model, next, sha256, size, job.getId());
        // the optimizer state becomes current with the weights, in this transaction (design.md §4.4)
        version.recordOutcome(outcome);
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
            openPhase(training, next, RoundPhase.SWAG, List.copyOf(training.getParticipants()));
            return true;
        }
        afterAggregation(training, state, next);
        return true;
    }

    /**
     * Completes a SWAG_MOMENTS job: the moments are stored on the model, state S → O, then as after a
     * round. False (the job FAILED, nothing else changed) when the training no longer aggregates them.
     */
    public boolean momentsAggregated(Training training, AggregationJob job, String firstSha256, String secondSha256,
                                     List<JobInput> inputs) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (!stillAggregating(training, state, job, RoundPhase.SWAG_AGGREGATING)) {
            return false;
        }
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
        return true;
    }

    /**
     * Whether a completing job is the one the training waits for: the training runs and its phase is
     * {@code phase} of the job's round. Otherwise (it failed meanwhile — {@link #fail} marks its jobs
     * FAILED, so this is a second line of defence) the job is recorded as FAILED and its output is
     * left unreferenced in the file store: E is final (docs/api.md §7), a completion must not move
     * the training on, and nothing is lost that the training still needs.
     */
    private boolean stillAggregating(Training training, TrainingRound state, AggregationJob job, RoundPhase phase) {
        if (isRunning(training) && state != null && state.getPhase() == phase && state.getRound() == job.getRound()) {
            return true;
        }
        String reason = "the training no longer aggregated round " + job.getRound() + " (state "
                + training.getState().value() + ", phase " + (state == null ? "none" : state.getPhase() + " of round "
                + state.getRound()) + "); the output was not used";
        LOG.warning(() -> "aggregation job " + job.getId() + " of training " + training.getId() + ": " + reason);
        job.finish(JobStatus.FAILED, reason);
        if (!isRunning(training)) {
            training.setLocked(false);
        }
        return false;
    }

    /** A job failed for good (its inputs cannot be aggregated): the training goes to E. */
    public void jobFailed(Training training, AggregationJob job, String reason) {
        job.finish(JobStatus.FAILED, reason);
        training.setLocked(false);
        if (isRunning(training)) {
            fail(training, "aggregation of round " + job.getRound() + " failed: " + reason);
        }
    }

    /**
     * The deadline of an open phase passed (design.md §5.4). The caller ({@link PhaseDeadlines}) has
     * locked the training row and checked that the phase is still OPEN. With the quorum the phase
     * closes with what arrived and the training goes on; below it the training fails, the reason
     * recorded on the row.
     */
    public void deadlinePassed(Training training, CollectionPhase phase) {
        TrainingRound state = em.find(TrainingRound.class, training.getId());
        if (!isRunning(training) || state == null || state.getRound() != phase.getRound()
                || state.getPhase() != phase.getPhase()) {
            // cannot happen while every close goes through this class; a row left open must not be retried forever
            phase.close(Status.ENDED, List.of(), List.of(), "the training was no longer in this phase");
            return;
        }
        Set<UUID> expected = expectedNow(training, phase);
        List<UUID> delivered = deliveredIds(training, phase).stream().filter(expected::contains).toList();
        List<UUID> missing = expected.stream().filter(id -> !delivered.contains(id)).toList();
        int quorum = RoundOptions.of(training).quorum(expected.size());
        String what = describe(phase) + " of training " + training.getId();
        if (!delivered.isEmpty() && delivered.size() >= quorum) {
            phase.close(Status.DEADLINE, delivered, missing, what + " closed at its deadline with " + delivered.size()
                    + " of " + expected.size() + " expected participants (quorum " + quorum + "); delivered: "
                    + names(training, delivered) + "; missing: " + names(training, missing));
            LOG.info(phase::getReason);
            training.touch();
            switch (phase.getPhase()) {
                case UPDATES -> {
                    Set<UUID> used = Set.copyOf(delivered);
                    proceedWithUpdates(training, state, phase.getRound(), currentUpdates(training, phase.getRound())
                            .stream().filter(l -> used.contains(l.getOwner().getId())).toList());
                }
                case SWAG -> queueMomentsJob(training, state);
                default -> afterTests(training, state);
            }
            return;
        }
        String reason = what + " reached its deadline with " + delivered.size() + " of " + expected.size()
                + " expected participants, below the quorum of " + quorum + "; delivered: " + names(training, delivered)
                + "; missing: " + names(training, missing);
        phase.close(Status.BELOW_QUORUM, delivered, missing, reason);
        fail(training, reason);
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
        CollectionPhase phase = phase(training.getId(), round, RoundPhase.UPDATES);
        if (phase == null) {
            if (updates.size() < participants.size()) {
                return;
            }
        } else {
            Set<UUID> delivered = updates.stream().map(l -> l.getOwner().getId()).collect(Collectors.toSet());
            if (!closedComplete(training, phase, delivered)) {
                return;
            }
            Set<UUID> expected = Set.copyOf(phase.getDelivered());
            updates = updates.stream().filter(l -> expected.contains(l.getOwner().getId())).toList();
        }
        proceedWithUpdates(training, state, round, updates);
    }

    /** The updates of {@code round} are in (all, or at the deadline what arrived): the next round or a job. */
    private void proceedWithUpdates(Training training, TrainingRound state, int round, List<LocalModel> updates) {
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
        dropUncountedUpdates(training, round, updates);
        em.persist(new AggregationJob(training.getId(), round, JobKind.MODEL));
        state.moveTo(round, RoundPhase.AGGREGATING);
        training.setLocked(true);
        training.touch();
        em.flush();
        jobQueued.fire(new JobQueued(training.getId()));
    }

    /**
     * Fixes the inputs of the round's job to the updates the round counted. The job reads the round's
     * updates from the database, and an update whose sender was removed from the training after
     * uploading must not count: the actor may have removed them for what they sent. So the round's
     * other updates are deleted in the transaction that queues the job, and a job run twice (design.md
     * §5.2) reads the same inputs.
     */
    private void dropUncountedUpdates(Training training, int round, List<LocalModel> counted) {
        Set<UUID> kept = new HashSet<>();
        counted.forEach(l -> kept.add(l.getId()));
        em.createQuery("SELECT l FROM LocalModel l WHERE l.baseModel = :model AND l.round = :round", LocalModel.class)
                .setParameter("model", training.getModel()).setParameter("round", round)
                .getResultList().stream()
                .filter(l -> !kept.contains(l.getId()))
                .forEach(em::remove);
    }

    private void evaluateSwag(Training training, TrainingRound state) {
        Set<User> participants = training.getParticipants();
        if (participants.isEmpty()) {
            fail(training, "no participants left");
            return;
        }
        CollectionPhase phase = phase(training.getId(), state.getRound(), RoundPhase.SWAG);
        if (phase != null) {
            if (closedComplete(training, phase, Set.copyOf(deliveredIds(training, phase)))) {
                queueMomentsJob(training, state);
            }
            return;
        }
        long arrived = em.createQuery("SELECT COUNT(DISTINCT s.owner) FROM SwagStatistics s WHERE s.model = :model"
                        + " AND s.round = :round AND s.owner IN :participants", Long.class)
                .setParameter("model", training.getModel()).setParameter("round", state.getRound())
                .setParameter("participants", participants).getSingleResult();
        if (arrived < participants.size()) {
            return;
        }
        queueMomentsJob(training, state);
    }

    private void queueMomentsJob(Training training, TrainingRound state) {
        // As for updates (dropUncountedUpdates): the moments of a participant removed after sending
        // them do not count, and the job reads the round's statistics from the database.
        Set<UUID> participants = new HashSet<>();
        training.getParticipants().forEach(u -> participants.add(u.getId()));
        em.createQuery("SELECT s FROM SwagStatistics s WHERE s.model = :model AND s.round = :round",
                        SwagStatistics.class)
                .setParameter("model", training.getModel()).setParameter("round", state.getRound())
                .getResultList().stream()
                .filter(s -> !participants.contains(s.getOwner().getId()))
                .forEach(em::remove);
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
        CollectionPhase phase = phase(training.getId(), state.getRound(), RoundPhase.TESTING);
        if (phase != null) {
            if (closedComplete(training, phase, Set.copyOf(deliveredIds(training, phase)))) {
                afterTests(training, state);
            }
            return;
        }
        long reported = em.createQuery("SELECT COUNT(DISTINCT m.reporter) FROM Metric m WHERE m.model = :model"
                        + " AND m.step = :step AND m.reporter IN :participants", Long.class)
                .setParameter("model", training.getModel()).setParameter("step", state.getRound())
                .setParameter("participants", participants).getSingleResult();
        if (reported < participants.size()) {
            return;
        }
        afterTests(training, state);
    }

    /** The test round is over (everyone reported, or the deadline with the quorum): next round or the end. */
    private void afterTests(Training training, TrainingRound state) {
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
        // test rounds ask every participant, also with clients_per_round (api.md §6.6)
        openPhase(training, next, RoundPhase.TESTING, List.copyOf(training.getParticipants()));
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
        List<User> invited = invited(training, round);
        if (period > 0 && round % period != 0 && !previousUpdates.isEmpty()) {
            // FedDC: the local models of those who delivered (at a deadline: only theirs), shuffled
            List<UUID> ids = new ArrayList<>(previousUpdates.stream().map(LocalModel::getId).toList());
            Collections.shuffle(ids);
            int i = 0;
            for (User participant : invited) {
                outbox.send(training, participant, NotificationType.UPDATE_ROUND_START,
                        roundBody(round, ids.get(i++ % ids.size())));
            }
        } else {
            for (User participant : invited) {
                outbox.send(training, participant, NotificationType.UPDATE_ROUND_START, roundBody(round, global));
            }
        }
        openPhase(training, round, RoundPhase.UPDATES, invited);
    }

    /**
     * Who a training round invites: every participant, or with {@code clients_per_round} the
     * {@link ClientSampling} draw for this training and round, in the participants' order.
     */
    private static List<User> invited(Training training, int round) {
        List<User> participants = List.copyOf(training.getParticipants());
        Integer perRound = RoundOptions.of(training).clientsPerRound();
        if (perRound == null || perRound >= participants.size()) {
            return participants;
        }
        Set<UUID> drawn = Set.copyOf(ClientSampling.draw(training.getId(), round,
                participants.stream().map(User::getId).toList(), perRound));
        return participants.stream().filter(u -> drawn.contains(u.getId())).toList();
    }

    /**
     * Stores the phase that was just announced, for trainings with round options (design.md §5.4):
     * who is expected and, with {@code round_timeout_seconds}, the deadline counted from now — the
     * moment its notifications were queued. The row commits with the notifications or not at all.
     */
    private void openPhase(Training training, int round, RoundPhase kind, List<User> expected) {
        RoundOptions options = RoundOptions.of(training);
        if (!options.controlsPhases() || phase(training.getId(), round, kind) != null) {
            return;
        }
        OffsetDateTime now = OffsetDateTime.now();
        OffsetDateTime due = options.timeoutMillis() == null ? null : now.plus(Duration.ofMillis(options.timeoutMillis()));
        em.persist(new CollectionPhase(training.getId(), round, kind, expected.stream().map(User::getId).toList(),
                now, due));
        em.flush();
        if (due != null) {
            deadlineSet.fire(new DeadlineSet(due));
        }
    }

    /** The stored phase of a training, round and kind, or null (a training without round options). */
    private CollectionPhase phase(UUID trainingId, int round, RoundPhase kind) {
        return em.createQuery("SELECT p FROM CollectionPhase p WHERE p.trainingId = :training AND p.round = :round"
                        + " AND p.phase = :phase", CollectionPhase.class)
                .setParameter("training", trainingId).setParameter("round", round).setParameter("phase", kind)
                .getResultList().stream().findFirst().orElse(null);
    }

    /**
     * Closes an open phase as COMPLETE when every participant it still expects delivered; true
     * then. A phase whose expected participants have all been removed fails the training (no one
     * is left to deliver what it waits for).
     */
    private boolean closedComplete(Training training, CollectionPhase phase, Set<UUID> deliveredIds) {
        if (phase.getStatus() != Status.OPEN) {
            return false;
        }
        Set<UUID> expected = expectedNow(training, phase);
        if (expected.isEmpty()) {
            phase.close(Status.ENDED, List.of(), List.of(), "no participant expected in this phase is left");
            fail(training, "no participant expected in " + describe(phase) + " is left");
            return false;
        }
        if (!deliveredIds.containsAll(expected)) {
            return false;
        }
        phase.close(Status.COMPLETE, expected.stream().toList(), List.of(), null);
        return true;
    }

    /** The participants a phase invited that are still participants, in invitation order. */
    private static Set<UUID> expectedNow(Training training, CollectionPhase phase) {
        Set<UUID> current = training.getParticipants().stream().map(User::getId).collect(Collectors.toSet());
        Set<UUID> expected = new LinkedHashSet<>(phase.getExpected());
        expected.retainAll(current);
        return expected;
    }

    /** Who delivered what a phase waits for (any user; callers keep the expected ones), in arrival order. */
    private List<UUID> deliveredIds(Training training, CollectionPhase phase) {
        String query = switch (phase.getPhase()) {
            case UPDATES -> "SELECT l.owner.id, l.createdAt FROM LocalModel l WHERE l.baseModel = :model"
                    + " AND l.round = :round ORDER BY l.createdAt";
            case SWAG -> "SELECT s.owner.id, s.createdAt FROM SwagStatistics s WHERE s.model = :model"
                    + " AND s.round = :round ORDER BY s.createdAt";
            // first report of each reporter (a grouped query: a test round may bring many metric rows)
            case TESTING -> "SELECT m.reporter.id, MIN(m.id) FROM Metric m WHERE m.model = :model AND m.step = :round"
                    + " GROUP BY m.reporter.id";
            default -> throw new IllegalStateException("not a collection phase: " + phase.getPhase());
        };
        List<Object[]> rows = new ArrayList<>(em.createQuery(query, Object[].class)
                .setParameter("model", training.getModel()).setParameter("round", phase.getRound())
                .getResultList());
        if (phase.getPhase() == RoundPhase.TESTING) {
            rows.sort(java.util.Comparator.comparingLong(row -> ((Number) row[1]).longValue()));
        }
        return rows.stream().map(row -> (UUID) row[0]).distinct().toList();
    }

    private static String describe(CollectionPhase phase) {
        return switch (phase.getPhase()) {
            case UPDATES -> "the updates of round " + phase.getRound();
            case SWAG -> "the SWAG moments of round " + phase.getRound();
            default -> "the test round " + phase.getRound();
        };
    }

    /** User names for a reason text: current participants by name, anyone else (removed meanwhile) by id. */
    private String names(Training training, List<UUID> ids) {
        if (ids.isEmpty()) {
            return "none";
        }
        return ids.stream().map(id -> training.getParticipants().stream().filter(u -> u.getId().equals(id))
                        .map(User::getUsername).findFirst().orElseGet(() -> {
                            User u = em.find(User.class, id);
                            return u == null ? id.toString() : u.getUsername();
                        }))
                .collect(Collectors.joining(", "));
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
        String stored = reason.length() > 2000 ? reason.substring(0, 2000) : reason;
        em.flush(); // a phase or job closed in this transaction must be written before the bulk updates below
        em.createQuery("UPDATE CollectionPhase p SET p.status = :ended, p.closedAt = :now, p.reason = :reason"
                        + " WHERE p.trainingId = :training AND p.status = :open")
                .setParameter("ended", Status.ENDED).setParameter("now", OffsetDateTime.now())
                .setParameter("reason", stored)
                .setParameter("training", training.getId()).setParameter("open", Status.OPEN).executeUpdate();
        // A job still pending (the training failed while its round was aggregated, e.g. a delivery
        // that failed for good after the round closed) must not complete: E is final (docs/api.md §7).
        // A worker running it finds it no longer PENDING and its output stays unreferenced.
        em.createQuery("UPDATE AggregationJob j SET j.status = :failed, j.error = :reason, j.finishedAt = :now,"
                        + " j.leaseOwner = NULL, j.leaseUntil = NULL WHERE j.trainingId = :training"
                        + " AND j.status = :pending")
                .setParameter("failed", JobStatus.FAILED).setParameter("now", OffsetDateTime.now())
                .setParameter("reason", "the training failed: " + stored.substring(0, Math.min(stored.length(), 1900)))
                .setParameter("training", training.getId()).setParameter("pending", JobStatus.PENDING)
                .executeUpdate();
        training.setLocked(false);
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
