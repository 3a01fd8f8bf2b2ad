package org.flserver.model;

import jakarta.persistence.Column;
import jakarta.persistence.DiscriminatorColumn;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.Inheritance;
import jakarta.persistence.InheritanceType;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.flserver.user.User;

/**
 * Any model the server keeps: an owner, a round and a weights file. The weights never live in the
 * database: {@code weightsSha256} names a content-addressed file kept by {@link ModelFiles}, so a
 * row stays small and a download streams from disk. One table holds the whole hierarchy
 * ({@code model_type}: GLOBAL, SWAG, MEAN, LOCAL), which keeps polymorphic look-ups by id to one query.
 */
@Entity
@Table(name = "model")
@Inheritance(strategy = InheritanceType.SINGLE_TABLE)
@DiscriminatorColumn(name = "model_type", length = 8)
public abstract class Model {

    @Id
    private UUID id;

    @ManyToOne(optional = false, fetch = FetchType.LAZY)
    @JoinColumn(name = "owner_id")
    private User owner;

    @Column(nullable = false)
    private int round;

    @Column(name = "weights_sha256", length = 64)
    private String weightsSha256;

    @Column(name = "weights_size", nullable = false)
    private long weightsSize;

    @Column(name = "created_at", nullable = false)
    private OffsetDateTime createdAt;

    protected Model() {
    }

    protected Model(User owner, int round) {
        this.id = UUID.randomUUID();
        this.owner = owner;
        this.round = round;
        this.createdAt = OffsetDateTime.now();
    }

    public UUID getId() {
        return id;
    }

    public User getOwner() {
        return owner;
    }

    public int getRound() {
        return round;
    }

    public void setRound(int round) {
        this.round = round;
    }

    public String getWeightsSha256() {
        return weightsSha256;
    }

    public long getWeightsSize() {
        return weightsSize;
    }

    public void setWeights(StoredFile file) {
        this.weightsSha256 = file == null ? null : file.sha256();
        this.weightsSize = file == null ? 0 : file.size();
    }

    public OffsetDateTime getCreatedAt() {
        return createdAt;
    }
}
