package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.jboss.arquillian.container.test.api.Deployment;
import org.jboss.arquillian.container.test.api.RunAsClient;
import org.jboss.arquillian.test.api.ArquillianResource;
import org.jboss.shrinkwrap.api.spec.WebArchive;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * End-to-end federated trainings (FedAvg, FedDC, SWAG rounds) on the real server: the built WAR on
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
@InContainer
@RunAsClient
class FederatedTrainingIT {

    private static final Path FEDAVG = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"))
            .resolve("fedavg");
    private static final Duration WAIT = TrainingDriver.WAIT;
    private static final int[] SIZES = {10, 30, 60};

    @ArquillianResource
    URL base;

    private TrainingDriver driver;

    @Deployment(testable = false)
    static WebArchive deployment() {
        return Deployments.builtWar();
    }

    @BeforeEach
    void client() {
        String root = base.toString();
        driver = new TrainingDriver(new ApiClient(root.endsWith("/") ? root.substring(0, root.length() - 1) : root));
    }

    @AfterEach
    void closeEndpoints() {
        driver.close();
    }

    /** A started training on the mlp set's client 0 file with an actor and three participants. */
    private record Started(Participant actor, List<Participant> clients, UUID model, String training) {
    }

    private Started started(int target, String aggregation, String uncertainty, String options,
                            Consumer<List<Participant>> beforeStart, String... clientNames) throws Exception {
        Participant actor = driver.participant("actor");
        List<Participant> clients = new ArrayList<>();
        for (String name : clientNames) {
            clients.add(driver.participant(name));
        }
        UUID model = driver.uploadGlobal(actor.account(), FEDAVG.resolve("mlp").resolve("client0.torchscript.pt"));
        String training = driver.createTraining(actor.account(), model, target, aggregation, uncertainty, options,
                clients);
        beforeStart.accept(clients);
        driver.start(actor.account(), training);
        return new Started(actor, List.copyOf(clients), model, training);
    }

    private Started started(int target, String aggregation, String uncertainty, String options) throws Exception {
        return started(target, aggregation, uncertainty, options, c -> { }, "c0", "c1", "c2");
    }

    // ---------------------------------------------------------------------------------------------
    // A. FedAvg, 3 clients, 2 rounds

    @Test
    void fedAvgTrainingRunsTwoRoundsAndEndsWithTheWeightedMean() throws Exception {
        Started s = started(2, "FedAvg", null, "{}");
        Participant actor = s.actor();
        List<Participant> clients = s.clients();
        Path set = FEDAVG.resolve("mlp");
        UUID model = s.model();
        String training = s.training();

        // round 0: the fixture's sample sizes; the result must be PyTorch's expected file, byte for byte
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        for (int i = 0; i < 3; i++) {
            assertEquals(201, driver.uploadUpdate(clients.get(i), model, 0, set.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]).status());
        }
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
        assertArrayEquals(Files.readAllBytes(set.resolve("expected.torchscript.pt")), driver.download(actor, model),
                "after round 0 the global model is PyTorch's weighted mean of the three clients");
        assertEquals("O", driver.trainingJson(actor, training).getString("state"));
        driver.reportMetrics(clients, model, "0.5");

        // round 1: other weights; expected mean computed here
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 1);
        int[] sizes = {60, 30, 10};
        for (int i = 0; i < 3; i++) {
            assertEquals(201, driver.uploadUpdate(clients.get(i), model, 1, set.resolve("client" + i + ".torchscript.pt"),
                    sizes[i]).status());
        }
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 2);
        Path finalModel = Files.createTempFile("final", ".pt");
        Files.write(finalModel, driver.download(actor, model));
        TrainingDriver.assertWeightedMean(finalModel, List.of(set.resolve("client0.torchscript.pt"),
                set.resolve("client1.torchscript.pt"), set.resolve("client2.torchscript.pt")), sizes);
        driver.reportMetrics(clients, model, "0.75");

        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        actor.endpoint().await("TRAINING_FINISHED", -1, WAIT);
        JsonObject done = driver.trainingJson(actor, training);
        assertEquals("C", done.getString("state"));
        assertFalse(done.getBoolean("locked"));
        for (Participant c : clients) {
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1",
                    "UPDATE_ROUND_START:1", "MODEL_TEST_ROUND:2", "TRAINING_FINISHED"),
                    c.endpoint().labels(), () -> TrainingDriver.notificationRows(training));
            assertTrue(c.endpoint().received().stream().allMatch(r -> r.contentLength() && !r.chunked()),
                    "every notification carries a Content-Length and no chunked encoding");
            assertTrue(c.endpoint().received().stream().allMatch(r -> r.trainingId().equals(training)
                    && r.modelId().equals(model.toString())));
        }
        assertEquals(List.of("TRAINING_FINISHED"), actor.endpoint().labels(), "the actor only hears the end");

        // provenance: the initial upload, then one version per round with its three updates
        JsonArray history = driver.provenance(actor, training);
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
                assertEquals(TrainingDriver.sha256(set.resolve("client" + i + ".torchscript.pt")), u.getString("weights_sha256"));
            }
        }
        assertEquals(TrainingDriver.sha256(set.resolve("expected.torchscript.pt")),
                history.getJsonObject(1).getString("weights_sha256"));
        assertEquals(TrainingDriver.sha256(finalModel), history.getJsonObject(2).getString("weights_sha256"));
        // the local models are gone after aggregation: only the global model is listed
        JsonArray models = driver.api.get("/api/trainings/" + training + "/models/", actor.account()).array();
        assertEquals(1, models.size(), models.toString());
        assertEquals(1, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ? AND round = 0", training));
    }

    // ---------------------------------------------------------------------------------------------
    // B. FedDC and SWAG

    @Test
    void fedDcShufflesLocalModelsBetweenBoundariesAndAggregatesAtEachBoundary() throws Exception {
        Started s = started(2, "FedDC", null, "{\"daisy_chain_period\": 2}");
        Participant actor = s.actor();
        List<Participant> clients = s.clients();
        Path set = FEDAVG.resolve("mlp");
        UUID model = s.model();
        String training = s.training();
        // T = 2 updates with period 2: the stored target is 4 (the daisy-chain rule)
        assertEquals(4, driver.trainingJson(actor, training).getInt("target_num_updates"));

        List<int[]> roundSizes = List.of(new int[]{10, 30, 60}, new int[]{5, 5, 90}, new int[]{1, 2, 3},
                new int[]{7, 11, 13});
        for (int round = 0; round < 4; round++) {
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", round);
            Set<String> announced = new HashSet<>();
            for (Participant c : clients) {
                announced.add(c.endpoint().await("UPDATE_ROUND_START", round, WAIT).modelId());
            }
            if (round % 2 == 0) {
                assertEquals(Set.of(model.toString()), announced, "a boundary round starts from the global model");
            } else {
                // each participant continues from a peer's local model of the previous round
                Set<String> previous = driver.localModelIds(actor, training, round - 1);
                assertEquals(3, previous.size());
                assertEquals(previous, announced);
                for (Participant c : clients) {
                    String given = c.endpoint().await("UPDATE_ROUND_START", round, WAIT).modelId();
                    assertEquals(200, driver.api.download("/api/models/" + given + "/", c.account()).statusCode());
                }
            }
            int[] sizes = roundSizes.get(round);
            for (int i = 0; i < 3; i++) {
                Reply r = driver.uploadUpdate(clients.get(i), model, round, set.resolve("client" + i + ".torchscript.pt"),
                        sizes[i]);
                assertEquals(201, r.status(), r.toString());
            }
        }
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 4);
        Path finalModel = Files.createTempFile("feddc", ".pt");
        Files.write(finalModel, driver.download(actor, model));
        TrainingDriver.assertWeightedMean(finalModel, List.of(set.resolve("client0.torchscript.pt"),
                set.resolve("client1.torchscript.pt"), set.resolve("client2.torchscript.pt")), roundSizes.get(3));
        driver.reportMetrics(clients, model, "0.9");
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        assertEquals("C", driver.trainingJson(actor, training).getString("state"));
        for (Participant c : clients) {
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "UPDATE_ROUND_START:1",
                    "UPDATE_ROUND_START:2", "UPDATE_ROUND_START:3", "MODEL_TEST_ROUND:4", "TRAINING_FINISHED"),
                    c.endpoint().labels(), () -> TrainingDriver.notificationRows(training));
        }
        // two aggregations: at the boundaries after rounds 1 and 3, from those rounds' updates
        JsonArray history = driver.provenance(actor, training);
        assertEquals(List.of(0, 2, 4), history.stream().map(v -> v.asJsonObject().getInt("round")).toList());
        assertEquals(List.of(1, 1, 1), history.getJsonObject(1).getJsonArray("updates").stream()
                .map(u -> u.asJsonObject().getInt("round")).toList());
        assertEquals(List.of(3, 3, 3), history.getJsonObject(2).getJsonArray("updates").stream()
                .map(u -> u.asJsonObject().getInt("round")).toList());
        assertEquals(2, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", training));
    }

    @Test
    void swagTrainingCollectsMomentsInStateSThenTestsAndCompletes() throws Exception {
        Started s = started(1, "FedAvg", "SWAG", "{}");
        Participant actor = s.actor();
        List<Participant> clients = s.clients();
        Path set = FEDAVG.resolve("mlp");
        UUID model = s.model();
        String training = s.training();

        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        for (int i = 0; i < 3; i++) {
            assertEquals(201, driver.uploadUpdate(clients.get(i), model, 0, set.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]).status());
        }
        TrainingDriver.awaitAll(clients, "SWAG_ROUND_START", 1);
        JsonObject swagRound = driver.trainingJson(actor, training);
        assertEquals("S", swagRound.getString("state"));
        assertArrayEquals(Files.readAllBytes(set.resolve("expected.torchscript.pt")), driver.download(actor, model));

        int parameters = TrainingDriver.floatingParameters(set.resolve("client0.torchscript.pt"));
        List<float[]> firsts = new ArrayList<>();
        List<float[]> seconds = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] first = TrainingDriver.firstMoment(parameters, i);
            float[] second = TrainingDriver.secondMoment(first, i);
            firsts.add(first);
            seconds.add(second);
            Reply r = driver.uploadMoments(clients.get(i), model, 1, first, second, SIZES[i]);
            assertEquals(201, r.status(), r.toString());
        }
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
        assertEquals("O", driver.trainingJson(actor, training).getString("state"));
        driver.reportMetrics(clients, model, "0.8");
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        assertEquals("C", driver.trainingJson(actor, training).getString("state"));
        for (Participant c : clients) {
            assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "SWAG_ROUND_START:1",
                    "MODEL_TEST_ROUND:1", "TRAINING_FINISHED"),
                    c.endpoint().labels(), () -> TrainingDriver.notificationRows(training));
        }
        JsonArray history = driver.provenance(actor, training);
        assertEquals(2, history.size());
        JsonArray swag = history.getJsonObject(1).getJsonArray("swag_updates");
        assertEquals(List.of(10, 30, 60), swag.stream().map(u -> u.asJsonObject().getInt("sample_size")).toList());

        // the stored moments are the sample-size-weighted means
        String[] moments = TrainingDriver.stringColumns("SELECT swag_first_moment_sha256, swag_second_moment_sha256, model_type"
                + " FROM model WHERE id = ?", model.toString(), 3);
        assertEquals("SWAG", moments[2]);
        TrainingDriver.assertMomentMean(TrainingDriver.dataFile(moments[0]), firsts, SIZES);
        TrainingDriver.assertMomentMean(TrainingDriver.dataFile(moments[1]), seconds, SIZES);
    }

    // ---------------------------------------------------------------------------------------------
    // C. Failures

    @Test
    void aClientThatRejectsARoundNotificationIsRemovedAndTheRoundCompletesWithTheOthers() throws Exception {
        // FedProx: the server aggregates it like FedAvg (the proximal term lives in the clients' training)
        Started s = started(1, "FedProx", null, "{}", c -> c.get(2).endpoint().answerWith(500), "c0", "c1",
                "rejecting");
        Participant actor = s.actor();
        List<Participant> clients = s.clients();
        Path set = FEDAVG.resolve("mlp");
        UUID model = s.model();
        String training = s.training();

        clients.get(2).endpoint().await("UPDATE_ROUND_START", 0, WAIT);
        TrainingDriver.awaitCondition(() -> driver.trainingJson(actor, training).getJsonArray("participants").size() == 2,
                "the rejecting client is removed");
        List<Participant> remaining = clients.subList(0, 2);
        TrainingDriver.awaitAll(remaining, "UPDATE_ROUND_START", 0);
        for (int i = 0; i < 2; i++) {
            assertEquals(201, driver.uploadUpdate(remaining.get(i), model, 0, set.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]).status());
        }
        TrainingDriver.awaitAll(remaining, "MODEL_TEST_ROUND", 1);
        driver.reportMetrics(remaining, model, "0.6");
        TrainingDriver.awaitAll(remaining, "TRAINING_FINISHED", -1);
        assertEquals("C", driver.trainingJson(actor, training).getString("state"));
        Path result = Files.createTempFile("two", ".pt");
        Files.write(result, driver.download(actor, model));
        TrainingDriver.assertWeightedMean(result, List.of(set.resolve("client0.torchscript.pt"),
                set.resolve("client1.torchscript.pt")), new int[]{10, 30});
        // the removed client hears nothing more
        assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0"), clients.get(2).endpoint().labels());
    }

    @Test
    void anUnreachableParticipantPutsTheTrainingIntoE() throws Exception {
        Participant actor = driver.participant("actor");
        Participant reachable = driver.participant("c0");
        SimulatedClient closed = new SimulatedClient();
        String deadEndpoint = closed.endpoint();
        closed.close(); // nothing listens there any more
        Account unreachable = driver.api.createUser("unreachable", deadEndpoint);
        UUID model = driver.uploadGlobal(actor.account(), FEDAVG.resolve("mlp").resolve("client0.torchscript.pt"));
        String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null, "{}",
                List.of(reachable, new Participant(unreachable, null)));
        driver.start(actor.account(), training);
        TrainingDriver.awaitCondition(() -> driver.trainingJson(actor, training).getString("state").equals("E"),
                "the training goes to E after the retries");
        reachable.endpoint().await("UPDATE_ROUND_START", 0, WAIT);
        Reply late = driver.uploadUpdate(reachable, model, 0, FEDAVG.resolve("mlp").resolve("client0.torchscript.pt"), 5);
        assertEquals(400, late.status(), late.toString());
        assertEquals("E", driver.trainingJson(actor, training).getString("state"));
    }

    @Test
    void duplicateForeignAndHostileUpdatesAreRefusedAndConcurrentLastUploadsAggregateOnce() throws Exception {
        Started s = started(1, "FedAvg", null, "{}");
        Participant actor = s.actor();
        List<Participant> clients = s.clients();
        Path set = FEDAVG.resolve("mlp");
        UUID model = s.model();
        String training = s.training();
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);

        assertEquals(201, driver.uploadUpdate(clients.get(0), model, 0, set.resolve("client0.torchscript.pt"), 10).status());
        // a second update for the same round: 409, never counted
        Reply duplicate = driver.uploadUpdate(clients.get(0), model, 0, set.resolve("client1.torchscript.pt"), 99);
        assertEquals(409, duplicate.status(), duplicate.toString());
        // another architecture: 400 naming what differs; the training goes on
        Reply foreign = driver.uploadUpdate(clients.get(1), model, 0,
                FEDAVG.resolve("cnn_bn").resolve("client1.torchscript.pt"), 30);
        assertEquals(400, foreign.status(), foreign.toString());
        assertFalse(foreign.body().isBlank());
        // a hostile file: 400, nothing else changes
        Path hostile = FEDAVG.getParent().resolve("hostile").resolve("os_system.pt");
        Reply refused = driver.uploadUpdate(clients.get(1), model, 0, hostile, 30);
        assertEquals(400, refused.status(), refused.toString());
        assertEquals(1, TrainingDriver.count("SELECT COUNT(*) FROM model WHERE base_model_id = ?", model.toString()));
        JsonObject still = driver.trainingJson(actor, training);
        assertEquals("O", still.getString("state"));
        assertFalse(still.getBoolean("locked"));
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", training));

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
                return driver.uploadUpdate(clients.get(c), model, 0, set.resolve("client" + c + ".torchscript.pt"),
                        SIZES[c]);
            }));
        }
        go.countDown();
        for (CompletableFuture<Reply> f : last) {
            assertEquals(201, f.get().status(), f.get().toString());
        }
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
        assertEquals(1, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", training));
        JsonArray history = driver.provenance(actor, training);
        assertEquals(2, history.size());
        assertEquals(3, history.getJsonObject(1).getJsonArray("updates").size(), "the duplicate never counted");
        for (Participant c : clients) {
            assertEquals(1, c.endpoint().received().stream().filter(r -> r.type().equals("MODEL_TEST_ROUND")).count());
        }
    }

}
