package org.flserver.training;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.Model;
import org.flserver.platform.ApiException;
import org.flserver.round.CollectionPhase;
import org.flserver.round.RoundEngine;
import org.flserver.round.RoundQueries;
import org.flserver.user.User;
import org.flserver.user.UserService;

/**
 * Trainings before the round engine takes over (api.md §6): creation on a model the caller owns,
 * reading, deletion, the participant list and the start. Each public method is one transaction;
 * a refusal ({@link ApiException}) rolls it back, so nothing is half-written.
 *
 * <p>Every change of a stored training locks its row ({@code PESSIMISTIC_WRITE}, design.md §5), so
 * a start, a participant change and a delete on the same training never interleave.
 */
@Stateless
public class TrainingService {

    static final String NO_PERMISSION = "You do not have permission to perform this action.";

    /** Options are small settings; this bound keeps them well inside every database's column. */
    static final int MAX_OPTIONS_CHARS = 65536;

    /**
     * Most participants one training may have: a bound on what one training's rounds query and
     * compute per phase (their participant sets go into SQL {@code IN} lists, which PostgreSQL
     * caps at 65535 parameters) far above the few to few thousand organisations or devices of a
     * federated training.
     */
    @Inject
    @ConfigProperty(name = "fl.training.max-participants", defaultValue = "10000")
    int maxParticipants;

    /**
     * The most trainings one user may have as actor (0: no limit). Creating one is a small JSON
     * request, and every list of trainings, and the model copies they make, grow with them: without
     * a limit one account could fill the database and make its own listings exhaust the heap.
     */
    @Inject
    @ConfigProperty(name = "fl.quota.max-trainings-per-user", defaultValue = "1000")
    int maxTrainingsPerUser;

    @Inject
    RoundEngine engine;

    @Inject
    RoundQueries rounds;

    @PersistenceContext
    EntityManager em;

    @Inject
    UserService users;

    @Inject
    ModelTrainings modelTrainings;

    /**
     * A training with what {@code GET /trainings/<id>/} reports about the current round. For a
     * training with round options (api.md §6.6) also the deadline of the open phase (or null) and
     * the participants the current phase expects; without them the expected set is every
     * participant, and the JSON stays as it was.
     */
    public record TrainingDetail(Training training, long localModelsArrived, boolean roundOptions,
                                 OffsetDateTime roundDeadline, List<UUID> expectedParticipants) {
        public int localModelsExpected() {
            return roundOptions ? expectedParticipants.size() : training.getParticipants().size();
        }
    }

    /**
     * Creates a training in state {@code I} with the caller as actor. If the model already carries
     * a training (the relation is one-to-one), the training gets a copy of the model instead, as
     * the reference server's {@code clone_model} does.
     */
    public Training create(UUID callerId, NewTraining request) {
        checkOptions(request.options(), request.targetNumUpdates());
        User actor = users.lockedForCreation(callerId); // the user's row before the model's, in every creation
        requireRoomForATraining(actor);
        // The lock serialises two creations on the same model: the second one sees the first
        // one's training and clones instead of failing on the unique model_id.
        Model model = em.find(Model.class, request.modelId(), LockModeType.PESSIMISTIC_WRITE);
        if (model == null) {
            throw ApiException.notFound("Model", request.modelId());
        }
        if (!model.getOwner().getId().equals(callerId)) {
            throw ApiException.forbidden(NO_PERMISSION);
        }
        if (!(model instanceof GlobalModel global)) {
            throw ApiException.badRequest("Model " + model.getId() + " is not a global model.");
        }
        requireAtMostMaxParticipants(new HashSet<>(request.clients()).size());
        List<User> participants = users.allOf(request.clients());
        GlobalModel trainedModel = global;
        if (modelTrainings.trainingOf(global).isPresent()) {
            trainedModel = global.copyFor(global.getOwner());
            em.persist(trainedModel);
        }
        Training training = new Training(trainedModel, actor, request.targetNumUpdates());
        training.setAggregationMethod(request.aggregationMethod());
        training.setUncertaintyMethod(request.uncertaintyMethod());
        training.setOptions(request.options());
        training.getParticipants().addAll(participants);
        em.persist(training);
        // TrainingListener's @PostPersist must run now, while this transaction is active, and not
        // during commit (docs/design.md §8): its UPDATE of target_num_updates only reaches the row then.
        em.flush();
        return training;
    }

    /**
     * The options the API accepts: free JSON, except that {@code daisy_chain_period}, when given,
     * is a non-negative int and the daisy-chained target ({@link TrainingListener}) still fits
     * the int32 column, and that the whole object fits the column on every database (H2's is
     * bounded). The reference server answers 500 for these instead (api.md §14).
     */
    static void checkOptions(JsonObject options, int targetNumUpdates) {
        if (options.toString().length() > MAX_OPTIONS_CHARS) {
            throw ApiException.field("options", "At most " + MAX_OPTIONS_CHARS + " characters of JSON.");
        }
        RoundOptions.parse(options); // round_timeout_seconds, min_participants, clients_per_round (api.md §6.6)
        AggregationOptions.parse(options); // aggregation, server_optimizer, dp (api.md §6.7)
        JsonValue period = options.get("daisy_chain_period");
        if (OptionValues.absent(period)) {
            return;
        }
        if (!OptionValues.isIntAtLeast(period, 0)) {
            throw ApiException.field("options", "daisy_chain_period must be a non-negative integer.");
        }
        long target = (long) targetNumUpdates * ((JsonNumber) period).intValue();
        if (target > Integer.MAX_VALUE) {
            throw ApiException.field("options",
                    "target_num_updates times daisy_chain_period must not exceed " + Integer.MAX_VALUE + ".");
        }
    }

    /** {@code GET /trainings/}: the trainings the caller runs as actor. */
    public List<Training> ofActor(UUID callerId) {
        return em.createQuery(FETCH_ALL + " WHERE t.actor.id = :user ORDER BY t.lastUpdate, t.id", Training.class)
                .setParameter("user", callerId).getResultList();
    }

    /** {@code GET /users/trainings/}: the trainings the caller runs or takes part in, each once. */
    public List<Training> ofMember(UUID callerId) {
        return em.createQuery(FETCH_ALL + " WHERE t.actor.id = :user"
                        + " OR EXISTS (SELECT p FROM Training u JOIN u.participants p WHERE u = t AND p.id = :user)"
                        + " ORDER BY t.lastUpdate, t.id", Training.class)
                .setParameter("user", callerId).getResultList();
    }

    /** {@code GET /trainings/<id>/}: for the actor and the participants only. */
    /** The history of the training's global model (actor and participants, like the training itself). */
    public List<RoundQueries.VersionHistory> provenance(UUID callerId, UUID trainingId) {
        Training training = find(trainingId, LockModeType.NONE);
        if (!isActor(training, callerId) && !isParticipant(training, callerId)) {
            throw ApiException.forbidden(NO_PERMISSION);
        }
        return rounds.history(training.getModel().getId());
    }

    public TrainingDetail detail(UUID callerId, UUID trainingId) {
        Training training = find(trainingId, LockModeType.NONE);
        if (!isActor(training, callerId) && !isParticipant(training, callerId)) {
            throw ApiException.forbidden(NO_PERMISSION);
        }
        long arrived = em.createQuery("SELECT COUNT(m) FROM LocalModel m WHERE m.baseModel = :model", Long.class)
                .setParameter("model", training.getModel()).getSingleResult();
        // what the JSON shows, loaded while the transaction is open
        training.getActor().getId();
        List<UUID> participants = training.getParticipants().stream().map(User::getId).toList();
        if (!RoundOptions.of(training).controlsPhases()) {
            return new TrainingDetail(training, arrived, false, null, participants);
        }
        // the phase opened last is the current one; before the start (or for a training whose
        // phases were never stored) every participant is expected
        Optional<CollectionPhase> phase = rounds.latestPhase(trainingId);
        List<UUID> expected = phase.map(p -> p.getExpected().stream().filter(participants::contains).toList())
                .orElse(participants);
        OffsetDateTime deadline = phase.filter(p -> p.getStatus() == CollectionPhase.Status.OPEN)
                .map(CollectionPhase::getDueAt).orElse(null);
        return new TrainingDetail(training, arrived, true, deadline, expected);
    }

    /**
     * {@code GET /trainings/<id>/models/} and {@code .../latest/} (api.md §5.9): the training's
     * global model followed by its local models (oldest round first), or with {@code latest} only
     * each participant's local model of the highest round (ordered by owner id, as the reference
     * groups them). For the actor, the participants and the model's owner; anyone else gets an
     * empty list, as in the reference — a filtered listing shows nothing, it does not refuse.
     * Unknown ids are 400 "Training &lt;id&gt; not found." like every training route.
     */
    public List<Model> models(UUID callerId, UUID trainingId, boolean latest) {
        Training training = find(trainingId, LockModeType.NONE);
        GlobalModel global = training.getModel();
        if (!isActor(training, callerId) && !isParticipant(training, callerId)
                && !global.getOwner().getId().equals(callerId)) {
            return List.of();
        }
        List<LocalModel> locals = em.createQuery("SELECT m FROM LocalModel m JOIN FETCH m.owner"
                        + " WHERE m.baseModel = :model ORDER BY m.round, m.createdAt, m.id", LocalModel.class)
                .setParameter("model", global).getResultList();
        if (latest) {
            Map<String, LocalModel> newest = new TreeMap<>();
            // ascending rounds: the last one seen per owner is that owner's latest
            locals.forEach(m -> newest.put(m.getOwner().getId().toString(), m));
            locals = List.copyOf(newest.values());
        }
        List<Model> out = new ArrayList<>(1 + locals.size());
        out.add(global);
        out.addAll(locals);
        return out;
    }

    /** Deletes the training (actor only); its model is kept, as in the reference server. */
    public void delete(UUID callerId, UUID trainingId) {
        Training training = find(trainingId, LockModeType.PESSIMISTIC_WRITE);
        if (!isActor(training, callerId)) {
            throw ApiException.forbidden("You are not the owner the training.");
        }
        em.remove(training);
    }

    /** Registers participants (idempotent). Actor only: api.md §15.2. */
    public void addParticipants(UUID callerId, UUID trainingId, List<UUID> userIds) {
        Set<UUID> added = new HashSet<>(userIds);
        requireAtMostMaxParticipants(added.size()); // before any database work
        Training training = lockedForActor(callerId, trainingId);
        training.getParticipants().forEach(u -> added.remove(u.getId()));
        requireAtMostMaxParticipants(training.getParticipants().size() + added.size());
        training.getParticipants().addAll(users.allOf(userIds));
        training.touch();
    }

    /** 403 when the user already is the actor of {@code fl.quota.max-trainings-per-user} trainings. */
    private void requireRoomForATraining(User actor) {
        if (maxTrainingsPerUser <= 0) {
            return;
        }
        long trainings = em.createQuery("SELECT COUNT(t) FROM Training t WHERE t.actor = :actor", Long.class)
                .setParameter("actor", actor).getSingleResult();
        if (trainings >= maxTrainingsPerUser) {
            throw ApiException.forbidden("You have " + trainings + " trainings, the most a user may have on this"
                    + " server (fl.quota.max-trainings-per-user). Delete one to create another.");
        }
    }

    /** 400 when a training would have more than {@code fl.training.max-participants} participants. */
    private void requireAtMostMaxParticipants(int participants) {
        if (participants > maxParticipants) {
            throw ApiException.badRequest("A training can have at most " + maxParticipants
                    + " participants (fl.training.max-participants).");
        }
    }

    /** Removes participants; ids that are not participants are ignored. Actor only: api.md §15.2. */
    public void removeParticipants(UUID callerId, UUID trainingId, List<UUID> userIds) {
        Training training = lockedForActor(callerId, trainingId);
        users.allOf(userIds).forEach(training.getParticipants()::remove);
        training.touch();
        em.flush();
        // a running round may now be complete without them (api.md §15.6)
        engine.participantsChanged(training);
    }

    /**
     * Moves a training from {@code I} to {@code O}. Actor only (api.md §15.2). The rounds
     * themselves (notifications, aggregation) belong to the round engine, not to this service.
     */
    public void start(UUID callerId, UUID trainingId) {
        Training training = lockedForActor(callerId, trainingId);
        if (training.getParticipants().isEmpty()) {
            throw ApiException.badRequest("At least one participant must be registered!");
        }
        if (training.getState() != TrainingState.INITIAL) {
            throw ApiException.badRequest("Training " + training.getId() + " is not in state INITIAL!");
        }
        RoundOptions.checkAtStart(training);
        AggregationOptions.checkAtStart(training, RoundOptions.of(training));
        training.setState(TrainingState.ONGOING);
        training.touch();
        engine.trainingStarted(training);
    }

    private Training lockedForActor(UUID callerId, UUID trainingId) {
        Training training = find(trainingId, LockModeType.PESSIMISTIC_WRITE);
        if (!isActor(training, callerId)) {
            throw ApiException.forbidden(NO_PERMISSION);
        }
        return training;
    }

    private Training find(UUID trainingId, LockModeType lock) {
        Training training = em.find(Training.class, trainingId, lock);
        if (training == null) {
            throw ApiException.notFound("Training", trainingId);
        }
        return training;
    }

    private static boolean isActor(Training training, UUID userId) {
        return training.getActor().getId().equals(userId);
    }

    private static boolean isParticipant(Training training, UUID userId) {
        return training.getParticipants().stream().anyMatch(u -> u.getId().equals(userId));
    }

    /**
     * Loads the lazy relations the training JSON shows while the transaction is open, so that
     * the resource maps detached entities without going back to the database.
     */
    /**
     * Trainings with everything their JSON shows, in one query: the listings would otherwise load
     * the model, the actor and the participants of every training one by one.
     */
    private static final String FETCH_ALL = "SELECT DISTINCT t FROM Training t JOIN FETCH t.model"
            + " JOIN FETCH t.actor LEFT JOIN FETCH t.participants";
}
