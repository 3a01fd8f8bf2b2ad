package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.io.IOException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.safetensors.SafetensorsWriter;
import org.jboss.arquillian.container.test.api.Deployment;
import org.jboss.arquillian.container.test.api.RunAsClient;
import org.jboss.arquillian.junit5.ArquillianExtension;
import org.jboss.arquillian.test.api.ArquillianResource;
import org.jboss.shrinkwrap.api.spec.WebArchive;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * End-to-end federated trainings (issue #4, acceptance A–C) on the real server: the built WAR on
 * Payara Micro through Arquillian, PostgreSQL, the shared fixtures' client files, and simulated
 * participants — loopback HTTP endpoints that receive the notifications — driven by the test the
 * way real clients react to them: upload a local model on UPDATE_ROUND_START, report metrics on
 * MODEL_TEST_ROUND, send SWAG moments on SWAG_ROUND_START.
 *
 * <p>The expected global models are computed independently: the first aggregation of a FedAvg set
 * must be byte-identical to the fixture's {@code expected.torchscript.pt} (written by PyTorch), later
 * ones are compared with a weighted mean computed here, element by element in double precision.
 * Clients upload in a fixed order so that the server's summation order is the fixtures' order.
 */
@ExtendWith(ArquillianExtension.class)
@RunAsClient
class FederatedTrainingIT {

    private static final Path FEDAVG = Path.of(System.getProperty("fl.fixtures",
            "../shared/fixtures/pytorch")).resolve("fedavg");
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int[] SIZES = {10, 30, 60};

    @ArquillianResource
    URL base;

    private ApiClient api;
    private final List<SimulatedClient> endpoints = new ArrayList<>();

    @Deployment(testable = false)
    static WebArchive deployment() {
        return Deployments.builtWar();
    }

    @BeforeEach
    void client() {
        String root = base.toString();
        api = new ApiClient(root.endsWith("/") ? root.substring(0, root.length() - 1) : root);
    }

    @AfterEach
    void closeEndpoints() {
        endpoints.forEach(SimulatedClient::close);
        endpoints.clear();
    }

    /** A participant: an account whose message endpoint is a simulated client. */
    private record Participant(Account account, SimulatedClient endpoint) {
    }

    private Participant participant(String prefix) throws IOException {
        SimulatedClient endpoint = new SimulatedClient();
        endpoints.add(endpoint);
        return new Participant(api.createUser(prefix, endpoint.endpoint()), endpoint);
    }

    // ---------------------------------------------------------------------------------------------
    // A. FedAvg, 3 clients, 2 rounds

    @Test
    void fedAvgTrainingRunsTwoRoundsAndEndsWithTheWeightedMean() throws Exception {
        Participant actor = participant("actor");
        List<Participant> clients = List.of(participant("c0"), participant("c1"), participant("c2"));
        Path set = FEDAVG.resolve("mlp");
        UUID model = uploadGlobal(actor.account(), set.resolve("client0.torchscript.pt"));
        String training = createTraining(actor.account(), model, 2, "FedAvg", null, "{}", clients);
        start(actor.account(), training);

        // round 0: the fixture's sample sizes; the result must be PyTorch's expected file, byte for byte
        awaitAll(clients, "UPDATE_ROUND_START", 0);
        for (int i = 0; i < 3; i++) {
            assertEquals(201, uploadUpdate(clients.get(i), model, 0, set.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]).status());
        }
        awaitAll(clients, "MODEL_TEST_ROUND", 1);
        assertArrayEquals(Files.readAllBytes(set.resolve("expected.torchscript.pt")), download(actor, model),
                "after round 0 the global model is PyTorch's weighted mean of the three clients");
        assertEquals("O", trainingJson(actor, training).getString("state"));
        reportMetrics(clients, model, "0.5");

        // round 1: other weights; expected mean computed here
        awaitAll(clients, "UPDATE_ROUND_START", 1);
        int[] sizes = {60, 30, 10};
        for (int i = 0; i < 3; i++) {
            assertEquals(201, uploadUpdate(clients.get(i), model, 1, set.resolve("client" + i + ".torchscript.pt"),
                    sizes[i]).status());
        }
        awaitAll(clients, "MODEL_TEST_ROUND", 2);
        Path finalModel = Files.createTempFile("final", ".pt");
        Files.write(finalModel, download(actor, model));
        assertWeightedMean(finalModel, List.of(set.resolve("client0.torchscript.pt"),
                set.resolve("client1.torchscript.pt"), set.resolve("client2.torchscript.pt")), sizes);
        reportMetrics(clients, model, "0.75");

        awaitAll(clients, "TRAINING_FINISHED", -1);
        actor.endpoint().await("TRAINING_FINISHED", -1, WAIT);
        JsonObject done = trainingJson(actor, training);
        assertEquals("C", done.getString("state"));
        assertFalse(done.getBoolean("locked"));
        for (Participant c : clients) {
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1",
                    "UPDATE_ROUND_START:1", "MODEL_TEST_ROUND:2", "TRAINING_FINISHED"), c.endpoint().labels());
            assertTrue(c.endpoint().received().stream().allMatch(r -> r.contentLength() && !r.chunked()),
                    "every notification carries a Content-Length and no chunked encoding");
            assertTrue(c.endpoint().received().stream().allMatch(r -> r.trainingId().equals(training)
                    && r.modelId().equals(model.toString())));
        }
        assertEquals(List.of("TRAINING_FINISHED"), actor.endpoint().labels(), "the actor only hears the end");

        // provenance: the initial upload, then one version per round with its three updates
        JsonArray history = provenance(actor, training);
        assertEquals(3, history.size(), history.toString());
        assertEquals(0, history.getJsonObject(0).getJsonArray("updates").size());
        assertEquals(List.of(0, 1, 2), history.stream().map(v -> v.asJsonObject().getInt("round")).toList());
        for (int round = 1; round <= 2; round++) {
            JsonArray updates = history.getJsonObject(round).getJsonArray("updates");
            assertEquals(3, updates.size());
            int[] expectedSizes = round == 1 ? SIZES : sizes;
            for (int i = 0; i < 3; i++) {
                JsonObject u = updates.getJsonObject(i);
                assertEquals(clients.get(i).account().username(), u.getString("owner_username"));
                assertEquals(round - 1, u.getInt("round"));
                assertEquals(expectedSizes[i], u.getInt("sample_size"));
                assertEquals(expectedSizes[i] / 100.0, u.getJsonNumber("weight").doubleValue(), 1e-12);
                assertEquals(sha256(set.resolve("client" + i + ".torchscript.pt")), u.getString("weights_sha256"));
            }
        }
        assertEquals(sha256(set.resolve("expected.torchscript.pt")),
                history.getJsonObject(1).getString("weights_sha256"));
        assertEquals(sha256(finalModel), history.getJsonObject(2).getString("weights_sha256"));
        // the local models are gone after aggregation: only the global model is listed
        JsonArray models = api.get("/api/trainings/" + training + "/models/", actor.account()).array();
        assertEquals(1, models.size(), models.toString());
        assertEquals(1, count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ? AND round = 0", training));
    }

    // ---------------------------------------------------------------------------------------------
    // B. FedDC and SWAG

    @Test
    void fedDcShufflesLocalModelsBetweenBoundariesAndAggregatesAtEachBoundary() throws Exception {
        Participant actor = participant("actor");
        List<Participant> clients = List.of(participant("c0"), participant("c1"), participant("c2"));
        Path set = FEDAVG.resolve("mlp");
        UUID model = uploadGlobal(actor.account(), set.resolve("client0.torchscript.pt"));
        // T = 2 updates with period 2: the stored target is 4 (the daisy-chain rule)
        String training = createTraining(actor.account(), model, 2, "FedDC", null, "{\"daisy_chain_period\": 2}",
                clients);
        assertEquals(4, trainingJson(actor, training).getInt("target_num_updates"));
        start(actor.account(), training);

        List<int[]> roundSizes = List.of(new int[]{10, 30, 60}, new int[]{5, 5, 90}, new int[]{1, 2, 3},
                new int[]{7, 11, 13});
        for (int round = 0; round < 4; round++) {
            awaitAll(clients, "UPDATE_ROUND_START", round);
            Set<String> announced = new HashSet<>();
            for (Participant c : clients) {
                announced.add(c.endpoint().await("UPDATE_ROUND_START", round, WAIT).modelId());
            }
            if (round % 2 == 0) {
                assertEquals(Set.of(model.toString()), announced, "a boundary round starts from the global model");
            } else {
                // each participant continues from a peer's local model of the previous round
                Set<String> previous = localModelIds(actor, training, round - 1);
                assertEquals(3, previous.size());
                assertEquals(previous, announced);
                for (Participant c : clients) {
                    String given = c.endpoint().await("UPDATE_ROUND_START", round, WAIT).modelId();
                    assertEquals(200, api.download("/api/models/" + given + "/", c.account()).statusCode());
                }
            }
            int[] sizes = roundSizes.get(round);
            for (int i = 0; i < 3; i++) {
                Reply r = uploadUpdate(clients.get(i), model, round, set.resolve("client" + i + ".torchscript.pt"),
                        sizes[i]);
                assertEquals(201, r.status(), r.toString());
            }
        }
        awaitAll(clients, "MODEL_TEST_ROUND", 4);
        Path finalModel = Files.createTempFile("feddc", ".pt");
        Files.write(finalModel, download(actor, model));
        assertWeightedMean(finalModel, List.of(set.resolve("client0.torchscript.pt"),
                set.resolve("client1.torchscript.pt"), set.resolve("client2.torchscript.pt")), roundSizes.get(3));
        reportMetrics(clients, model, "0.9");
        awaitAll(clients, "TRAINING_FINISHED", -1);
        assertEquals("C", trainingJson(actor, training).getString("state"));
        for (Participant c : clients) {
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "UPDATE_ROUND_START:1",
                    "UPDATE_ROUND_START:2", "UPDATE_ROUND_START:3", "MODEL_TEST_ROUND:4", "TRAINING_FINISHED"),
                    c.endpoint().labels());
        }
        // two aggregations: at the boundaries after rounds 1 and 3, from those rounds' updates
        JsonArray history = provenance(actor, training);
        assertEquals(List.of(0, 2, 4), history.stream().map(v -> v.asJsonObject().getInt("round")).toList());
        assertEquals(List.of(1, 1, 1), history.getJsonObject(1).getJsonArray("updates").stream()
                .map(u -> u.asJsonObject().getInt("round")).toList());
        assertEquals(List.of(3, 3, 3), history.getJsonObject(2).getJsonArray("updates").stream()
                .map(u -> u.asJsonObject().getInt("round")).toList());
        assertEquals(2, count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", training));
    }

    @Test
    void swagTrainingCollectsMomentsInStateSThenTestsAndCompletes() throws Exception {
        Participant actor = participant("actor");
        List<Participant> clients = List.of(participant("c0"), participant("c1"), participant("c2"));
        Path set = FEDAVG.resolve("mlp");
        UUID model = uploadGlobal(actor.account(), set.resolve("client0.torchscript.pt"));
        String training = createTraining(actor.account(), model, 1, "FedAvg", "SWAG", "{}", clients);
        start(actor.account(), training);

        awaitAll(clients, "UPDATE_ROUND_START", 0);
        for (int i = 0; i < 3; i++) {
            assertEquals(201, uploadUpdate(clients.get(i), model, 0, set.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]).status());
        }
        awaitAll(clients, "SWAG_ROUND_START", 1);
        JsonObject swagRound = trainingJson(actor, training);
        assertEquals("S", swagRound.getString("state"));
        assertArrayEquals(Files.readAllBytes(set.resolve("expected.torchscript.pt")), download(actor, model));

        int parameters = floatingParameters(set.resolve("client0.torchscript.pt"));
        List<float[]> firsts = new ArrayList<>();
        List<float[]> seconds = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] first = new float[parameters];
            float[] second = new float[parameters];
            for (int j = 0; j < parameters; j++) {
                first[j] = (i + 1) * 0.5f + j * 1e-3f;
                second[j] = first[j] * first[j] + 0.25f * (i + 1);
            }
            firsts.add(first);
            seconds.add(second);
            Reply r = uploadMoments(clients.get(i), model, 1, first, second, SIZES[i]);
            assertEquals(201, r.status(), r.toString());
        }
        awaitAll(clients, "MODEL_TEST_ROUND", 1);
        assertEquals("O", trainingJson(actor, training).getString("state"));
        reportMetrics(clients, model, "0.8");
        awaitAll(clients, "TRAINING_FINISHED", -1);
        assertEquals("C", trainingJson(actor, training).getString("state"));
        for (Participant c : clients) {
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "SWAG_ROUND_START:1",
                    "MODEL_TEST_ROUND:1", "TRAINING_FINISHED"), c.endpoint().labels());
        }
        JsonArray history = provenance(actor, training);
        assertEquals(2, history.size());
        JsonArray swag = history.getJsonObject(1).getJsonArray("swag_updates");
        assertEquals(List.of(10, 30, 60), swag.stream().map(u -> u.asJsonObject().getInt("sample_size")).toList());

        // the stored moments are the sample-size-weighted means
        String[] moments = stringColumns("SELECT swag_first_moment_sha256, swag_second_moment_sha256, model_type"
                + " FROM model WHERE id = ?", model.toString(), 3);
        assertEquals("SWAG", moments[2]);
        assertMomentMean(moments[0], firsts);
        assertMomentMean(moments[1], seconds);
    }

    // ---------------------------------------------------------------------------------------------
    // C. Failures

    @Test
    void aClientThatRejectsARoundNotificationIsRemovedAndTheRoundCompletesWithTheOthers() throws Exception {
        Participant actor = participant("actor");
        List<Participant> clients = List.of(participant("c0"), participant("c1"), participant("rejecting"));
        clients.get(2).endpoint().answerWith(500);
        Path set = FEDAVG.resolve("mlp");
        UUID model = uploadGlobal(actor.account(), set.resolve("client0.torchscript.pt"));
        String training = createTraining(actor.account(), model, 1, "FedAvg", null, "{}", clients);
        start(actor.account(), training);

        clients.get(2).endpoint().await("UPDATE_ROUND_START", 0, WAIT);
        awaitCondition(() -> trainingJson(actor, training).getJsonArray("participants").size() == 2,
                "the rejecting client is removed");
        List<Participant> remaining = clients.subList(0, 2);
        awaitAll(remaining, "UPDATE_ROUND_START", 0);
        for (int i = 0; i < 2; i++) {
            assertEquals(201, uploadUpdate(remaining.get(i), model, 0, set.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]).status());
        }
        awaitAll(remaining, "MODEL_TEST_ROUND", 1);
        reportMetrics(remaining, model, "0.6");
        awaitAll(remaining, "TRAINING_FINISHED", -1);
        assertEquals("C", trainingJson(actor, training).getString("state"));
        Path result = Files.createTempFile("two", ".pt");
        Files.write(result, download(actor, model));
        assertWeightedMean(result, List.of(set.resolve("client0.torchscript.pt"),
                set.resolve("client1.torchscript.pt")), new int[]{10, 30});
        // the removed client hears nothing more
        assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0"), clients.get(2).endpoint().labels());
    }

    @Test
    void anUnreachableParticipantPutsTheTrainingIntoE() throws Exception {
        Participant actor = participant("actor");
        Participant reachable = participant("c0");
        SimulatedClient closed = new SimulatedClient();
        String deadEndpoint = closed.endpoint();
        closed.close(); // nothing listens there any more
        Account unreachable = api.createUser("unreachable", deadEndpoint);
        UUID model = uploadGlobal(actor.account(), FEDAVG.resolve("mlp").resolve("client0.torchscript.pt"));
        String training = createTraining(actor.account(), model, 1, "FedAvg", null, "{}",
                List.of(reachable, new Participant(unreachable, null)));
        start(actor.account(), training);
        awaitCondition(() -> trainingJson(actor, training).getString("state").equals("E"),
                "the training goes to E after the retries");
        reachable.endpoint().await("UPDATE_ROUND_START", 0, WAIT);
        Reply late = uploadUpdate(reachable, model, 0, FEDAVG.resolve("mlp").resolve("client0.torchscript.pt"), 5);
        assertEquals(400, late.status(), late.toString());
        assertEquals("E", trainingJson(actor, training).getString("state"));
    }

    @Test
    void duplicateForeignAndHostileUpdatesAreRefusedAndConcurrentLastUploadsAggregateOnce() throws Exception {
        Participant actor = participant("actor");
        List<Participant> clients = List.of(participant("c0"), participant("c1"), participant("c2"));
        Path set = FEDAVG.resolve("mlp");
        UUID model = uploadGlobal(actor.account(), set.resolve("client0.torchscript.pt"));
        String training = createTraining(actor.account(), model, 1, "FedAvg", null, "{}", clients);
        start(actor.account(), training);
        awaitAll(clients, "UPDATE_ROUND_START", 0);

        assertEquals(201, uploadUpdate(clients.get(0), model, 0, set.resolve("client0.torchscript.pt"), 10).status());
        // a second update for the same round: 409, never counted
        Reply duplicate = uploadUpdate(clients.get(0), model, 0, set.resolve("client1.torchscript.pt"), 99);
        assertEquals(409, duplicate.status(), duplicate.toString());
        // another architecture: 400 naming what differs; the training goes on
        Reply foreign = uploadUpdate(clients.get(1), model, 0,
                FEDAVG.resolve("cnn_bn").resolve("client1.torchscript.pt"), 30);
        assertEquals(400, foreign.status(), foreign.toString());
        assertFalse(foreign.body().isBlank());
        // a hostile file: 400, nothing else changes
        Path hostile = FEDAVG.getParent().resolve("hostile").resolve("os_system.pt");
        Reply refused = uploadUpdate(clients.get(1), model, 0, hostile, 30);
        assertEquals(400, refused.status(), refused.toString());
        assertEquals(1, count("SELECT COUNT(*) FROM model WHERE base_model_id = ?", model.toString()));
        JsonObject still = trainingJson(actor, training);
        assertEquals("O", still.getString("state"));
        assertFalse(still.getBoolean("locked"));
        assertEquals(0, count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", training));

        // the two last uploads at the same moment: exactly one aggregation
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Reply>> last = new ArrayList<>();
        for (int i = 1; i < 3; i++) {
            int c = i;
            last.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return uploadUpdate(clients.get(c), model, 0, set.resolve("client" + c + ".torchscript.pt"),
                        SIZES[c]);
            }));
        }
        go.countDown();
        for (CompletableFuture<Reply> f : last) {
            assertEquals(201, f.get().status(), f.get().toString());
        }
        awaitAll(clients, "MODEL_TEST_ROUND", 1);
        assertEquals(1, count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", training));
        JsonArray history = provenance(actor, training);
        assertEquals(2, history.size());
        assertEquals(3, history.getJsonObject(1).getJsonArray("updates").size(), "the duplicate never counted");
        for (Participant c : clients) {
            assertEquals(1, c.endpoint().received().stream().filter(r -> r.type().equals("MODEL_TEST_ROUND")).count());
        }
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    private UUID uploadGlobal(Account owner, Path file) throws IOException {
        Multipart form = new Multipart().field("name", "e2e " + file.getFileName()).field("description", "e2e")
                .file("model_file", file.getFileName().toString(), Files.readAllBytes(file));
        Reply r = api.sendBytes("POST", "/api/models/", owner.tokenHeader(), form.contentType(), form.bytes());
        assertEquals(201, r.status(), r.toString());
        return UUID.fromString(r.json().getString("model_id"));
    }

    private String createTraining(Account actor, UUID model, int target, String aggregation, String uncertainty,
                                  String options, List<Participant> clients) {
        StringBuilder body = new StringBuilder("{\"model_id\": \"" + model + "\", \"target_num_updates\": " + target
                + ", \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"" + aggregation + "\", \"options\": "
                + options);
        if (uncertainty != null) {
            body.append(", \"uncertainty_method\": \"").append(uncertainty).append('"');
        }
        body.append(", \"clients\": [");
        for (int i = 0; i < clients.size(); i++) {
            body.append(i == 0 ? "" : ", ").append('"').append(clients.get(i).account().id()).append('"');
        }
        body.append("]}");
        Reply r = api.postJson("/api/trainings/", actor, body.toString());
        assertEquals(201, r.status(), r.toString());
        return r.json().getString("training_id");
    }

    private void start(Account actor, String training) {
        Reply r = api.send("POST", "/api/trainings/" + training + "/start/", actor.tokenHeader(), null, null);
        assertEquals(202, r.status(), r.toString());
    }

    private Reply uploadUpdate(Participant client, UUID model, int round, Path file, int sampleSize) {
        try {
            Multipart form = new Multipart().field("round", Integer.toString(round))
                    .field("sample_size", Integer.toString(sampleSize))
                    .field("owner", client.account().id().toString())
                    .file("model_file", "model.pt", Files.readAllBytes(file));
            return api.sendBytes("POST", "/api/models/" + model + "/", client.account().basicHeader(),
                    form.contentType(), form.bytes());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private Reply uploadMoments(Participant client, UUID model, int round, float[] first, float[] second,
                                int sampleSize) throws IOException {
        Multipart form = new Multipart().field("round", Integer.toString(round))
                .field("sample_size", Integer.toString(sampleSize))
                .file("first_moment_file", "first.safetensors", safetensors(first))
                .file("second_moment_file", "second.safetensors", safetensors(second));
        return api.sendBytes("POST", "/api/models/" + model + "/swag/", client.account().basicHeader(),
                form.contentType(), form.bytes());
    }

    private static byte[] safetensors(float[] v) throws IOException {
        ByteBuffer data = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            data.putFloat(x);
        }
        data.flip();
        Path file = Files.createTempFile("moment", ".safetensors");
        try {
            SafetensorsWriter.write(file, Map.of(), List.of(new SafetensorsWriter.Tensor("moment", DType.FLOAT32,
                    List.of((long) v.length), data)));
            return Files.readAllBytes(file);
        } finally {
            Files.delete(file);
        }
    }

    /** Every client reports a metric for the model's current round (urlencoded, as the DLR client does). */
    private void reportMetrics(List<Participant> clients, UUID model, String accuracy) {
        for (Participant c : clients) {
            Reply r = api.send("POST", "/api/models/" + model + "/metrics/", c.account().basicHeader(),
                    "application/x-www-form-urlencoded", "metric_names=accuracy&metric_values=" + accuracy);
            assertEquals(201, r.status(), r.toString());
        }
    }

    private static void awaitAll(List<Participant> clients, String type, int round) {
        for (Participant c : clients) {
            c.endpoint().await(type, round, WAIT);
        }
    }

    private static void awaitCondition(java.util.function.BooleanSupplier condition, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + WAIT + ": " + what);
            }
            Thread.sleep(200);
        }
    }

    private JsonObject trainingJson(Participant actor, String training) {
        Reply r = api.get("/api/trainings/" + training + "/", actor.account());
        assertEquals(200, r.status(), r.toString());
        return r.json();
    }

    private JsonArray provenance(Participant actor, String training) {
        Reply r = api.get("/api/trainings/" + training + "/provenance/", actor.account());
        assertEquals(200, r.status(), r.toString());
        return r.array();
    }

    private byte[] download(Participant who, UUID model) {
        var response = api.download("/api/models/" + model + "/", who.account());
        assertEquals(200, response.statusCode());
        return response.body();
    }

    private Set<String> localModelIds(Participant actor, String training, int round) {
        Set<String> ids = new HashSet<>();
        for (var v : api.get("/api/trainings/" + training + "/models/", actor.account()).array()) {
            JsonObject m = v.asJsonObject();
            if (m.containsKey("base_model") && m.getInt("round") == round) {
                ids.add(m.getString("id"));
            }
        }
        return ids;
    }

    /**
     * Checks every float32 storage of {@code result} against Σ n_i x_i / Σ n_i over the clients'
     * same storage, computed here in double precision in client order and rounded once to float.
     */
    private static void assertWeightedMean(Path result, List<Path> clients, int[] sizes) throws IOException {
        WeightFile out = WeightFiles.open(result);
        List<WeightFile> in = new ArrayList<>();
        for (Path c : clients) {
            in.add(WeightFiles.open(c));
        }
        double total = 0;
        for (int i = 0; i < clients.size(); i++) {
            total += sizes[i];
        }
        int checked = 0;
        for (StorageInfo s : out.storages()) {
            assertEquals(DType.FLOAT32, s.dtype(), "the fixture set is float32 only");
            float[] actual = floats(result, s);
            double[] acc = new double[actual.length];
            for (int i = 0; i < in.size(); i++) {
                float[] x = floats(clients.get(i), in.get(i).storage(s.key()).orElseThrow());
                for (int j = 0; j < acc.length; j++) {
                    acc[j] += (double) x[j] * sizes[i];
                }
            }
            for (int j = 0; j < acc.length; j++) {
                assertEquals((float) (acc[j] / total), actual[j], 0.0f, "storage " + s.key() + " element " + j);
                checked++;
            }
        }
        assertTrue(checked > 0);
    }

    private static float[] floats(Path file, StorageInfo s) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) s.length()).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, s.offset() + buf.position()) < 0) {
                    throw new IOException("short file");
                }
            }
        }
        buf.flip();
        float[] v = new float[(int) s.numel()];
        buf.asFloatBuffer().get(v);
        return v;
    }

    /** The number of floating parameters, counted over the model's tensors (SWAG vectors are that long). */
    private static int floatingParameters(Path model) throws IOException {
        long n = 0;
        for (TensorInfo t : WeightFiles.open(model).tensors()) {
            if (t.dtype().isFloatingPoint()) {
                n += t.numel();
            }
        }
        return Math.toIntExact(n);
    }

    private static void assertMomentMean(String sha256, List<float[]> vectors) throws IOException {
        Path file = dataFile(sha256);
        WeightFile stored = WeightFiles.open(file);
        assertEquals(1, stored.tensors().size());
        float[] actual = floats(file, stored.storages().get(0));
        for (int j = 0; j < actual.length; j++) {
            double acc = 0;
            for (int i = 0; i < vectors.size(); i++) {
                acc += (double) vectors.get(i)[j] * SIZES[i];
            }
            assertEquals((float) (acc / 100), actual[j], 0.0f, "moment element " + j);
        }
    }

    /** A stored file of the Arquillian server (IntegrationEnvironment gives it this data directory). */
    private static Path dataFile(String sha256) {
        Path p = Path.of("target", "it", "data-arquillian", "files", sha256.substring(0, 2), sha256);
        assertTrue(Files.isRegularFile(p), "stored file " + p);
        return p;
    }

    private static long count(String sql, String id) throws Exception {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, UUID.fromString(id));
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private static String[] stringColumns(String sql, String id, int columns) throws Exception {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, UUID.fromString(id));
            try (ResultSet r = s.executeQuery()) {
                assertTrue(r.next());
                String[] values = new String[columns];
                for (int i = 0; i < columns; i++) {
                    values[i] = r.getString(i + 1);
                }
                return values;
            }
        }
    }

    private static String sha256(Path file) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        return java.util.HexFormat.of().formatHex(md.digest(Files.readAllBytes(file)));
    }
}
