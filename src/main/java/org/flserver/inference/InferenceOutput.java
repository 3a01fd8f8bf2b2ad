package org.flserver.inference;

import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.util.LinkedHashMap;
import java.util.Map;
import org.flserver.platform.Jsonp;
import org.flserver.tensor.DType;
import org.flserver.tensor.pytorch.TorchSaveWriter;

/**
 * The two answer formats of {@code POST /api/inference/} (api.md §10, §15.10): JSON
 * {@code {"inference": <nested list>, "uncertainty": {<name>: <nested list>}}}, and binary — a
 * {@code torch.save} archive of the same dictionary, written by our own writer (loadable with
 * {@code torch.load(..., weights_only=True)}), never a raw pickle.
 */
public final class InferenceOutput {

    private InferenceOutput() {
    }

    public static JsonObject json(Uncertainty.Result result) {
        JsonObjectBuilder uncertainty = Jsonp.createObjectBuilder();
        for (Map.Entry<String, Tensor> e : result.uncertainty().entrySet()) {
            uncertainty.add(e.getKey(), nested(e.getValue()));
        }
        return Jsonp.createObjectBuilder()
                .add("inference", nested(result.inference()))
                .add("uncertainty", uncertainty)
                .build();
    }

    /** A tensor as nested lists (a 0-dim tensor as its number); integers stay integers. */
    static JsonValue nested(Tensor t) {
        double[] v = t.toDoubles();
        long[] shape = t.shape();
        boolean integral = t.dtype() == DType.INT64 || t.dtype() == DType.INT32 || t.dtype() == DType.INT16
                || t.dtype() == DType.INT8 || t.dtype() == DType.UINT8 || t.dtype() == DType.BOOL;
        if (shape.length == 0) {
            return number(v[0], integral);
        }
        int[] next = {0};
        return build(shape, 0, v, next, integral);
    }

    private static JsonValue build(long[] shape, int depth, double[] v, int[] next, boolean integral) {
        JsonArrayBuilder a = Jsonp.createArrayBuilder();
        for (long i = 0; i < shape[depth]; i++) {
            if (depth == shape.length - 1) {
                a.add(number(v[next[0]++], integral));
            } else {
                a.add(build(shape, depth + 1, v, next, integral));
            }
        }
        return a.build();
    }

    private static JsonValue number(double x, boolean integral) {
        if (integral) {
            return Jsonp.createValue((long) x);
        }
        if (!Double.isFinite(x)) {
            // JSON has no NaN or infinity; say it in words as the metrics listing does
            return Jsonp.createValue(Double.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
        }
        return Jsonp.createValue(x);
    }

    /**
     * The binary answer: {@code {"inference": tensor, "uncertainty": {name: tensor}}} as a
     * {@code torch.save} archive; its exact size is known before a byte is written.
     */
    public static TorchSaveWriter.Archive binary(Uncertainty.Result result) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("inference", result.inference());
        root.put("uncertainty", new LinkedHashMap<>(result.uncertainty()));
        return TorchSaveWriter.prepare(TorchSaveWriter.DEFAULT_ARCHIVE_NAME, root);
    }
}
