package org.flserver.inference;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.flserver.model.ModelFiles;
import org.flserver.platform.Jsonp;
import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;

/**
 * Runs an {@link InferencePlan} on an input, outside any transaction: the preprocessing module,
 * the input-shape check, then the uncertainty method's forward passes through the
 * {@link TorchBackend}, and the statistics of {@link Uncertainty}.
 */
@ApplicationScoped
public class InferenceRunner {

    /** The reference's answer when the (preprocessed) input does not fit {@code input_shape}. */
    public static final String SHAPE_MISMATCH = "Input shape does not match model input shape.";

    @Inject
    TorchRuntime runtime;

    @Inject
    ModelFiles files;

    public Uncertainty.Result run(InferencePlan plan, Tensor input) throws InferenceException {
        TorchBackend backend = runtime.backend().orElseThrow(() -> new InferenceException(503,
                "Inference is not enabled on this server: " + runtime.unavailableReason()
                        + ". Start Payara Micro with the TorchScript runtime on its class path (see the README,"
                        + " \"Inference runtime\")."));
        Tensor x = plan.preprocessing() == null ? input : backend.forward(plan.preprocessing(), input);
        checkShape(plan.inputShape(), x);
        ModuleFile module = plan.modules().get(0);
        List<Tensor> outputs;
        switch (plan.method()) {
            case "NONE" -> {
                return Uncertainty.argmax(backend.forward(module, x));
            }
            case "MC_DROPOUT" -> outputs = backend.forwardMcDropout(module, x, plan.samples(), plan.seed());
            case "ENSEMBLE" -> {
                outputs = new ArrayList<>();
                for (ModuleFile member : plan.modules()) {
                    outputs.add(backend.forward(member, x));
                }
            }
            case "SWAG" -> outputs = backend.forwardSwag(module, x, vector(plan.swagFirst()),
                    vector(plan.swagSecond()), plan.samples(), plan.seed());
            default -> throw new InferenceException(400, "Unknown uncertainty method " + plan.method() + ".");
        }
        try {
            if (plan.softmax()) {
                outputs = outputs.stream().map(Uncertainty::softmax).toList();
            }
            return Uncertainty.of(outputs);
        } catch (IllegalArgumentException e) {
            throw new InferenceException(400, "The model's outputs cannot be summarised: " + e.getMessage());
        }
    }

    /** 400 unless the tensor has the declared rank and every declared (non-null) dimension. */
    static void checkShape(String inputShape, Tensor x) throws InferenceException {
        if (inputShape == null) {
            return;
        }
        JsonArray declared;
        try (JsonReader reader = Jsonp.createReader(new StringReader(inputShape))) {
            declared = reader.readArray();
        }
        long[] shape = x.shape();
        boolean fits = declared.size() == shape.length;
        for (int d = 0; fits && d < shape.length; d++) {
            JsonValue dim = declared.get(d);
            fits = dim == JsonValue.NULL || dim instanceof JsonNumber n && n.longValue() == shape[d];
        }
        if (!fits) {
            throw new InferenceException(400, SHAPE_MISMATCH);
        }
    }

    /** A stored SWAG moment: one 1-D float tensor (safetensors written by the round engine). */
    private float[] vector(String sha256) throws InferenceException {
        try {
            WeightFile file = WeightFiles.open(files.path(sha256));
            TensorInfo t = file.tensors().get(0);
            StorageInfo s = file.storage(t.storageKey()).orElseThrow();
            if (t.dtype() != DType.FLOAT32 || t.shape().size() != 1 || s.byteOrder() != ByteOrder.LITTLE_ENDIAN) {
                throw new InferenceException(500, "A stored SWAG moment is not a float32 vector.");
            }
            int n = Math.toIntExact(t.numel());
            ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
            try (FileChannel ch = FileChannel.open(files.path(sha256), StandardOpenOption.READ)) {
                long from = s.offset() + t.storageOffset() * 4;
                while (b.hasRemaining()) {
                    if (ch.read(b, from + b.position()) < 0) {
                        throw new IOException("short file");
                    }
                }
            }
            b.flip();
            float[] v = new float[n];
            b.asFloatBuffer().get(v);
            return v;
        } catch (IOException e) {
            throw new InferenceException(500, "A stored SWAG moment cannot be read.", e);
        }
    }
}
