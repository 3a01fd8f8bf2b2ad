package org.flserver.training;

import jakarta.json.JsonObject;
import java.util.List;
import java.util.UUID;

/**
 * A validated request to create a training (api.md §6.2), as the resource parsed it from JSON.
 * {@code metricNames} is required by the API but stored nowhere (as in the reference server);
 * {@code options} is kept as given and checked by {@link TrainingService} (daisy-chain period).
 */
public record NewTraining(UUID modelId, int targetNumUpdates, List<String> metricNames,
        AggregationMethod aggregationMethod, UncertaintyMethod uncertaintyMethod, JsonObject options,
        List<UUID> clients) {

    public NewTraining {
        metricNames = metricNames == null ? List.of() : List.copyOf(metricNames);
        uncertaintyMethod = uncertaintyMethod == null ? UncertaintyMethod.NONE : uncertaintyMethod;
        options = options == null ? JsonObject.EMPTY_JSON_OBJECT : options;
        clients = clients == null ? List.of() : List.copyOf(clients);
    }
}
