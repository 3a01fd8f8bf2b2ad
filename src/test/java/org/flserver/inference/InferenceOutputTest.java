package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.flserver.platform.Jsonp;
import org.flserver.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * {@link InferenceOutput#writeJson} writes, element by element, exactly the text that the JSON-P
 * tree it replaces wrote (the tree is built here as the answer used to be: nested array builders,
 * the same number values), for every shape and kind of number.
 */
class InferenceOutputTest {

    @Test
    void theStreamedAnswerIsTheTreesText() {
        Map<String, Tensor> uncertainty = new LinkedHashMap<>();
        uncertainty.put("variance", Tensor.ofFloats(new long[]{2, 3}, new float[]{0.1f, 1e-7f, 3e10f, -0f,
                Float.NaN, Float.POSITIVE_INFINITY}));
        uncertainty.put("std", Tensor.ofFloats(new long[]{2, 0, 3}, new float[0]));
        uncertainty.put("empty", Tensor.ofFloats(new long[]{0, 4}, new float[0]));
        uncertainty.put("scalar", Tensor.ofFloats(new long[0], new float[]{Float.NEGATIVE_INFINITY}));
        uncertainty.put("deep", Tensor.ofFloats(new long[]{2, 1, 2, 2}, new float[]{1, 2, 3, 4, 5, 6, 7, 8}));
        uncertainty.put("bytes", new Tensor(DType.UINT8, new long[]{3}, ByteBuffer.wrap(new byte[]{0, 1, (byte) 255})));
        uncertainty.put("double", new Tensor(DType.FLOAT64, new long[]{2},
                ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.0 / 3).putDouble(1e300).flip()));
        Uncertainty.Result result = new Uncertainty.Result(Tensor.ofLongs(new long[]{2, 2},
                new long[]{3, 0, Long.MAX_VALUE >> 20, -1}), uncertainty);
        assertEquals(tree(result).toString(), streamed(result));
    }

    @Test
    void anAnswerWithoutUncertaintyIsTheTreesTextToo() {
        Uncertainty.Result result = Uncertainty.argmax(Tensor.ofFloats(new long[]{1, 3}, new float[]{0, 2, 1}));
        assertEquals("{\"inference\":[1],\"uncertainty\":{}}", streamed(result));
        assertEquals(tree(result).toString(), streamed(result));
    }

    private static String streamed(Uncertainty.Result result) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        InferenceOutput.writeJson(result, out);
        return out.toString(StandardCharsets.UTF_8);
    }

    // the answer as a tree, as InferenceOutput built it before it streamed

    private static JsonValue tree(Uncertainty.Result result) {
        JsonObjectBuilder u = Jsonp.createObjectBuilder();
        result.uncertainty().forEach((name, t) -> u.add(name, nested(t)));
        return Jsonp.createObjectBuilder().add("inference", nested(result.inference())).add("uncertainty", u).build();
    }

    private static JsonValue nested(Tensor t) {
        double[] v = t.toDoubles();
        boolean integral = t.dtype() == DType.INT64 || t.dtype() == DType.UINT8;
        return t.shape().length == 0 ? InferenceOutput.number(v[0], integral) : build(t.shape(), 0, v, new int[1], integral);
    }

    private static JsonValue build(long[] shape, int depth, double[] v, int[] next, boolean integral) {
        JsonArrayBuilder a = Jsonp.createArrayBuilder();
        for (long i = 0; i < shape[depth]; i++) {
            a.add(depth == shape.length - 1 ? InferenceOutput.number(v[next[0]++], integral) : build(shape, depth + 1, v, next, integral));
        }
        return a.build();
    }
}
