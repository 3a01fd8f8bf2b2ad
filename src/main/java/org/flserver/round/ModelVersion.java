package org.flserver.round;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One weights file a training's global model has had, per round. The global model's id never
 * changes during a training (api.md §7.2): its row points at the newest file, and this table keeps
 * every earlier one with the job that wrote it. The unique key (model, round) is what "exactly one
 * global model per round" means, even if a job ran twice.
 */
@Entity
@Table(name = "model_version")
public class ModelVersion {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "model_id", nullable = false)
    private UUID modelId;

    @Column(nullable = false)
    private int round;

    @Column(name = "weights_sha256", nullable = false, length = 64)
    private String weightsSha256;

    @Column(name = "weights_size", nullable = false)
    private long weightsSize;

    @Column(name = "job_id")
    private Long jobId;

    @Column(name = "created_at", nullable = false)
    private OffsetDateTime createdAt;

    // What the aggregation decided, for trainings with options.aggregation / server_optimizer / dp
    // (design.md §4.2-4.4); null for every other version.

    @Column(name = "aggregation_report")
    private String aggregationReport;

    @Column(name = "optimizer_state_sha256", length = 64)
    private String optimizerStateSha256;

    @Column(name = "optimizer_state_size")
    private Long optimizerStateSize;

    @Column(name = "optimizer_steps")
    private Long optimizerSteps;

    @Column(name = "dp_noise_stddev")
    private Double dpNoiseStddev;

    @Column(name = "dp_rounds")
    private Integer dpRounds;

    @Column(name = "dp_epsilon")
    private Double dpEpsilon;

    protected ModelVersion() {
    }

    public ModelVersion(UUID modelId, int round, String weightsSha256, long weightsSize, Long jobId) {
        this.modelId = modelId;
        this.round = round;
        this.weightsSha256 = weightsSha256;
        this.weightsSize = weightsSize;
        this.jobId = jobId;
        this.createdAt = OffsetDateTime.now();
    }

    public Long getId() {
        return id;
    }

    public UUID getModelId() {
        return modelId;
    }

    public int getRound() {
        return round;
    }

    public String getWeightsSha256() {
        return weightsSha256;
    }

    public long getWeightsSize() {
        return weightsSize;
    }

    public Long getJobId() {
        return jobId;
    }

    public OffsetDateTime getCreatedAt() {
        return createdAt;
    }

    /**
     * Records what the job decided; called in the transaction that records this version, so the
     * optimizer state named here becomes current together with the weights (design.md §4.4).
     */
    public void recordOutcome(AggregationOutcome outcome) {
        this.aggregationReport = outcome.reportJson();
        this.optimizerStateSha256 = outcome.optimizerState() == null ? null : outcome.optimizerState().sha256();
        this.optimizerStateSize = outcome.optimizerState() == null ? null : outcome.optimizerState().size();
        this.optimizerSteps = outcome.optimizerSteps();
        this.dpNoiseStddev = outcome.dpNoiseStddev();
        this.dpRounds = outcome.dpRounds();
        this.dpEpsilon = outcome.dpEpsilon();
    }

    public String getAggregationReport() {
        return aggregationReport;
    }

    public String getOptimizerStateSha256() {
        return optimizerStateSha256;
    }

    public Long getOptimizerStateSize() {
        return optimizerStateSize;
    }

    public Long getOptimizerSteps() {
        return optimizerSteps;
    }

    public Double getDpNoiseStddev() {
        return dpNoiseStddev;
    }

    public Integer getDpRounds() {
        return dpRounds;
    }

    public Double getDpEpsilon() {
        return dpEpsilon;
    }
}
