package org.flserver.model;

import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import org.flserver.platform.Jsonp;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;

/**
 * The {@code stats} block of {@code GET /models/<id>/metadata/}, computed from the weights file's
 * tensor table. The reference runs {@code torchinfo.summary}, which executes the model on a dummy
 * input; fl-server never executes a model file (§15.5), so it reports what the file itself says:
 * the container format and kind, every tensor with its shape, dtype and element count, and the
 * totals. Element counts are logical ({@code numel}; a tensor object reached under several names
 * counts once, as in {@code parameters()}), bytes are {@code numel × element size}.
 */
public final class ModelStats {

    private ModelStats() {
    }

    public static JsonObject of(WeightFile file) {
        long totalParams = 0;
        long totalBytes = 0;
        JsonArrayBuilder tensors = Jsonp.createArrayBuilder();
        for (TensorInfo t : file.tensors()) {
            long numel = t.numel();
            totalParams = Math.addExact(totalParams, numel);
            totalBytes = Math.addExact(totalBytes, Math.multiplyExact(numel, (long) t.dtype().size()));
            JsonArrayBuilder shape = Jsonp.createArrayBuilder();
            t.shape().forEach(shape::add);
            tensors.add(Jsonp.createObjectBuilder()
                    .add("name", t.name())
                    .add("shape", shape)
                    .add("dtype", t.dtype().torchName())
                    .add("num_params", numel));
        }
        return Jsonp.createObjectBuilder()
                .add("format", file.kind().format())
                .add("kind", file.kind().label())
                .add("total_params", totalParams)
                .add("total_param_bytes", totalBytes)
                .add("tensors", tensors)
                .build();
    }
}
