package org.flserver.round;

import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.util.List;
import org.flserver.platform.Jsonp;

/**
 * JSON of a global model's history ({@code GET /api/trainings/<id>/provenance/}, an fl-server
 * addition): per round the weights file's SHA-256 and size, and the updates that built it with
 * their owners, rounds, sample sizes, relative weights and file hashes.
 */
public final class ProvenanceJson {

    private ProvenanceJson() {
    }

    public static JsonArray history(List<RoundQueries.VersionHistory> history) {
        JsonArrayBuilder versions = Jsonp.createArrayBuilder();
        for (RoundQueries.VersionHistory h : history) {
            JsonArrayBuilder updates = Jsonp.createArrayBuilder();
            JsonArrayBuilder swag = Jsonp.createArrayBuilder();
            for (ModelProvenance p : h.updates()) {
                JsonObjectBuilder u = Jsonp.createObjectBuilder()
                        .add("update_id", p.getLocalModelId().toString())
                        .add("owner_username", p.getOwnerUsername())
                        .add("round", p.getUpdateRound())
                        .add("sample_size", p.getSampleSize())
                        .add("weight", p.getWeight())
                        .add("weights_sha256", p.getWeightsSha256());
                if (p.getOwnerId() != null) {
                    u.add("owner", p.getOwnerId().toString());
                } else {
                    u.addNull("owner");
                }
                (p.getKind() == JobKind.MODEL ? updates : swag).add(u);
            }
            ModelVersion v = h.version();
            JsonObjectBuilder version = Jsonp.createObjectBuilder()
                    .add("round", v.getRound())
                    .add("weights_sha256", v.getWeightsSha256())
                    .add("weights_size", v.getWeightsSize())
                    .add("created_at", v.getCreatedAt().toString())
                    .add("updates", updates)
                    .add("swag_updates", swag);
            if (v.getJobId() != null) {
                version.add("job_id", v.getJobId());
            } else {
                version.addNull("job_id");
            }
            addOutcome(version, v);
            versions.add(version);
        }
        return versions.build();
    }

    /**
     * What the aggregation decided (api.md §6.7), only on versions of trainings with
     * {@code options.aggregation}, {@code server_optimizer} or {@code dp}: {@code aggregation} (the
     * rule's report, files named by SHA-256), {@code server_optimizer} (steps and the state file's
     * SHA-256 and size), {@code dp} (σ, rounds so far, ε so far; null ε when it is unbounded).
     */
    private static void addOutcome(JsonObjectBuilder version, ModelVersion v) {
        if (v.getAggregationReport() != null) {
            try (JsonReader reader = Jsonp.createReader(new StringReader(v.getAggregationReport()))) {
                version.add("aggregation", reader.readObject());
            }
        }
        if (v.getOptimizerSteps() != null) {
            JsonObjectBuilder o = Jsonp.createObjectBuilder().add("steps", v.getOptimizerSteps());
            if (v.getOptimizerStateSha256() != null) {
                o.add("state_sha256", v.getOptimizerStateSha256()).add("state_size", v.getOptimizerStateSize());
            } else {
                o.addNull("state_sha256");
            }
            version.add("server_optimizer", o);
        }
        if (v.getDpRounds() != null) {
            JsonObjectBuilder d = Jsonp.createObjectBuilder().add("noise_stddev", v.getDpNoiseStddev())
                    .add("rounds", v.getDpRounds());
            if (v.getDpEpsilon() != null && Double.isFinite(v.getDpEpsilon())) {
                d.add("epsilon", v.getDpEpsilon());
            } else {
                d.addNull("epsilon");
            }
            version.add("dp", d);
        }
    }
}
