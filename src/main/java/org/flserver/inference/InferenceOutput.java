package org.flserver.inference;

import jakarta.json.JsonValue;
import jakarta.json.spi.JsonProvider;
import jakarta.json.stream.JsonGenerator;
import jakarta.json.stream.JsonGeneratorFactory;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
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

    /** The provider's generators, compact as its writer (no options). */
    private static final JsonGeneratorFactory GENERATORS = JsonProvider.provider().createGeneratorFactory(Map.of());

    private InferenceOutput() {
    }

    /**
     * Writes the JSON answer to {@code out} as it goes, never as a tree: a JSON-P tree of nested
     * lists holds about 29 bytes per output byte (a JsonNumber and its list slot per element; 15 MB
     * of outputs became 443 MB), so the default 256 MiB of outputs would have needed 7.5 GB. The
     * text is the one the tree would have written: each number is the same JsonValue, written by
     * the provider's generator as its writer writes it. {@code out} is left open.
     */
    public static void writeJson(Uncertainty.Result result, OutputStream out) {
        try (JsonGenerator g = GENERATORS.createGenerator(new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush(); // the container closes the response stream itself
            }
        })) {
            g.writeStartObject();
            g.writeKey("inference");
            nested(g, result.inference());
            g.writeStartObject("uncertainty");
            for (Map.Entry<String, Tensor> e : result.uncertainty().entrySet()) {
                g.writeKey(e.getKey());
                nested(g, e.getValue());
            }
            g.writeEnd();
            g.writeEnd();
        }
    }

    /** A tensor as nested lists (a 0-dim tensor as its number); integers stay integers. */
    private static void nested(JsonGenerator g, Tensor t) {
        double[] v = t.toDoubles();
        long[] shape = t.shape();
        boolean integral = t.dtype() == DType.INT64 || t.dtype() == DType.INT32 || t.dtype() == DType.INT16
                || t.dtype() == DType.INT8 || t.dtype() == DType.UINT8 || t.dtype() == DType.BOOL;
        if (shape.length == 0) {
            g.write(number(v[0], integral));
            return;
        }
        // row-major: an odometer over the shape opens and closes the lists (no recursion, up to 64 levels)
        long[] index = new long[shape.length];
        int next = 0;
        int open = 0;
        while (true) {
            while (open < shape.length) {
                g.writeStartArray();
                open++;
                if (shape[open - 1] == 0) {
                    break;
                }
            }
            if (open == shape.length && shape[open - 1] != 0) {
                for (long i = 0; i < shape[open - 1]; i++) {
                    g.write(number(v[next++], integral));
                }
            }
            // close the innermost list, then every list whose index has run out
            g.writeEnd();
            open--;
            while (open > 0 && ++index[open - 1] == shape[open - 1]) {
                index[open - 1] = 0;
                g.writeEnd();
                open--;
            }
            if (open == 0) {
                return;
            }
        }
    }

    static JsonValue number(double x, boolean integral) {
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
