package org.flserver.model;

import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.StringReader;
import java.util.List;
import org.flserver.platform.Jsonp;

/**
 * The JSON form of models (api.md §5.1), snake_case as the reference server writes it.
 *
 * <p><b>Deliberate deviation: files are never inlined.</b> The reference puts the whole
 * preprocessing file (and a SWAG model's moments) into the JSON as base64, so a listing can grow
 * to gigabytes. Here {@code preprocessing} is always {@code null} — {@code has_preprocessing} says
 * whether there is one, and it is downloaded from its own route — and {@code swag_first_moment} /
 * {@code swag_second_moment} are always {@code ""} (the reference's value for "absent"). The keys are
 * kept so clients that read them keep working. Weights are never part of the JSON, as in the reference.
 */
public final class ModelJson {

    private ModelJson() {
    }

    /** One model: GlobalModel, SWAGModel, MeanModel or LocalModel shape. */
    public static JsonObject model(Model model) {
        JsonObjectBuilder json = Jsonp.createObjectBuilder()
                .add("id", model.getId().toString())
                .add("round", model.getRound());
        if (model instanceof LocalModel local) {
            json.add("sample_size", local.getSampleSize())
                    .add("owner", model.getOwner().getId().toString())
                    .add("base_model", local.getBaseModel().getId().toString());
            return json.build();
        }
        GlobalModel global = (GlobalModel) model;
        json.add("name", nullable(global.getName()))
                .add("description", nullable(global.getDescription()))
                .add("input_shape", inputShape(global.getInputShape()))
                .add("preprocessing", JsonValue.NULL)
                .add("owner", model.getOwner().getId().toString())
                .add("has_preprocessing", global.getPreprocessingSha256() != null);
        if (global instanceof SWAGModel) {
            json.add("swag_first_moment", "").add("swag_second_moment", "");
        }
        if (global instanceof MeanModel mean) {
            JsonArrayBuilder members = Jsonp.createArrayBuilder();
            mean.getMembers().forEach(m -> members.add(m.getId().toString()));
            json.add("models", members);
        }
        return json.build();
    }

    /** {@code GET /models/<id>/metadata/}: the model plus {@code stats} ({@link ModelStats}, or null). */
    public static JsonObject metadata(Model model, JsonValue stats) {
        return Jsonp.createObjectBuilder(model(model)).add("stats", stats).build();
    }

    public static JsonArray models(List<? extends Model> models) {
        JsonArrayBuilder out = Jsonp.createArrayBuilder();
        models.forEach(m -> out.add(model(m)));
        return out.build();
    }

    /** The stored {@code input_shape} text as JSON: an array, or null when the model has none. */
    static JsonValue inputShape(String text) {
        if (text == null || text.isBlank()) {
            return JsonValue.NULL;
        }
        try (JsonReader reader = Jsonp.createReader(new StringReader(text))) {
            return reader.readArray();
        }
    }

    private static JsonValue nullable(String text) {
        return text == null ? JsonValue.NULL : Jsonp.createValue(text);
    }
}
