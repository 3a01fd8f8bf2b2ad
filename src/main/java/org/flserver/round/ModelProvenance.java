package org.flserver.round;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.util.UUID;

/**
 * One update that went into a {@link ModelVersion}: which local model (or SWAG statistics), whose,
 * of which round, with what sample size and relative weight, and the SHA-256 of its file. Local
 * models are deleted after aggregation (api.md §7.1); this record is what remains of them.
 */
@Entity
@Table(name = "model_provenance")
public class ModelProvenance {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "version_id", nullable = false)
    private Long versionId;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private JobKind kind;

    @Column(name = "local_model_id", nullable = false)
    private UUID localModelId;

    @Column(name = "owner_id")
    private UUID ownerId;

    @Column(name = "owner_username", nullable = false, length = 150)
    private String ownerUsername;

    @Column(name = "update_round", nullable = false)
    private int updateRound;

    @Column(name = "sample_size", nullable = false)
    private int sampleSize;

    @Column(nullable = false)
    private double weight;

    @Column(name = "weights_sha256", nullable = false, length = 64)
    private String weightsSha256;

    protected ModelProvenance() {
    }

    public ModelProvenance(Long versionId, JobKind kind, UUID localModelId, UUID ownerId, String ownerUsername,
                           int updateRound, int sampleSize, double weight, String weightsSha256) {
        this.versionId = versionId;
        this.kind = kind;
        this.localModelId = localModelId;
        this.ownerId = ownerId;
        this.ownerUsername = ownerUsername;
        this.updateRound = updateRound;
        this.sampleSize = sampleSize;
        this.weight = weight;
        this.weightsSha256 = weightsSha256;
    }

    public Long getId() {
        return id;
    }

    public Long getVersionId() {
        return versionId;
    }

    public JobKind getKind() {
        return kind;
    }

    public UUID getLocalModelId() {
        return localModelId;
    }

    public UUID getOwnerId() {
        return ownerId;
    }

    public String getOwnerUsername() {
        return ownerUsername;
    }

    public int getUpdateRound() {
        return updateRound;
    }

    public int getSampleSize() {
        return sampleSize;
    }

    public double getWeight() {
        return weight;
    }

    public String getWeightsSha256() {
        return weightsSha256;
    }
}
