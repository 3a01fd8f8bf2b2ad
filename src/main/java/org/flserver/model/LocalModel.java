package org.flserver.model;

import jakarta.persistence.Column;
import jakarta.persistence.DiscriminatorValue;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import org.flserver.user.User;

/**
 * A participant's update of a global model for one round, weighted by its {@code sampleSize}.
 * The schema makes (base model, round, owner) unique: an update never counts twice.
 */
@Entity
@DiscriminatorValue("LOCAL")
public class LocalModel extends Model {

    @ManyToOne(fetch = FetchType.LAZY)
    @JoinColumn(name = "base_model_id")
    private GlobalModel baseModel;

    @Column(name = "sample_size")
    private Integer sampleSize;

    protected LocalModel() {
    }

    public LocalModel(User owner, int round, GlobalModel baseModel, int sampleSize) {
        super(owner, round);
        this.baseModel = baseModel;
        this.sampleSize = sampleSize;
    }

    public GlobalModel getBaseModel() {
        return baseModel;
    }

    public int getSampleSize() {
        return sampleSize == null ? 0 : sampleSize;
    }
}
