package org.flserver.it;

import jakarta.json.JsonObject;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.flserver.tensor.TorchTestFiles;
import org.flserver.tensor.TorchvisionModels;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A torchvision model end to end, over HTTP/1.1 against a server of its own (the shared one's
 * upload limit is 8 MiB): {@code torch.save} of
 * {@code torchvision.models.resnet18()} (written by PyTorch at test time, 45 MB) is uploaded as the
 * global model, a FedAvg training with two participants is started, each uploads a perturbed
 * resnet18 (also {@code torch.save(model)}) with its sample size, the round aggregates, and the
 * global model downloaded from the server loads in PyTorch and holds exactly the weighted mean
 * PyTorch computes (float64 accumulation rounded once to float32: bit-identical, not "close").
 * Also: a crafted file whose one view has more elements than the per-tensor limit is refused with
 * 400 naming the tensor and the limit.
 *
 * <p>Needs Debian's python3-torch and python3-torchvision for {@code /usr/bin/python3} (or
 * {@code -Dfl.python}); without them it fails and says how to install them.
 */
class TorchvisionModelsIT {

    private static final int[] SIZES = {30, 70};

    @Test
    void aTorchSavedResnet18IsTrainedAndItsAverageLoadsInPyTorch() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it", "torchvision-" + UUID.randomUUID())
                .toAbsolutePath());
        JsonObject made = TorchvisionModels.write(dir, "resnet18", SIZES);
        JsonObject files = made.getJsonObject("files");
        List<Path> updates = List.of(Path.of(files.getString("client0")), Path.of(files.getString("client1")));
        try (PayaraMicroProcess server = ownServer(dir);
             TrainingDriver driver = new TrainingDriver(new ApiClient(server.baseUrl()))) {
            Participant actor = driver.participant("tv-actor");
            List<Participant> clients = List.of(driver.participant("tv-c0"), driver.participant("tv-c1"));
            UUID model = driver.uploadGlobal(actor.account(), Path.of(files.getString("model")));
            String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null, "{}", clients);
            driver.start(actor.account(), training);
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
            for (int i = 0; i < clients.size(); i++) {
                Reply r = driver.uploadUpdate(clients.get(i), model, 0, updates.get(i), SIZES[i]);
                assertEquals(201, r.status(), r.toString());
            }
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
            Path global = dir.resolve("global.pt");
            Files.write(global, driver.download(actor, model));

            String[] check = python(dir, TorchvisionModels.SCRIPT.resolveSibling("check_fedavg.py").toString(),
                    global.toString(), Integer.toString(SIZES[0]), updates.get(0).toString(),
                    Integer.toString(SIZES[1]), updates.get(1).toString());
            System.out.println("TorchvisionModelsIT: " + check[1].strip());
            assertEquals("0", check[0], "PyTorch's check of the aggregated resnet18: " + check[1]);
        } finally {
            IntegrationEnvironment.freshDirectory(dir);
            Files.delete(dir);
        }
    }

    /**
     * A server of this test's own: the shared one takes uploads of 8 MiB at most (the upload-limit
     * tests rely on that), resnet18 is 45 MB. It runs on a schema and a data directory of its own, so
     * the shared server never claims its aggregation job (it could not read the files).
     */
    private static PayaraMicroProcess ownServer(Path dir) throws Exception {
        String schema = "torchvision_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
        String shared = IntegrationEnvironment.jdbcUrl();
        List<String> jvm = new ArrayList<>(List.of("-Xmx768m", IntegrationEnvironment.VECTOR_API_OPTION));
        jvm.addAll(IntegrationEnvironment.serverProperties(dir.resolve("data")));
        // later -D options win
        jvm.add("-Dfl.db.url=" + shared + (shared.contains("?") ? "&" : "?") + "currentSchema=" + schema);
        jvm.add("-Dfl.upload.max-bytes=" + (256L << 20));
        return PayaraMicroProcess.start(dir, jvm, List.of("--contextroot", "/", "--rootdir",
                IntegrationEnvironment.freshDirectory(dir.resolve("root")).toString()), dir.resolve("server.log"));
    }

    @Test
    void aViewOverThePerTensorElementLimitIsRefusedWith400() {
        ApiClient api = new ApiClient();
        ApiClient.Account owner = api.createUser("tv-limit");
        // (2^31, 2^31) with stride (0, 0) on a 12-element storage: inside the storage, 2^62 elements.
        byte[] file = TorchTestFiles.floatViews(new long[][]{{1L << 31, 1L << 31}}, new long[][]{{0, 0}});
        Multipart form = new Multipart().field("name", "n").field("description", "d").file("model_file", "m.pt", file);
        Reply r = api.sendBytes("POST", "/api/models/", owner.tokenHeader(), form.contentType(), form.bytes());
        ModelTesting.assertList(r, "Invalid model file: tensor 't0' [2147483648, 2147483648] has 4611686018427387904"
                + " elements, more than the limit of 68719476736 per tensor");
        assertEquals(0, api.get("/api/models/", owner).array().size());
    }

    /** Runs /usr/bin/python3 (or -Dfl.python); returns exit status and standard output. */
    private static String[] python(Path dir, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(TorchvisionModels.PYTHON));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectError(dir.resolve("check.log").toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroy();
            return new String[]{"timeout", out};
        }
        return new String[]{Integer.toString(p.exitValue()),
                out + Files.readString(dir.resolve("check.log"))};
    }
}
