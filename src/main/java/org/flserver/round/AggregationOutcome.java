package org.flserver.round;

import org.flserver.model.StoredFile;

/**
 * What a MODEL job decided besides the new weights, for trainings with {@code options.aggregation},
 * {@code server_optimizer} or {@code dp} (design.md §4.2-4.4): recorded on the new
 * {@link ModelVersion} in the transaction that makes it current, and shown in provenance. Every
 * field is null for a training without those options, whose versions stay as before.
 *
 * @param reportJson     {@code AggregationReport.toJson()} of the rule (or of DP-FedAvg), with the
 *                       client files named by their SHA-256
 * @param optimizerState the server optimizer's state after this round's step (null: no optimizer, or sgd)
 * @param optimizerSteps the optimizer's step count after this round
 * @param dpNoiseStddev  σ = zC/N of this round's noise
 * @param dpRounds       DP-FedAvg rounds of the training so far, this one included
 * @param dpEpsilon      ε spent so far for the configured δ (RDP accountant)
 */
public record AggregationOutcome(String reportJson, StoredFile optimizerState, Long optimizerSteps,
                                 Double dpNoiseStddev, Integer dpRounds, Double dpEpsilon) {

    public static final AggregationOutcome NONE = new AggregationOutcome(null, null, null, null, null, null);
}
