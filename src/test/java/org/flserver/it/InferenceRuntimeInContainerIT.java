package org.flserver.it;

import static org.flserver.inference.djl.BackendFixtures.assertClose;
import static org.flserver.inference.djl.BackendFixtures.assertPasses;
import static org.flserver.inference.djl.BackendFixtures.doubles;
import static org.flserver.inference.djl.BackendFixtures.floats;
import static org.flserver.inference.djl.BackendFixtures.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.inject.Inject;
import jakarta.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.flserver.inference.InferenceException;
import org.flserver.inference.ModuleFile;
import org.flserver.inference.Tensor;
import org.flserver.inference.sandbox.InferenceSandbox;
import org.flserver.inference.sandbox.WorkerPool;
import org.flserver.aggregation.StreamingFedAvg;
import org.flserver.inference.djl.BackendFixtures;
import org.jboss.arquillian.container.test.api.Deployment;
import org.jboss.shrinkwrap.api.spec.WebArchive;
import org.junit.jupiter.api.Test;

/**
 * The TorchScript runtime where it runs in production: in sandboxed worker processes that the WAR
 * starts from inside Payara Micro ({@link InferenceSandbox}, configured with
 * {@code fl.inference.runtime-dir} like the README's run command), never in the server's JVM. Outputs are compared with those PyTorch computed for the same
 * files (src/test/python/inference_backend); DjlBackendTest covers the backend in more detail.
 * Also the other runtime piece the run command adds: the JDK's Vector API module, which the
 * aggregation must be able to use from the WAR's class loader.
 */
@InContainer
class InferenceRuntimeInContainerIT {

    static final double FORWARD_TOLERANCE = 1e-5;
    static final double SWAG_TOLERANCE = 1e-4;

    private static BackendFixtures fixtures;

    @Deployment
    static WebArchive deployment() {
        WebArchive war = Deployments.builtWar().addClasses(BackendFixtures.class, SandboxCalls.class);
        for (String name : BackendFixtures.OWN) {
            war.addAsResource(new File("src/test/resources/inference-backend", name), "inference-backend/" + name);
        }
        for (String name : BackendFixtures.SHARED) {
            war.addAsResource(BackendFixtures.sharedRoot().resolve(name).toFile(), "inference-backend/shared/" + name);
        }
        return war;
    }

    @Inject
    InferenceSandbox sandbox;

    private static synchronized BackendFixtures fixtures() throws IOException {
        if (fixtures == null) {
            fixtures = BackendFixtures.fromClassPath();
        }
        return fixtures;
    }

    private SandboxCalls backend() {
        long t0 = System.nanoTime();
        WorkerPool pool = sandbox.pool().orElseThrow(() -> new AssertionError(sandbox.unavailableReason()));
        System.out.printf("InferenceRuntimeInContainerIT: InferenceSandbox.pool() took %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
        return new SandboxCalls(pool, "in-container-test", 60);
    }

    @Test
    void theAggregationUsesTheVectorApiThatTheServerOptionAdds() {
        // --add-modules=jdk.incubator.vector, as in the run command: the WAR's classes can link the
        // Vector API loops and they pass their probe inside the server
        assertEquals("Vector API (jdk.incubator.vector)", StreamingFedAvg.float32Kernels());
    }

    @Test
    void modelsRunInSandboxedWorkersAndLibtorchNeverInTheServer() throws Exception {
        backend().forward(fixtures().module("mc_mlp.pt"), tensor(fixtures().expected().getJsonObject("mlp")
                .getJsonObject("input")));
        assertNull(sandbox.unavailableReason());
        assertThrows(ClassNotFoundException.class, () -> Class.forName("ai.djl.engine.Engine"),
                "DJL is not on the server's class path: only workers load it");
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            assertFalse(line.contains("libtorch"), "libtorch is mapped into the server: " + line);
        }
    }

    @Test
    void forwardMcDropoutAndSwagEqualPyTorch() throws Exception {
        SandboxCalls backend = backend();
        BackendFixtures f = fixtures();
        JsonObject mlp = f.expected().getJsonObject("mlp");
        ModuleFile module = f.module("mc_mlp.pt");
        Tensor x = tensor(mlp.getJsonObject("input"));

        long t0 = System.nanoTime();
        Tensor out = backend.forward(module, x);
        System.out.printf("InferenceRuntimeInContainerIT: first forward (load + run) %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
        assertClose(doubles(mlp.getJsonArray("forward")), out, FORWARD_TOLERANCE, "forward");
        assertClose(doubles(mlp.getJsonArray("forward_traced")), backend.forward(f.module("plain_mlp_traced.pt"), x),
                FORWARD_TOLERANCE, "traced forward");

        JsonObject mc = mlp.getJsonObject("mc");
        assertPasses(mc.getJsonArray("passes"), backend.forwardMcDropout(module, x, 4, 123L), FORWARD_TOLERANCE,
                "MC dropout seed 123");

        JsonObject swag = mlp.getJsonObject("swag");
        List<Tensor> samples = backend.forwardSwag(module, x, floats(swag.getJsonArray("mean")),
                floats(swag.getJsonArray("second_moment")), 3, 7L);
        assertPasses(swag.getJsonArray("samples"), samples, SWAG_TOLERANCE, "SWAG seed 7");
    }

    @Test
    void modulesWithoutTheFlagFilesThatAreNoTorchScriptAndModulesThatTouchFilesAre400s() throws Exception {
        SandboxCalls backend = backend();
        BackendFixtures f = fixtures();
        JsonObject mlp = f.expected().getJsonObject("mlp");
        Tensor x = tensor(mlp.getJsonObject("input"));
        InferenceException noFlag = assertThrows(InferenceException.class,
                () -> backend.forwardMcDropout(f.module("plain_mlp.pt"), x, 2, 1L));
        assertEquals(400, noFlag.status());
        assertTrue(noFlag.getMessage().startsWith("MC dropout needs a module whose forward takes a flag"),
                noFlag.getMessage());
        for (String name : BackendFixtures.SHARED) {
            if (name.endsWith(".torchscript.pt")) {
                continue;
            }
            InferenceException e = assertThrows(InferenceException.class, () -> backend.forward(f.shared(name), x),
                    name);
            assertEquals(400, e.status(), name);
            assertTrue(e.getMessage().startsWith("inference needs a TorchScript model"), name + ": " + e.getMessage());
        }
        for (String name : List.of("broken_code.pt", "reads_file.pt", "writes_file.pt")) {
            assertEquals(400, assertThrows(InferenceException.class, () -> backend.forward(f.module(name), x)).status(),
                    name);
        }
        assertClose(doubles(mlp.getJsonArray("forward")), backend.forward(f.module("mc_mlp.pt"), x), FORWARD_TOLERANCE,
                "the server still runs models");
    }
}
