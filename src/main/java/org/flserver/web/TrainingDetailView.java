package org.flserver.web;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonWriter;
import jakarta.json.JsonWriterFactory;
import jakarta.json.stream.JsonGenerator;
import java.io.StringWriter;
import java.util.Map;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.training.Training;

/**
 * Everything the training detail page shows: the list row plus the options as indented JSON and
 * the training's model. Copied out inside the query's transaction, like {@link TrainingRow}.
 */
public class TrainingDetailView extends TrainingRow {

    private static final JsonWriterFactory PRETTY =
            Json.createWriterFactory(Map.of(JsonGenerator.PRETTY_PRINTING, true));

    private final boolean locked;
    private final String optionsJson;
    private final UUID modelId;
    private final String modelType;
    private final String modelDescription;
    private final String modelOwner;
    private final String inputShape;
    private final String weightsSha256;
    private final long weightsSize;

    TrainingDetailView(Training t) {
        super(t);
        GlobalModel model = t.getModel();
        this.locked = t.isLocked();
        this.optionsJson = pretty(t.optionsJson());
        this.modelId = model.getId();
        this.modelType = model.typeName();
        this.modelDescription = model.getDescription() == null ? "" : model.getDescription();
        this.modelOwner = model.getOwner().getUsername();
        this.inputShape = model.getInputShape() == null ? "" : model.getInputShape();
        this.weightsSha256 = model.getWeightsSha256() == null ? "" : model.getWeightsSha256();
        this.weightsSize = model.getWeightsSize();
    }

    private static String pretty(JsonObject json) {
        StringWriter out = new StringWriter();
        try (JsonWriter writer = PRETTY.createWriter(out)) {
            writer.writeObject(json);
        }
        return out.toString().strip();
    }

    public boolean isLocked() {
        return locked;
    }

    public String getOptionsJson() {
        return optionsJson;
    }

    public UUID getModelId() {
        return modelId;
    }

    public String getModelType() {
        return modelType;
    }

    public String getModelDescription() {
        return modelDescription;
    }

    public String getModelOwner() {
        return modelOwner;
    }

    public String getInputShape() {
        return inputShape;
    }

    public String getWeightsSha256() {
        return weightsSha256;
    }

    public long getWeightsSize() {
        return weightsSize;
    }
}
