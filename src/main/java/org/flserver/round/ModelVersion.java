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
}
