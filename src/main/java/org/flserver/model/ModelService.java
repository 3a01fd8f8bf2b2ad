package org.flserver.model;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityNotFoundException;
import jakarta.persistence.PersistenceContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flserver.platform.ApiException;
import org.flserver.platform.Uuids;
import org.flserver.user.User;
import org.flserver.user.UserService;

/**
 * Models: storing uploads, finding them, and deciding who may see or delete one (api.md §5,
 * docs/api.md §13, and the object-level authorisation of §15.2). Every public method is one transaction.
 *
 * <p>Methods other domains use (trainings, metrics, inference):
 * <ul>
 * <li>{@link #model(UUID)} / {@link #globalModel(UUID)}: look-ups that answer the API's 400
 *     "Model &lt;id&gt; not found." themselves;</li>
 * <li>{@link #visibleModel(UUID, UUID)} / {@link #canSee(Model, UUID)}: the docs/api.md §15.2 visibility rule.</li>
 * </ul>
 * What trainings say about a model (who takes part in them) comes from the {@link ModelAudience}
 * the training package implements.
 */
@Stateless
public class ModelService {

    @PersistenceContext
    EntityManager em;

    @Inject
    UserService users;

    /**
     * The most global, SWAG and mean models one user may own (0: no limit): each is a row every
     * listing of the user's models carries, and content the store already has costs an upload no
     * disk, so without a limit one account could fill the database and make its own listings
     * exhaust the heap. The copy a new training makes of a model that already has a training counts
     * but is never refused ({@code fl.quota.max-trainings-per-user} bounds those).
     */
    @Inject
    @ConfigProperty(name = "fl.quota.max-models-per-user", defaultValue = "1000")
    int maxModelsPerUser;

    @Inject
    ModelAudience audience;

    /** Stores an uploaded GLOBAL or SWAG model whose files are already in {@link ModelFiles}. */
    public GlobalModel create(UUID ownerId, ModelUpload upload) {
        User owner = users.lockedForCreation(ownerId);
        requireRoomForAModel(owner);
        GlobalModel model = "SWAG".equals(upload.type())
                ? new SWAGModel(owner, upload.round(), upload.name(), upload.description())
                : new GlobalModel(owner, upload.round(), upload.name(), upload.description());
        model.setWeights(upload.weights());
        model.setInputShape(upload.inputShape());
        model.setPreprocessingSha256(upload.preprocessing() == null ? null : upload.preprocessing().sha256());
        em.persist(model);
        return model;
    }

    /**
     * Creates an ensemble of the caller's own global models (api.md §5.2, type MEAN). Malformed,
     * unknown, local and mean-model ids are "Invalid model UUIDs found." (an ensemble of ensembles
     * has no weights to run); models of other owners are "Insufficient model permissions".
     */
    public MeanModel createMean(UUID ownerId, String name, String description, int round, List<String> memberIds) {
        User owner = users.lockedForCreation(ownerId);
        requireRoomForAModel(owner);
        if (memberIds.isEmpty()) {
            throw ApiException.list(400, "Invalid model selection. A mean model needs at least one model.");
        }
        List<UUID> ids = new ArrayList<>();
        for (String text : memberIds) {
            UUID id = Uuids.parseOrNull(text);
            if (id == null) {
                throw ApiException.list(400, "Invalid model UUIDs found.");
            }
            ids.add(id);
        }
        Set<UUID> distinct = new LinkedHashSet<>(ids);
        Map<UUID, GlobalModel> found = new HashMap<>();
        em.createQuery("SELECT g FROM GlobalModel g WHERE g.id IN :ids", GlobalModel.class)
                .setParameter("ids", distinct).getResultList().stream()
                .filter(g -> !(g instanceof MeanModel))
                .forEach(g -> found.put(g.getId(), g));
        if (found.size() != distinct.size()) {
            throw ApiException.list(400, "Invalid model UUIDs found.");
        }
        if (found.values().stream().anyMatch(g -> !g.getOwner().getId().equals(ownerId))) {
            throw ApiException.list(400, "Invalid model selection. Insufficient model permissions.");
        }
        MeanModel mean = new MeanModel(owner, round, name, description, ids.stream().map(found::get).toList());
        em.persist(mean);
        return mean;
    }

    /** 403 when the user already owns {@code fl.quota.max-models-per-user} global, SWAG and mean models. */
    private void requireRoomForAModel(User owner) {
        if (maxModelsPerUser <= 0) {
            return;
        }
        long models = em.createQuery("SELECT COUNT(g) FROM GlobalModel g WHERE g.owner = :owner", Long.class)
                .setParameter("owner", owner).getSingleResult();
        if (models >= maxModelsPerUser) {
            throw ApiException.forbidden("You have " + models + " models, the most a user may have on this server"
                    + " (fl.quota.max-models-per-user). Delete one to upload another.");
        }
    }

    /** Any model by id; unknown → 400 {@code "Model <id> not found."} as the reference answers. */
    public Model model(UUID id) {
        Model model = em.find(Model.class, id);
        if (model == null) {
            throw ApiException.notFound("Model", id);
        }
        return model;
    }

    /** A global model (GLOBAL, SWAG or MEAN) by id; unknown or local → 400 {@code "Model <id> not found."}. */
    public GlobalModel globalModel(UUID id) {
        return globalModel(id, "Model");
    }

    /**
     * As {@link #globalModel(UUID)} with the entity name of the message chosen by the caller; the
     * reference says {@code "GlobalModel <id> not found."} on local-model and preprocessing uploads.
     */
    public GlobalModel globalModel(UUID id, String entityName) {
        Model model = em.find(Model.class, id);
        if (!(model instanceof GlobalModel global)) {
            throw ApiException.notFound(entityName, id);
        }
        return global;
    }

    /** The model if the caller may see it (docs/api.md §15.2): 400 when unknown, 403 when not visible. */
    public Model visibleModel(UUID id, UUID callerId) {
        Model model = model(id);
        if (!canSee(model, callerId)) {
            throw ApiException.forbidden("You are not allowed to access model " + id + ".");
        }
        return model;
    }

    /**
     * Visible to its owner, the actor and participants of its training (for a local model: of its
     * base model's training) and — so that an ensemble's members can be fetched — of a training on
     * a mean model it is a member of.
     */
    public boolean canSee(Model model, UUID callerId) {
        if (model.getOwner().getId().equals(callerId)) {
            return true;
        }
        GlobalModel global = trainedModel(model);
        if (global == null) {
            return false;
        }
        List<UUID> trainedIds = new ArrayList<>(em.createQuery(
                        "SELECT m.id FROM MeanModel m JOIN m.members g WHERE g.id = :id", UUID.class)
                .setParameter("id", global.getId()).getResultList());
        trainedIds.add(global.getId());
        return audience.takesPart(trainedIds, callerId);
    }

    /**
     * The global model whose preprocessing the caller may replace (api.md §5.5): a local id is
     * 400 {@code "GlobalModel <id> not found."}, anyone but the owner 403.
     */
    public GlobalModel ownGlobalModel(UUID id, UUID callerId) {
        GlobalModel model = globalModel(id, "GlobalModel");
        if (!model.getOwner().getId().equals(callerId)) {
            throw ApiException.forbidden("You are not the owner of model " + id + "!");
        }
        return model;
    }

    /** Replaces the preprocessing file of the caller's global model (the file is already stored). */
    public void setPreprocessing(UUID id, UUID callerId, StoredFile file) {
        ownGlobalModel(id, callerId).setPreprocessingSha256(file.sha256());
    }

    /**
     * The preprocessing file of a model the caller may see: a global model's own, a local model's
     * base model's; none → 404 as in the reference.
     */
    public String preprocessingOf(UUID id, UUID callerId) {
        GlobalModel global = trainedModel(visibleModel(id, callerId));
        String sha256 = global == null ? null : global.getPreprocessingSha256();
        if (sha256 == null) {
            throw ApiException.detail(404, "Model '" + id + "' has no preprocessing model defined.");
        }
        return sha256;
    }

    /**
     * {@code GET /api/models/}: the caller's own models (local ones included) and the models of
     * trainings the caller is actor or participant of, oldest first.
     */
    public List<Model> relatedModels(UUID callerId) {
        return audience.visibleModels(callerId); // the query names trainings, so the training package has it
    }

    /**
     * Deletes a model: allowed for its owner and the actor of its training (for a local model: of
     * its base model's training). The schema's ON DELETE CASCADE removes what hangs off the row in
     * the same statement — the training of a global model (and its participants), local models
     * based on it, metrics, and ensemble memberships — on H2 and PostgreSQL alike, so no ordering of
     * deletes is needed here. The weights file stays: files are shared by content (clones,
     * identical uploads); {@link UnreferencedFileCollection} deletes it once no row names it.
     *
     * <p>The training row (for a local model: its base model's training) is locked first, as every
     * change of a training does (design.md §5.1): the cascade then takes the model's row after it, in
     * the order uploads and metric reports take them. Under that lock, a local model of the round whose
     * aggregation job is pending cannot be deleted (409): the job reads the round's updates when it is
     * claimed, so a job run again after a crash would read other inputs than the first run.
     */
    public void delete(UUID id, UUID callerId) {
        Model model = model(id);
        GlobalModel global = trainedModel(model);
        boolean allowed = model.getOwner().getId().equals(callerId);
        if (!allowed) {
            allowed = global != null && audience.isActor(global, callerId);
        }
        if (!allowed) {
            throw ApiException.forbidden(
                    "You are neither the owner of the model nor the actor of the corresponding training.");
        }
        boolean aggregating = global != null && audience.lockTraining(global);
        try {
            em.refresh(model); // deleted meanwhile (by its base model's deletion, say)?
            if (global != null && global != model) {
                em.refresh(global); // its round as it is under the lock
            }
        } catch (EntityNotFoundException e) {
            throw ApiException.notFound("Model", id);
        }
        if (aggregating && model instanceof LocalModel local && local.getRound() == global.getRound()) {
            throw ApiException.detail(409, "Model " + id + " is an update of round " + local.getRound()
                    + ", which is being aggregated: it cannot be deleted now.");
        }
        em.remove(model);
        em.flush();
    }

    /** The global model whose training decides about this model: itself, or a local model's base. */
    private static GlobalModel trainedModel(Model model) {
        if (model instanceof LocalModel local) {
            return local.getBaseModel();
        }
        return model instanceof GlobalModel global ? global : null;
    }
}
