package org.flserver.model;

import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flserver.platform.Jsonp;
import org.flserver.tensor.ModuleSummary;
import org.flserver.tensor.ModuleSummary.Counts;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;

/**
 * The {@code stats} block of {@code GET /models/<id>/metadata/}. The reference puts
 * {@code torchinfo.summary(model)} there, which runs the model on a dummy input; fl-server never
 * executes a model file, so it reports torchinfo's keys as far as the file itself tells
 * them ({@link ModuleSummary}) and {@code null} for what only a forward pass knows (mult-adds,
 * input and output sizes and bytes). It keeps fl-server's own keys beside them: the container
 * format and kind, and every tensor with its shape, dtype, element count and role.
 *
 * <p>Counting is torchinfo's: buffers are no parameters, a parameter with {@code requires_grad=False}
 * is non-trainable, a parameter reached under several names counts once; bytes are
 * {@code numel × element size}. Where the file does not say which tensors are parameters
 * (state_dict, safetensors), {@code params_inferred} is true and the roles are guessed as
 * {@link ModuleSummary#inferred} describes.
 */
public final class ModelStats {

    private ModelStats() {
    }

    /** The stats of a file whose model has no input shape ({@code input_size} null). */
    public static JsonObject of(WeightFile file) {
        return of(file, JsonValue.NULL);
    }

    /**
     * @param inputShape the model's {@code input_shape} (a JSON array in which null marks a free
     *                   dimension), or {@link JsonValue#NULL}
     */
    public static JsonObject of(WeightFile file, JsonValue inputShape) {
        List<TensorInfo> tensors = file.tensors();
        ModuleSummary summary = file.modules();
        JsonArrayBuilder table = Jsonp.createArrayBuilder();
        for (TensorInfo t : tensors) {
            ModuleSummary.Role role = summary.role(t.name());
            table.add(Jsonp.createObjectBuilder()
                    .add("name", t.name())
                    .add("shape", longs(t.shape()))
                    .add("dtype", t.dtype().torchName())
                    .add("num_params", t.numel())
                    .add("parameter", role.isParameter())
                    .add("trainable", role == ModuleSummary.Role.TRAINABLE_PARAMETER));
        }
        Counts totals = summary.totals(tensors);
        return Jsonp.createObjectBuilder()
                .add("format", file.kind().format())
                .add("kind", file.kind().label())
                .add("input_size", inputSize(inputShape))
                .add("total_input", JsonValue.NULL)
                .add("total_mult_adds", JsonValue.NULL)
                .add("total_output_bytes", JsonValue.NULL)
                .add("total_params", totals.params())
                .add("trainable_params", totals.trainable())
                .add("non_trainable_params", totals.nonTrainable())
                .add("total_param_bytes", totals.bytes())
                .add("params_inferred", summary.inferred())
                .add("summary_list", summaryList(summary, tensors))
                .add("tensors", table)
                .build();
    }

    /**
     * torchinfo's {@code input_size} for {@code summary(model, input_size=shape)} as the reference
     * calls it: the shape with 1 for every free dimension, as the one entry of a list.
     */
    private static JsonValue inputSize(JsonValue inputShape) {
        if (!(inputShape instanceof JsonArray shape)) {
            return JsonValue.NULL;
        }
        JsonArrayBuilder size = Jsonp.createArrayBuilder();
        for (JsonValue d : shape) {
            if (d instanceof JsonNumber n) {
                size.add(n);
            } else {
                size.add(1);
            }
        }
        return Jsonp.createArrayBuilder().add(size).build();
    }

    /**
     * One entry per submodule with the keys of torchinfo's {@code summary_list} entries as the
     * reference serialises them, plus {@code path} (the dotted name in {@code named_modules()}).
     * {@code layer_id} is the position in the list (torchinfo's is a Python object id, meaningless
     * outside the process); {@code depth_index} counts the entries of one depth, 1 first, across the
     * whole list, as torchinfo numbers them. Null: what a forward pass would tell.
     */
    private static JsonValue summaryList(ModuleSummary summary, List<TensorInfo> tensors) {
        if (summary.modules().isEmpty()) {
            return JsonValue.NULL;
        }
        List<ModuleSummary.Module> modules = summary.modules().get();
        List<Counts> counts = summary.moduleCounts(tensors);
        Map<Integer, Integer> perDepth = new HashMap<>();
        JsonArrayBuilder list = Jsonp.createArrayBuilder();
        for (int i = 0; i < modules.size(); i++) {
            ModuleSummary.Module m = modules.get(i);
            Counts c = counts.get(i);
            int depthIndex = perDepth.merge(m.depth(), 1, Integer::sum);
            String varName = m.path().isEmpty() ? m.className() : m.path().substring(m.path().lastIndexOf('.') + 1);
            JsonObjectBuilder entry = Jsonp.createObjectBuilder()
                    .add("layer_id", i)
                    .add("path", m.path())
                    .add("var_name", varName)
                    .add("class_name", m.className())
                    .add("depth", m.depth())
                    .add("depth_index", depthIndex)
                    .add("is_leaf_layer", m.leaf())
                    .add("contains_lazy_param", false)
                    .add("kernel_size", kernelSize(m.kernelSize()))
                    .add("num_params", c.params())
                    .add("trainable_params", c.trainable())
                    .add("param_bytes", c.bytes());
            for (String forwardOnly : List.of("executed", "is_recursive", "input_size", "output_size", "output_bytes",
                    "macs")) {
                entry.addNull(forwardOnly);
            }
            list.add(entry);
        }
        return list.build();
    }

    private static JsonValue kernelSize(ModuleSummary.KernelSize k) {
        if (k == null) {
            return JsonValue.NULL;
        }
        return k.scalar() ? Jsonp.createValue(k.sizes().get(0)) : longs(k.sizes());
    }

    private static JsonArray longs(List<Long> values) {
        JsonArrayBuilder b = Jsonp.createArrayBuilder();
        values.forEach(b::add);
        return b.build();
    }
}
