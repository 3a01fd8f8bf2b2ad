package org.flserver.model;

import jakarta.persistence.Column;
import jakarta.persistence.DiscriminatorValue;
import jakarta.persistence.Entity;
import org.flserver.user.User;

/**
 * A model a training is run on: the shared starting point and, round after round, the aggregate.
 * {@code inputShape} is kept as its JSON text (an int array in which {@code null} marks a free
 * dimension, e.g. {@code [null, 3]}).
 */
@Entity
@DiscriminatorValue("GLOBAL")
public class GlobalModel extends Model {

    @Column(length = 256)
    private String name;

    @Column
    private String description;

    @Column(name = "input_shape", length = 1024)
    private String inputShape;

    @Column(name = "preprocessing_sha256", length = 64)
    private String preprocessingSha256;

    protected GlobalModel() {
    }

    public GlobalModel(User owner, int round, String name, String description) {
        super(owner, round);
        this.name = name;
        this.description = description;
    }

    /** The same model under a new id, for a second training on it (the reference's clone_model). */
    public GlobalModel copyFor(User owner) {
        GlobalModel copy = newInstanceForCopy(owner);
        copy.copyFrom(this);
        return copy;
    }

    protected GlobalModel newInstanceForCopy(User owner) {
        return new GlobalModel(owner, getRound(), name, description);
    }

    protected void copyFrom(GlobalModel source) {
        this.name = source.name;
        this.description = source.description;
        this.inputShape = source.inputShape;
        this.preprocessingSha256 = source.preprocessingSha256;
        setRound(source.getRound());
        if (source.getWeightsSha256() != null) {
            setWeights(new StoredFile(source.getWeightsSha256(), source.getWeightsSize()));
        }
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public String getDescription() {
        return description;
    }

    public void setDescription(String description) {
        this.description = description;
    }

    public String getInputShape() {
        return inputShape;
    }

    public void setInputShape(String inputShape) {
        this.inputShape = inputShape;
    }

    public String getPreprocessingSha256() {
        return preprocessingSha256;
    }

    public void setPreprocessingSha256(String preprocessingSha256) {
        this.preprocessingSha256 = preprocessingSha256;
    }

    /** The API's {@code type} of this model. */
    public String typeName() {
        return "GLOBAL";
    }
}
