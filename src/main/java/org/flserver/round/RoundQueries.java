package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Read-only views of the round engine's records, for the API's provenance route, the training JSON
 * and the admin pages: where a training stands, its collection phases and deadlines, its aggregation
 * jobs, and the history of its global model.
 */
@Stateless
public class RoundQueries {

    /** One weights file of a global model with the updates it was built from (empty for the initial one). */
    public record VersionHistory(ModelVersion version, List<ModelProvenance> updates) {
    }

    @PersistenceContext
    EntityManager em;

    public Optional<TrainingRound> roundOf(UUID trainingId) {
        return Optional.ofNullable(em.find(TrainingRound.class, trainingId));
    }

    /** The stored phase of a training, round and kind (trainings with round options only, design.md §5.4). */
    public Optional<CollectionPhase> phase(UUID trainingId, int round, RoundPhase kind) {
        return em.createQuery("SELECT p FROM CollectionPhase p WHERE p.trainingId = :training AND p.round = :round"
                        + " AND p.phase = :phase", CollectionPhase.class)
                .setParameter("training", trainingId).setParameter("round", round).setParameter("phase", kind)
                .getResultList().stream().findFirst();
    }

    /** The training's phases, oldest first (empty for a training without round options). */
    public List<CollectionPhase> phases(UUID trainingId) {
        return em.createQuery("SELECT p FROM CollectionPhase p WHERE p.trainingId = :training ORDER BY p.id",
                CollectionPhase.class).setParameter("training", trainingId).getResultList();
    }

    /** The phase opened last, which is the current one while the training collects. */
    public Optional<CollectionPhase> latestPhase(UUID trainingId) {
        return em.createQuery("SELECT p FROM CollectionPhase p WHERE p.trainingId = :training ORDER BY p.id DESC",
                CollectionPhase.class).setParameter("training", trainingId).setMaxResults(1)
                .getResultList().stream().findFirst();
    }

    /**
     * Whether {@code userId} is refused as late for the test round {@code step} (api.md §6.6): the
     * phase is stored, closed, and expected this user, who did not report in time.
     */
    public boolean missedTestRound(UUID trainingId, int step, UUID userId) {
        return phase(trainingId, step, RoundPhase.TESTING)
                .filter(p -> p.getStatus() != CollectionPhase.Status.OPEN)
                .filter(p -> p.getExpected().contains(userId) && !p.getDelivered().contains(userId))
                .isPresent();
    }

    public List<AggregationJob> jobs(UUID trainingId) {
        return em.createQuery("SELECT j FROM AggregationJob j WHERE j.trainingId = :training ORDER BY j.id",
                AggregationJob.class).setParameter("training", trainingId).getResultList();
    }

    /** Every version of the model, oldest first, each with its provenance in aggregation order. */
    public List<VersionHistory> history(UUID modelId) {
        List<ModelVersion> versions = em.createQuery("SELECT v FROM ModelVersion v WHERE v.modelId = :model"
                + " ORDER BY v.round", ModelVersion.class).setParameter("model", modelId).getResultList();
        List<ModelProvenance> all = versions.isEmpty() ? List.of() : em.createQuery(
                        "SELECT p FROM ModelProvenance p WHERE p.versionId IN :versions ORDER BY p.id",
                        ModelProvenance.class)
                .setParameter("versions", versions.stream().map(ModelVersion::getId).toList()).getResultList();
        List<VersionHistory> history = new ArrayList<>();
        for (ModelVersion v : versions) {
            history.add(new VersionHistory(v, all.stream().filter(p -> p.getVersionId().equals(v.getId())).toList()));
        }
        return history;
    }
}
