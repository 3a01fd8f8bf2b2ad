package org.flserver.round;

import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Read-only views of the round engine's records, for the API's provenance route and the admin
 * pages: where a training stands, its aggregation jobs, and the history of its global model.
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
