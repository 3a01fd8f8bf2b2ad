package org.flserver.inference;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.flserver.inference.sandbox.InferenceSandbox;
import org.flserver.inference.sandbox.WorkerPool;
import org.flserver.inference.worker.InferenceWorker;
import org.flserver.inference.worker.WorkerProtocol.Reply;
import org.flserver.inference.worker.WorkerProtocol.Request;
import org.flserver.model.ModelFiles;
import org.flserver.platform.Jsonp;
import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;

/**
 * Runs an {@link InferencePlan} on an input, outside any transaction: the plan goes to a sandboxed
 * worker of the caller ({@link WorkerPool}), which runs the preprocessing module, checks the input
 * shape and makes the method's forward passes; the statistics of {@link Uncertainty} are computed
 * here, from the raw outputs, after checking that the worker returned what the plan asked for.
 */
@ApplicationScoped
public class InferenceRunner {

    /** The reference's answer when the (preprocessed) input does not fit {@code input_shape}. */
    public static final String SHAPE_MISMATCH = InferenceWorker.SHAPE_MISMATCH;

    @Inject
    InferenceSandbox sandbox;

    @Inject
    ModelFiles files;

    /** Verdicts of the archive check per file hash: a stored file never changes, so one check is enough. */
    private final CheckedModules checked = new CheckedModules(4096);

    /**
     * Runs the plan for {@code caller} within the configured deadline; {@code cancelled} turns true
     * when the caller has gone away, which ends the run early.
     */
    public Uncertainty.Result run(InferencePlan plan, Tensor input, UUID caller, BooleanSupplier cancelled)
            throws InferenceException {
        WorkerPool pool = sandbox.pool().orElseThrow(() -> new InferenceException(503,
                "Inference is not enabled on this server: " + sandbox.unavailableReason() + "."));
        long deadline = System.nanoTime() + sandbox.timeout().toNanos();
        SortedMap<String, Path> modules = new TreeMap<>();
        plan.modules().forEach(m -> modules.put(m.sha256(), m.path()));
        if (plan.preprocessing() != null) {
            modules.put(plan.preprocessing().sha256(), plan.preprocessing().path());
        }
        // the sandbox is the second line of defence: what the server's checks refuse never starts a worker
        for (Map.Entry<String, Path> module : modules.entrySet()) {
            checked.require(module.getKey(), module.getValue());
        }
        boolean swag = plan.method().equals("SWAG");
        Request request = new Request(plan.method(), plan.modules().stream().map(ModuleFile::sha256).toList(),
                plan.preprocessing() == null ? null : plan.preprocessing().sha256(), shape(plan.inputShape()),
                plan.samples(), plan.seed(), swag ? vector(plan.swagFirst()) : null,
                swag ? vector(plan.swagSecond()) : null, input);
        Reply reply = pool.run(new WorkerPool.Key(caller.toString(), Collections.unmodifiableSortedMap(modules)),
                request, deadline, cancelled);
        if (reply.status() != 200) {
            throw new InferenceException(reply.status(), reply.message());
        }
        List<Tensor> outputs = reply.outputs();
        int expected = switch (plan.method()) {
            case "NONE" -> 1;
            case "ENSEMBLE" -> plan.modules().size();
            default -> plan.samples();
        };
        if (outputs.size() != expected) {
            throw new InferenceException(400, "The model's run returned " + outputs.size() + " outputs where "
                    + expected + " were expected.");
        }
        try {
            if (plan.method().equals("NONE")) {
                return Uncertainty.argmax(outputs.get(0));
            }
            if (plan.softmax()) {
                outputs = outputs.stream().map(Uncertainty::softmax).toList();
            }
            return Uncertainty.of(outputs);
        } catch (IllegalArgumentException | ArithmeticException e) {
            // ArithmeticException: a size beyond an int (the reply's bounds should have stopped it first)
            throw new InferenceException(400, "The model's outputs cannot be summarised: " + e.getMessage());
        }
    }

    /** The declared input shape as dimensions, -1 for {@code null} (any size); null when not declared. */
    static long[] shape(String inputShape) {
        if (inputShape == null) {
            return null;
        }
        JsonArray declared;
        try (JsonReader reader = Jsonp.createReader(new StringReader(inputShape))) {
            declared = reader.readArray();
        }
        long[] dims = new long[declared.size()];
        for (int d = 0; d < dims.length; d++) {
            dims[d] = declared.get(d) instanceof JsonNumber n ? n.longValue() : -1;
        }
        return dims;
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
