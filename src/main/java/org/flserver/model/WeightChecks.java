package org.flserver.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.flserver.platform.ApiException;
import org.flserver.tensor.DType;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.WeightFiles;

/**
 * What an uploaded file must be before it is kept (api.md §5.2, §5.5, §5.7, §5.8 with §15.4–15.5),
 * decided by the non-executing reader on the received temp file, before {@link ModelFiles#commit}.
 * A refusal is the reference's list-shaped 400 ({@code ["Invalid model file: <reason>"]}), the
 * reason being the reader's one-line, client-safe message.
 *
 * <p>Why each rule:
 * <ul>
 * <li>Models: TorchScript and {@code torch.save} of a module are what the reference accepts;
 *     state_dicts and safetensors are accepted too (docs/api.md §15.5). A valid {@code torch.save} of
 *     something else — a bare tensor, a dict without tensors — is "not of expected type", as in
 *     the reference, so the client learns the file was readable but is no model.</li>
 * <li>Preprocessing: only runnable modules (TorchScript or a pickled module); a state_dict has no
 *     code to run.</li>
 * <li>Local updates: the same kind as the global model and the same tensor table (names, shapes,
 *     dtypes, strides, storages), so the round's aggregation cannot fail on them later (docs/api.md §15.4); the
 *     message names the first difference.</li>
 * <li>SWAG moments: exactly one 1-D real floating-point tensor whose length is the global model's
 *     number of floating-point elements (see {@link #floatingElements}).</li>
 * </ul>
 */
public final class WeightChecks {

    /** What the reference answers for a readable file that holds no model. */
    static final String NOT_EXPECTED_TYPE = "Loaded torch object is not of expected type.";

    private static final Set<FormatKind> MODEL_KINDS = EnumSet.of(FormatKind.TORCHSCRIPT, FormatKind.MODULE,
            FormatKind.STATE_DICT, FormatKind.SAFETENSORS);
    private static final Set<FormatKind> RUNNABLE_KINDS = EnumSet.of(FormatKind.TORCHSCRIPT, FormatKind.MODULE);
    private static final Set<DType> REAL_FLOATS = EnumSet.of(DType.FLOAT64, DType.FLOAT32, DType.FLOAT16,
            DType.BFLOAT16);

    private WeightChecks() {
    }

    /** A global model's weights file (api.md §5.2): any of the four model kinds. */
    public static WeightFile model(Path file) {
        WeightFile weights = open(file, "model");
        boolean tensorTable = weights.kind() == FormatKind.STATE_DICT || weights.kind() == FormatKind.SAFETENSORS;
        if (!MODEL_KINDS.contains(weights.kind()) || tensorTable && weights.tensors().isEmpty()) {
            throw invalid("model", NOT_EXPECTED_TYPE);
        }
        return weights;
    }

    /** A preprocessing file (api.md §5.5): a module that can run, TorchScript or pickled. */
    public static void preprocessing(Path file) {
        WeightFile module = open(file, "preprocessing");
        if (!RUNNABLE_KINDS.contains(module.kind())) {
            throw invalid("preprocessing", NOT_EXPECTED_TYPE);
        }
    }

    /**
     * A participant's update (api.md §5.7 step 8 with §15.4): readable, of the global model's kind
     * and with its tensor table.
     */
    public static WeightFile update(Path file, WeightFile global) {
        WeightFile update = model(file);
        if (update.kind() != global.kind()) {
            throw invalid("model", "the global model is a " + global.kind().label() + " file, this update is a "
                    + update.kind().label() + " file; upload the update in the global model's format.");
        }
        Optional<String> difference = global.fingerprint().differenceFrom(update.fingerprint());
        if (difference.isPresent()) {
            throw invalid("model", "the update does not match the global model: " + difference.get()
                    + " (global vs update).");
        }
        return update;
    }

    /**
     * One SWAG moment vector (api.md §5.8): a {@code torch.save}d tensor or a safetensors file with
     * exactly one 1-D real floating-point tensor whose length is one of {@code allowedLengths}.
     * Returns that length.
     */
    public static long moment(Path file, String what, Set<Long> allowedLengths) {
        WeightFile moment = open(file, what);
        if (moment.kind() != FormatKind.TENSOR && moment.kind() != FormatKind.SAFETENSORS
                || moment.tensors().size() != 1) {
            throw invalid(what, "expected exactly one tensor (torch.save(tensor) or a safetensors file with one"
                    + " tensor), got a " + moment.kind().label() + " file with " + moment.tensors().size()
                    + " tensors.");
        }
        TensorInfo vector = moment.tensors().get(0);
        if (vector.shape().size() != 1 || !REAL_FLOATS.contains(vector.dtype())) {
            throw invalid(what, "expected a 1-D floating-point tensor, got shape " + vector.shape() + " of "
                    + vector.dtype().torchName() + ".");
        }
        if (!allowedLengths.contains(vector.numel())) {
            throw invalid(what, "the vector has " + vector.numel() + " elements; the model's flattened parameters"
                    + " have " + allowedLengths.stream().sorted().map(String::valueOf)
                    .collect(Collectors.joining(" or ")) + ".");
        }
        return vector.numel();
    }

    /**
     * The lengths a SWAG moment vector may have: {@code parameters_to_vector(model.parameters())},
     * i.e. the elements of every real floating-point tensor, each tensor object once (tied weights
     * count once), without BatchNorm's running statistics (buffers, not parameters: the tensors
     * named {@code *running_mean}, {@code *running_var}); or, for clients that flatten the whole
     * state, with them. A weights file alone cannot tell other buffers from parameters.
     */
    public static Set<Long> momentLengths(WeightFile model) {
        long all = floatingElements(model);
        long parameters = 0;
        for (TensorInfo t : model.tensors()) {
            if (REAL_FLOATS.contains(t.dtype()) && !t.name().endsWith("running_mean")
                    && !t.name().endsWith("running_var")) {
                parameters = Math.addExact(parameters, t.numel());
            }
        }
        return new TreeSet<>(List.of(all, parameters)); // one element when the model has no running statistics
    }

    /**
     * All floating elements of the model, buffers included (see {@link #momentLengths}).
     */
    public static long floatingElements(WeightFile model) {
        long n = 0;
        for (TensorInfo t : model.tensors()) {
            if (REAL_FLOATS.contains(t.dtype())) {
                n = Math.addExact(n, t.numel());
            }
        }
        return n;
    }

    /**
     * A file the server already keeps (a global model's current weights). These passed
     * {@link #model} when they arrived; if one cannot be read now, that is the server's problem,
     * not the client's: an {@link UncheckedIOException}.
     */
    public static WeightFile stored(Path file) {
        try {
            return WeightFiles.open(file);
        } catch (IOException e) {
            throw new UncheckedIOException("stored weights " + file.getFileName() + " cannot be read: "
                    + e.getMessage(), e);
        }
    }

    private static WeightFile open(Path file, String what) {
        try {
            return WeightFiles.open(file);
        } catch (WeightFileException e) {
            throw invalid(what, e.getMessage());
        } catch (IOException e) {
            // the temp file of this request could not be read back: a disk problem of the server
            throw new UncheckedIOException(e);
        }
    }

    private static ApiException invalid(String what, String reason) {
        return ApiException.list(400, "Invalid " + what + " file: " + reason);
    }
}
