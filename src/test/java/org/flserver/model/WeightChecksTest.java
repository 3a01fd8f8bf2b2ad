package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.flserver.platform.ApiException;
import org.flserver.tensor.Fixtures;
import org.flserver.tensor.FormatKind;
import org.flserver.tensor.TorchTestFiles;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WeightChecks} and {@link ModelStats} on the shared fixtures, without a server: which files
 * are models, preprocessing modules, compatible updates and SWAG moment vectors, and the exact
 * list-shaped 400 each refusal answers.
 */
class WeightChecksTest {

    @TempDir
    Path dir;

    private static Path fixture(String relative) {
        return Fixtures.root().resolve(relative);
    }

    private Path write(byte[] content) throws Exception {
        return Files.write(Files.createTempFile(dir, "upload", ".part"), content);
    }

    private static String refusal(Runnable check) {
        ApiException e = assertThrows(ApiException.class, check::run);
        assertEquals(400, e.status());
        JsonArray body = (JsonArray) e.body();
        assertEquals(1, body.size());
        return body.getString(0);
    }

    @Test
    void theFourModelKindsAreModels() {
        assertEquals(FormatKind.TORCHSCRIPT, WeightChecks.model(fixture("models/mlp.torchscript.pt")).kind());
        assertEquals(FormatKind.MODULE, WeightChecks.model(fixture("models/mlp.module.pt")).kind());
        assertEquals(FormatKind.STATE_DICT, WeightChecks.model(fixture("models/mlp.state_dict.pt")).kind());
        assertEquals(FormatKind.SAFETENSORS, WeightChecks.model(fixture("models/mlp.safetensors")).kind());
    }

    @Test
    void readableFilesThatAreNoModelAreNotOfExpectedType() throws Exception {
        Path tensor = write(TorchTestFiles.bareFloatTensor(new float[]{1f}));
        assertEquals("Invalid model file: Loaded torch object is not of expected type.",
                refusal(() -> WeightChecks.model(tensor)));
        byte[] header = "{\"__metadata__\":{\"format\":\"pt\"}}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path noTensors = write(java.nio.ByteBuffer.allocate(8 + header.length).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length).put(header).array());
        assertEquals("Invalid model file: Loaded torch object is not of expected type.",
                refusal(() -> WeightChecks.model(noTensors)));
        assertEquals("Invalid model file: legacy (non-zip) torch.save format is not supported: re-save with torch"
                        + " >= 1.6 defaults (without _use_new_zipfile_serialization=False)",
                refusal(() -> WeightChecks.model(fixture("legacy/mlp.legacy.pt"))));
        assertTrue(refusal(() -> WeightChecks.model(fixture("hostile/os_system.pt")))
                .startsWith("Invalid model file: GLOBAL 'os system' not allowed"));
    }

    /** Files that broke the reader with an unchecked exception or exhausted it are 400s like any refusal. */
    @Test
    void filesBreakingAReaderBoundAreRefusedWith400() {
        Path bombs = Fixtures.root().getParent().resolve("pickle-bombs"); // make_pickle_bombs.py
        assertTrue(refusal(() -> WeightChecks.model(bombs.resolve("non_ascii_digit_fraction.safetensors")))
                .startsWith("Invalid model file: malformed JSON header"));
        assertTrue(refusal(() -> WeightChecks.model(bombs.resolve("long_key.pt")))
                .startsWith("Invalid model file: pickle dict key of 5000 characters"));
    }

    @Test
    void preprocessingMustBeARunnableModule() {
        WeightChecks.preprocessing(fixture("models/gelu_mlp.torchscript.pt"));
        WeightChecks.preprocessing(fixture("models/gelu_mlp.module.pt"));
        for (String file : List.of("models/gelu_mlp.state_dict.pt", "models/gelu_mlp.safetensors")) {
            assertEquals("Invalid preprocessing file: Loaded torch object is not of expected type.",
                    refusal(() -> WeightChecks.preprocessing(fixture(file))), file);
        }
    }

    @Test
    void updatesMustMatchTheGlobalModelsKindAndTensors() {
        for (String kind : List.of("torchscript.pt", "module.pt", "state_dict.pt", "safetensors")) {
            WeightFile global = WeightChecks.model(fixture("fedavg/cnn_bn/client0." + kind));
            WeightChecks.update(fixture("fedavg/cnn_bn/client1." + kind), global);
            WeightChecks.update(fixture("fedavg/cnn_bn/expected." + kind), global);
        }
        WeightFile global = WeightChecks.model(fixture("fedavg/cnn_bn/client0.module.pt"));
        assertEquals("Invalid model file: the global model is a module file, this update is a safetensors file;"
                        + " upload the update in the global model's format.",
                refusal(() -> WeightChecks.update(fixture("fedavg/cnn_bn/client1.safetensors"), global)));
        assertTrue(refusal(() -> WeightChecks.update(fixture("fedavg/mlp/client1.module.pt"), global))
                .startsWith("Invalid model file: the update does not match the global model: tensor 'conv1.weight'"));
    }

    @Test
    void momentsAreOneFloatVectorOfTheModelsLength() throws Exception {
        WeightFile model = WeightChecks.model(fixture("models/cnn_bn.state_dict.pt"));
        long n = WeightChecks.floatingElements(model);
        long manifest = 0;
        for (JsonObject t : Fixtures.json(fixture("models/cnn_bn.state_dict.pt.json")).getJsonObject("data_pkl")
                .getJsonArray("tensors").getValuesAs(JsonObject.class)) {
            manifest += t.getString("dtype").startsWith("float") ? t.getInt("numel") : 0;
        }
        assertEquals(manifest, n);
        // parameters_to_vector leaves BatchNorm's running statistics out; a whole-state vector has them
        long runningStats = 0;
        for (TensorInfo t : model.tensors()) {
            runningStats += t.name().endsWith("running_mean") || t.name().endsWith("running_var") ? t.numel() : 0;
        }
        assertTrue(runningStats > 0, "cnn_bn has BatchNorm buffers");
        long p = n - runningStats;
        Set<Long> lengths = WeightChecks.momentLengths(model);
        assertEquals(Set.of(n, p), lengths);
        WeightFile noBatchNorm = WeightChecks.model(fixture("models/mlp.state_dict.pt"));
        assertEquals(Set.of(WeightChecks.floatingElements(noBatchNorm)), WeightChecks.momentLengths(noBatchNorm),
                "without running statistics both counts agree");
        assertEquals(p, WeightChecks.moment(write(TorchTestFiles.bareFloatTensor(new float[(int) p])), "first moment",
                lengths));
        assertEquals(n, WeightChecks.moment(write(TorchTestFiles.safetensorsVector(new float[(int) n])),
                "second moment", lengths));
        Path tooLong = write(TorchTestFiles.bareFloatTensor(new float[(int) n + 1]));
        assertEquals("Invalid first moment file: the vector has " + (n + 1) + " elements; the model's flattened"
                        + " parameters have " + Math.min(n, p) + " or " + Math.max(n, p) + ".",
                refusal(() -> WeightChecks.moment(tooLong, "first moment", lengths)));
        Path ints = write(TorchTestFiles.bareTensor("LongStorage", n, new long[]{n}, new byte[8 * (int) n]));
        assertEquals("Invalid first moment file: expected a 1-D floating-point tensor, got shape [" + n + "] of int64.",
                refusal(() -> WeightChecks.moment(ints, "first moment", lengths)));
        assertTrue(refusal(() -> WeightChecks.moment(fixture("models/cnn_bn.state_dict.pt"), "first moment", lengths))
                .startsWith("Invalid first moment file: expected exactly one tensor"));
    }

    @Test
    void statsCountEveryTensorObjectOnce() {
        JsonObject stats = ModelStats.of(WeightChecks.model(fixture("models/tied.module.pt")));
        long expected = 0;
        List<JsonObject> tensors = Fixtures.json(fixture("models/tied.module.pt.json")).getJsonObject("data_pkl")
                .getJsonArray("tensors").getValuesAs(JsonObject.class);
        for (JsonObject t : tensors) {
            expected += t.getInt("numel");
        }
        List<JsonObject> table = stats.getJsonArray("tensors").getValuesAs(JsonObject.class);
        assertEquals(tensors.size(), table.size());
        assertEquals(expected, table.stream().mapToLong(t -> t.getJsonNumber("num_params").longValue()).sum());
        // buffers are listed in the table but are no parameters
        assertEquals(table.stream().filter(t -> t.getBoolean("parameter"))
                .mapToLong(t -> t.getJsonNumber("num_params").longValue()).sum(),
                stats.getJsonNumber("total_params").longValue());
        assertEquals("module", stats.getString("kind"));
        assertEquals("torch.save", stats.getString("format"));
    }
}
