package org.flserver.inference.djl;

import static org.flserver.inference.djl.BackendFixtures.assertClose;
import static org.flserver.inference.djl.BackendFixtures.assertPasses;
import static org.flserver.inference.djl.BackendFixtures.doubles;
import static org.flserver.inference.djl.BackendFixtures.floats;
import static org.flserver.inference.djl.BackendFixtures.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.inference.TorchBackend;
import org.flserver.inference.TorchBackends;
import org.flserver.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DJL backend in a plain JVM (DJL is on the test class path), against the outputs PyTorch 1.13
 * computed for the same TorchScript files (src/test/python/inference_backend). The in-container test
 * (InferenceRuntimeInContainerIT) checks the same backend where it runs in production: Payara Micro
 * with the runtime on its class path.
 */
class DjlBackendTest {

    static final double FORWARD_TOLERANCE = 1e-5;
    static final double SWAG_TOLERANCE = 1e-4;

    static TorchBackend backend;
    static BackendFixtures fixtures;
    static JsonObject expected;
    static JsonObject mlp;
    static float[] swagMean;
    static float[] swagSecond;

    @BeforeAll
    static void start() {
        StringBuilder whyNot = new StringBuilder();
        long t0 = System.nanoTime();
        Optional<TorchBackend> found = TorchBackends.find(whyNot);
        assertTrue(found.isPresent(), whyNot.toString());
        System.out.printf("DjlBackendTest: engine started in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        backend = found.get();
        fixtures = BackendFixtures.fromSources();
        expected = fixtures.expected();
        mlp = expected.getJsonObject("mlp");
        swagMean = floats(mlp.getJsonObject("swag").getJsonArray("mean"));
        swagSecond = floats(mlp.getJsonObject("swag").getJsonArray("second_moment"));
    }

    @AfterAll
    static void stop() {
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void forwardEqualsPyTorchForScriptedAndTracedModules() throws Exception {
        Tensor x = tensor(mlp.getJsonObject("input"));
        long t0 = System.nanoTime();
        Tensor out = backend.forward(fixtures.module("mc_mlp.pt"), x);
        System.out.printf("DjlBackendTest: first forward (load + run) %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        assertEquals(DType.FLOAT32, out.dtype());
        assertArrayEquals(new long[] {5, 4}, out.shape());
        assertClose(doubles(mlp.getJsonArray("forward")), out, FORWARD_TOLERANCE, "mc_mlp");
        assertClose(doubles(mlp.getJsonArray("forward_plain")), backend.forward(fixtures.module("plain_mlp.pt"), x),
                FORWARD_TOLERANCE, "plain_mlp");
        assertClose(doubles(mlp.getJsonArray("forward_traced")),
                backend.forward(fixtures.module("plain_mlp_traced.pt"), x), FORWARD_TOLERANCE, "traced");
        // BatchNorm in eval mode: a batch of one works and uses the running statistics
        assertClose(doubles(mlp.getJsonArray("forward_single")),
                backend.forward(fixtures.module("mc_mlp.pt"), tensor(mlp.getJsonObject("single_input"))),
                FORWARD_TOLERANCE, "batch of one");
        JsonObject cnn = expected.getJsonObject("cnn");
        assertClose(doubles(cnn.getJsonArray("forward")),
                backend.forward(fixtures.module("mc_cnn.pt"), tensor(cnn.getJsonObject("input"))), FORWARD_TOLERANCE,
                "mc_cnn");
    }

    @Test
    void seededMcDropoutEqualsPyTorchsSeededPassesAndLeavesTheModuleUnchanged() throws Exception {
        ModuleFile module = fixtures.module("mc_mlp.pt");
        Tensor x = tensor(mlp.getJsonObject("input"));
        JsonObject mc = mlp.getJsonObject("mc");
        List<Tensor> passes = backend.forwardMcDropout(module, x, 4, mc.getJsonNumber("seed").longValue());
        assertPasses(mc.getJsonArray("passes"), passes, FORWARD_TOLERANCE, "MC dropout seed 123");
        // the same seed, the same masks again
        assertPasses(mc.getJsonArray("passes"), backend.forwardMcDropout(module, x, 4, 123L), FORWARD_TOLERANCE,
                "MC dropout seed 123 again");
        JsonObject single = mlp.getJsonObject("mc_single");
        assertPasses(single.getJsonArray("passes"), backend.forwardMcDropout(module,
                        tensor(mlp.getJsonObject("single_input")), 3, single.getJsonNumber("seed").longValue()),
                FORWARD_TOLERANCE, "MC dropout on a batch of one");
        JsonObject cnn = expected.getJsonObject("cnn");
        assertPasses(cnn.getJsonObject("mc").getJsonArray("passes"), backend.forwardMcDropout(fixtures.module(
                "mc_cnn.pt"), tensor(cnn.getJsonObject("input")), 3, 99L), FORWARD_TOLERANCE, "CNN MC dropout");
        // dropout was only on for those calls: eval output unchanged (BatchNorm statistics untouched)
        assertClose(doubles(mlp.getJsonArray("forward")), backend.forward(module, x), FORWARD_TOLERANCE,
                "forward after MC dropout");
    }

    @Test
    void unseededMcDropoutPassesDifferAndAreNotTheSeededOnes() throws Exception {
        ModuleFile module = fixtures.module("mc_mlp.pt");
        Tensor x = tensor(mlp.getJsonObject("input"));
        List<Tensor> a = backend.forwardMcDropout(module, x, 3, null);
        assertEquals(3, a.size());
        assertFalse(Arrays.equals(a.get(0).toDoubles(), a.get(1).toDoubles()), "dropout masks differ per pass");
        backend.forwardMcDropout(module, x, 1, 123L);
        // the generator is re-seeded at random after a seeded call: an unseeded call after it is not the
        // continuation of seed 123
        List<Tensor> b = backend.forwardMcDropout(module, x, 1, null);
        List<Tensor> c = backend.forwardMcDropout(module, x, 2, 123L);
        assertFalse(Arrays.equals(b.get(0).toDoubles(), c.get(1).toDoubles()));
        assertThrows(InferenceException.class, () -> backend.forwardMcDropout(module, x, 0, null));
    }

    @Test
    void mcDropoutOnAModuleWithoutTheFlagIsA400SayingHowToExportOne() {
        Tensor x = tensor(mlp.getJsonObject("input"));
        for (String name : List.of("plain_mlp.pt", "plain_mlp_traced.pt")) {
            InferenceException e = assertThrows(InferenceException.class,
                    () -> backend.forwardMcDropout(fixtures.module(name), x, 3, 1L), name);
            assertEquals(400, e.status(), name);
            assertTrue(e.getMessage().startsWith(DjlBackend.NO_MC_FLAG), e.getMessage());
        }
        // a wrong input to a module with the flag is an input error, not a missing flag
        Tensor wrong = Tensor.ofFloats(new long[] {2, 7}, new float[14]);
        assert400(() -> backend.forwardMcDropout(fixtures.module("mc_mlp.pt"), wrong, 2, null),
                "mat1 and mat2 shapes cannot be multiplied");
    }

    @Test
    void seededSwagEqualsPyTorchsSamplesAndUsesAPrivateInstance() throws Exception {
        ModuleFile module = fixtures.module("mc_mlp.pt");
        Tensor x = tensor(mlp.getJsonObject("input"));
        JsonObject swag = mlp.getJsonObject("swag");
        long t0 = System.nanoTime();
        List<Tensor> samples = backend.forwardSwag(module, x, swagMean, swagSecond, 3, swag.getJsonNumber("seed").longValue());
        System.out.printf("DjlBackendTest: first SWAG call (3 samples) %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        assertPasses(swag.getJsonArray("samples"), samples, SWAG_TOLERANCE, "SWAG seed 7");
        assertPasses(swag.getJsonArray("samples"), backend.forwardSwag(module, x, swagMean, swagSecond, 3, 7L), SWAG_TOLERANCE,
                "SWAG seed 7 again (a reused private instance)");
        // the shared module never saw the sampled weights
        assertClose(doubles(mlp.getJsonArray("forward")), backend.forward(module, x), FORWARD_TOLERANCE,
                "forward after SWAG");
        List<Tensor> unseeded = backend.forwardSwag(module, x, swagMean, swagSecond, 2, null);
        assertNotEquals(Arrays.toString(unseeded.get(0).toDoubles()), Arrays.toString(unseeded.get(1).toDoubles()));
    }

    @Test
    void swagMomentsOfTheWrongLengthAreA400() {
        Tensor x = tensor(mlp.getJsonObject("input"));
        assert400(() -> backend.forwardSwag(fixtures.module("mc_mlp.pt"), x, new float[515], new float[515], 2, 1L),
                "but the module has 516 parameters");
    }

    @Test
    void parameterCountIsPythonsParametersToVectorLengthWithTiedWeightsOnce() throws Exception {
        assertEquals(mlp.getInt("parameter_count"), backend.parameterCount(fixtures.module("mc_mlp.pt")));
        assertEquals(expected.getJsonObject("cnn").getInt("parameter_count"),
                backend.parameterCount(fixtures.module("mc_cnn.pt")));
        // tied.torchscript.pt: decoder.weight is emb.weight; DJL lists it twice, Python once
        assertEquals(expected.getJsonObject("tied").getInt("parameter_count"),
                backend.parameterCount(fixtures.shared("models/tied.torchscript.pt")));
        assertEquals(0, backend.parameterCount(fixtures.module("double_it.pt")));
    }

    @Test
    void filesThatAreNoTorchScriptAreA400AndTheJvmCarriesOn(@TempDir Path tmp) throws Exception {
        List<ModuleFile> files = new ArrayList<>();
        for (String name : BackendFixtures.SHARED) {
            if (!name.endsWith(".torchscript.pt")) {
                files.add(fixtures.shared(name));
            }
        }
        files.add(BackendFixtures.file(Files.write(tmp.resolve("garbage.pt"), "not a model at all".getBytes())));
        files.add(BackendFixtures.file(Files.write(tmp.resolve("empty.pt"), new byte[0])));
        byte[] ts = Files.readAllBytes(fixtures.module("mc_mlp.pt").path());
        files.add(BackendFixtures.file(Files.write(tmp.resolve("cut.pt"), Arrays.copyOf(ts, ts.length / 2))));
        Tensor x = tensor(mlp.getJsonObject("input"));
        for (ModuleFile f : files) {
            InferenceException e = assertThrows(InferenceException.class, () -> backend.forward(f, x), f.toString());
            assertEquals(400, e.status(), f.toString());
            assertTrue(e.getMessage().startsWith(DjlBackend.NOT_TORCHSCRIPT), f + ": " + e.getMessage());
            // and again, from the cache of refusals
            assertEquals(400, assertThrows(InferenceException.class, () -> backend.parameterCount(f)).status());
        }
        // a valid archive whose code libtorch cannot compile: refused by libtorch, caught
        InferenceException e = assertThrows(InferenceException.class,
                () -> backend.forward(fixtures.module("broken_code.pt"), x));
        assertEquals(400, e.status());
        assertTrue(e.getMessage().startsWith("inference needs a TorchScript model"), e.getMessage());
        assertFalse(e.getMessage().contains("Exception raised from"), e.getMessage());
        assertClose(doubles(mlp.getJsonArray("forward")), backend.forward(fixtures.module("mc_mlp.pt"), x),
                FORWARD_TOLERANCE, "the JVM and the engine still work");
    }

    @Test
    void modulesLoadFromTheStoresFileNamesWhichHaveNoExtension(@TempDir Path tmp) throws Exception {
        ModuleFile pt = fixtures.module("mc_mlp.pt");
        Path stored = Files.createDirectories(tmp.resolve("files")).resolve(pt.sha256());
        Files.copy(pt.path(), stored);
        DjlBackend own = new DjlBackend(2);
        try {
            assertClose(doubles(mlp.getJsonArray("forward")), own.forward(new ModuleFile(pt.sha256(), stored),
                    tensor(mlp.getJsonObject("input"))), FORWARD_TOLERANCE, "files/<sha256>");
        } finally {
            own.close();
        }
    }

    @Test
    void torchScriptThatReadsOrWritesFilesIsRefusedBeforeItRuns() {
        Tensor x = Tensor.ofFloats(new long[] {2}, new float[] {1, 2});
        assert400(() -> backend.forward(fixtures.module("reads_file.pt"), x),
                "calls 'from_file', which reads or writes files on the server");
        assert400(() -> backend.forwardMcDropout(fixtures.module("writes_file.pt"), x, 1, null),
                "calls 'save', which reads or writes files on the server");
        assertFalse(Files.exists(Path.of("fl-inference-test-written.pt")));
    }

    @Test
    void inputsTheModuleCannotTakeAreA400WithTorchsReason() {
        InferenceException e = assertThrows(InferenceException.class, () -> backend.forward(
                fixtures.module("mc_mlp.pt"), Tensor.ofFloats(new long[] {2, 7}, new float[14])));
        assertEquals(400, e.status());
        assertEquals("the module cannot run on this input: RuntimeError: mat1 and mat2 shapes cannot be multiplied "
                + "(2x7 and 8x16)", e.getMessage());
        assertEquals(400, assertThrows(InferenceException.class, () -> backend.forward(fixtures.module("mc_mlp.pt"),
                Tensor.ofLongs(new long[] {1, 8}, new long[8]))).status());
    }

    @Test
    void dtypesRoundTripAndTheOnesLibtorchCannotTakeAreRefusedWithoutACrash() throws Exception {
        ModuleFile doubleIt = fixtures.module("double_it.pt");
        JsonObject cases = expected.getJsonObject("double_it");
        for (String dtype : List.of("float32", "float64", "int64", "int32", "int8", "uint8", "bool")) {
            JsonObject c = cases.getJsonObject(dtype);
            Tensor out = backend.forward(doubleIt, tensor(c.getJsonObject("input")));
            Tensor want = tensor(c.getJsonObject("output"));
            assertEquals(want.dtype(), out.dtype(), dtype);
            assertArrayEquals(want.shape(), out.shape(), dtype);
            assertEquals(want.data(), out.data(), dtype);
        }
        // float16 in, float16 out
        ByteBuffer half = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3800)
                .putShort((short) 0xBE00).putShort((short) 0x4000).flip();
        Tensor h = backend.forward(doubleIt, new Tensor(DType.FLOAT16, new long[] {3}, half));
        assertEquals(DType.FLOAT16, h.dtype());
        assertArrayEquals(new double[] {1.0, -3.0, 4.0}, h.toDoubles());
        // bfloat16 and int16 would abort the JVM inside DJL's JNI: refused before
        for (DType refused : List.of(DType.BFLOAT16, DType.INT16, DType.COMPLEX64)) {
            Tensor t = new Tensor(refused, new long[] {2}, ByteBuffer.allocate(2 * refused.size()));
            InferenceException e = assertThrows(InferenceException.class, () -> backend.forward(doubleIt, t));
            assertEquals(400, e.status());
            assertTrue(e.getMessage().contains(refused.torchName()), e.getMessage());
        }
        Tensor positive = backend.forward(fixtures.module("positive.pt"),
                tensor(expected.getJsonObject("positive").getJsonObject("input")));
        assertEquals(DType.BOOL, positive.dtype());
        assertArrayEquals(new double[] {0, 1, 0}, positive.toDoubles());
    }

    @Test
    void outputsAreOneTensorCopiedInRowMajorOrder() throws Exception {
        Tensor small = tensor(expected.getJsonObject("small_input"));
        for (String name : List.of("one_tuple", "transpose", "cast_int16", "cast_bfloat16")) {
            Tensor want = tensor(expected.getJsonObject(name));
            Tensor out = backend.forward(fixtures.module(name + ".pt"), small);
            assertArrayEquals(want.shape(), out.shape(), name);
            assertEquals(DType.FLOAT32, out.dtype(), name);
            assertArrayEquals(want.toDoubles(), out.toDoubles(), name);
        }
        assert400(() -> backend.forward(fixtures.module("two_outputs.pt"), small), "exactly one tensor");
    }

    @Test
    void concurrentCallsOnOneSharedModuleGiveTheSameResultsAsAlone() throws Exception {
        ModuleFile module = fixtures.module("mc_mlp.pt");
        Tensor x = tensor(mlp.getJsonObject("input"));
        JsonObject swag = mlp.getJsonObject("swag");
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                int kind = i % 4;
                Callable<Void> task = () -> {
                    switch (kind) {
                        case 0 -> assertClose(doubles(mlp.getJsonArray("forward")), backend.forward(module, x),
                                FORWARD_TOLERANCE, "concurrent forward");
                        case 1 -> assertPasses(mlp.getJsonObject("mc").getJsonArray("passes"),
                                backend.forwardMcDropout(module, x, 4, 123L), FORWARD_TOLERANCE, "concurrent seeded MC");
                        case 2 -> assertEquals(5, backend.forwardMcDropout(module, x, 5, null).size());
                        default -> assertPasses(swag.getJsonArray("samples"),
                                backend.forwardSwag(module, x, swagMean, swagSecond, 3, 7L), SWAG_TOLERANCE,
                                "concurrent seeded SWAG");
                    }
                    return null;
                };
                futures.add(pool.submit(task));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aSmallCacheEvictsAndReloadsModules() throws Exception {
        DjlBackend small = new DjlBackend(1);
        try {
            Tensor x = tensor(mlp.getJsonObject("input"));
            for (int round = 0; round < 3; round++) {
                assertClose(doubles(mlp.getJsonArray("forward")), small.forward(fixtures.module("mc_mlp.pt"), x),
                        FORWARD_TOLERANCE, "mc_mlp round " + round);
                assertClose(doubles(mlp.getJsonArray("forward_traced")),
                        small.forward(fixtures.module("plain_mlp_traced.pt"), x), FORWARD_TOLERANCE,
                        "traced round " + round);
            }
        } finally {
            small.close();
        }
        assertThrows(IllegalStateException.class, () -> small.forward(fixtures.module("mc_mlp.pt"),
                tensor(mlp.getJsonObject("input"))));
    }

    /** The call fails with a 400 whose message contains {@code part}. */
    static InferenceException assert400(Executable call, String part) {
        InferenceException e = assertThrows(InferenceException.class, call);
        assertEquals(400, e.status(), e.getMessage());
        assertTrue(e.getMessage().contains(part), e.getMessage());
        return e;
    }
}
