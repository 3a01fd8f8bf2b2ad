package org.flserver.model;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.flserver.user.User;

/**
 * One participant's SWAG statistics for one round (api.md §5.8): the first and second moment
 * vectors (files in {@link ModelFiles}, each a {@code torch.save}d 1-D tensor) and the sample size
 * that weights them. The reference keeps them as binary metrics; as files they never pass through
 * the heap or the database. (model, round, owner) is unique: statistics never count twice (docs/api.md §15.3).
 */
@Entity
@Table(name = "swag_statistics")
public class SwagStatistics {

    @Id
    private UUID id;

    @ManyToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "model_id")
    private GlobalModel model;

    @Column(nullable = false)
    private int round;

    @ManyToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "owner_id")
    private User owner;

    @Column(name = "sample_size", nullable = false)
    private int sampleSize;

    @Column(name = "first_moment_sha256", nullable = false, length = 64)
    private String firstMomentSha256;

    @Column(name = "second_moment_sha256", nullable = false, length = 64)
    private String secondMomentSha256;

    @Column(name = "created_at", nullable = false)
    private OffsetDateTime createdAt;

    protected SwagStatistics() {
    }

    public SwagStatistics(GlobalModel model, int round, User owner, int sampleSize, String firstMomentSha256,
                          String secondMomentSha256) {
        this.id = UUID.randomUUID();
        this.model = model;
        this.round = round;
        this.owner = owner;
        this.sampleSize = sampleSize;
        this.firstMomentSha256 = firstMomentSha256;
        this.secondMomentSha256 = secondMomentSha256;
        this.createdAt = OffsetDateTime.now();
    }

    public UUID getId() {
        return id;
    }

    public GlobalModel getModel() {
        return model;
    }

    public int getRound() {
        return round;
    }

    public User getOwner() {
        return owner;
    }

    public int getSampleSize() {
        return sampleSize;
    }

    public String getFirstMomentSha256() {
        return firstMomentSha256;
    }

    public String getSecondMomentSha256() {
        return secondMomentSha256;
    }

    public OffsetDateTime getCreatedAt() {
        return createdAt;
    }
}
