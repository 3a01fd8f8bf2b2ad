package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.flserver.tensor.WeightFiles;
import org.junit.jupiter.api.Test;

/**
 * {@link ModelStats} on files PyTorch wrote ({@code src/test/resources/model-stats}, made by
 * {@code src/test/python/model_stats/make_stats_fixtures.py}): for every model and every way of
 * saving it, the whole {@code stats} object equals the one the generator computed from the eager
 * model with torchinfo's counting rules (the documented inference for state_dict and safetensors).
 */
class ModelStatsTest {

    private static final List<String> VARIANTS = List.of("torchscript.pt", "module.pt", "state_dict.pt",
            "state_dict_vars.pt", "safetensors");

    @Test
    void everyKeyMatchesWhatPyTorchComputedForEveryModelAndFormat() throws Exception {
        Map<String, JsonValue> shapes = json("models.json").getJsonObject("input_shape");
        assertEquals(4, shapes.size());
        for (Map.Entry<String, JsonValue> model : shapes.entrySet()) {
            for (String variant : VARIANTS) {
                String file = model.getKey() + "." + variant;
                JsonObject stats = ModelStats.of(WeightFiles.open(fixture(file)), model.getValue());
                assertEquals(json(file + ".stats.json"), stats, file);
            }
        }
    }

    /** The numbers that make the fixtures worth having, spelled out so a regenerated set cannot drift. */
    @Test
    void buffersFrozenAndTiedParametersCountAsTorchinfoCountsThem() throws Exception {
        // cnn_bn: conv 1·4·3·3+4, bn 4+4 (running_mean/var and num_batches_tracked are buffers), fc 36·3+3
        JsonObject cnn = stats("cnn_bn.module.pt", "[null, 1, 8, 8]");
        assertEquals(40 + 8 + 111, cnn.getInt("total_params"));
        assertEquals(List.of(1, 1, 8, 8), cnn.getJsonArray("input_size").getJsonArray(0).getValuesAs(
                (JsonValue v) -> Integer.parseInt(v.toString())));
        JsonObject conv = cnn.getJsonArray("summary_list").getJsonObject(1);
        assertEquals("Conv2d", conv.getString("class_name"));
        assertEquals(Json.createArrayBuilder().add(3).add(3).build(), conv.get("kernel_size"));
        // frozen: features (6·8+8) and classifier.bias (2) have requires_grad=False
        JsonObject frozen = stats("frozen.torchscript.pt", "[null, 6]");
        assertEquals(74, frozen.getInt("total_params"));
        assertEquals(16, frozen.getInt("trainable_params"));
        assertEquals(58, frozen.getInt("non_trainable_params"));
        assertFalse(frozen.getBoolean("params_inferred"));
        // a state_dict does not record requires_grad: every floating tensor is taken as trainable
        JsonObject frozenDict = stats("frozen.state_dict.pt", "[null, 6]");
        assertEquals(74, frozenDict.getInt("trainable_params"));
        assertTrue(frozenDict.getBoolean("params_inferred"));
        assertEquals(JsonValue.NULL, frozenDict.get("summary_list"));
        // tied: embed.weight is decoder.weight, counted once: 10·6 + 6·6+6
        for (String variant : VARIANTS) {
            assertEquals(102, stats("tied." + variant, "[null, 5]").getInt("total_params"), variant);
        }
    }

    @Test
    void withoutAnInputShapeTheInputSizeIsNull() throws Exception {
        JsonObject stats = ModelStats.of(WeightFiles.open(fixture("mlp.module.pt")));
        assertEquals(JsonValue.NULL, stats.get("input_size"));
        assertEquals(8 * 16 + 16 + 16 * 4 + 4, stats.getInt("total_params"));
    }

    private static JsonObject stats(String file, String inputShape) throws Exception {
        try (JsonReader r = Json.createReader(new java.io.StringReader(inputShape))) {
            return ModelStats.of(WeightFiles.open(fixture(file)), r.readArray());
        }
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(Objects.requireNonNull(ModelStatsTest.class.getResource("/model-stats/" + name),
                "missing fixture " + name).toURI());
    }

    private static JsonObject json(String name) throws IOException, URISyntaxException {
        try (Reader r = Files.newBufferedReader(fixture(name)); JsonReader j = Json.createReader(r)) {
            return j.readObject();
        }
    }
}
