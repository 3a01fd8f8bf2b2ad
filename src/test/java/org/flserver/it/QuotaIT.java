package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The per-user limits on trainings and models ({@code fl.quota.max-trainings-per-user},
 * {@code fl.quota.max-models-per-user}) and the per-model limits on metrics
 * ({@code fl.metrics.max-per-model}, {@code fl.metrics.max-binary-bytes-per-model}), on a server of
 * its own with small limits (PostgreSQL, a schema of its own): what is over a limit is a 403 that
 * says why and stores nothing, a deletion makes room again, other users are not affected, and
 * concurrent creations never get past the limit together (they take the user's row lock).
 */
@OwnServers
class QuotaIT {

    private static final String TRAININGS_FULL = "You have 2 trainings, the most a user may have on this server"
            + " (fl.quota.max-trainings-per-user). Delete one to create another.";
    private static final String MODELS_FULL = "You have 3 models, the most a user may have on this server"
            + " (fl.quota.max-models-per-user). Delete one to upload another.";

    @Test
    void trainingsAndModelsStopAtTheirLimitsPerUser() throws Exception {
        Path work = Files.createDirectories(Path.of("target", "it", "quota").toAbsolutePath());
        List<String> properties = new ArrayList<>(IntegrationEnvironment.serverProperties(work.resolve("data")));
        properties.add("-Dfl.db.url=" + IntegrationEnvironment.newSchema("quota")); // a later -D wins
        properties.add("-Dfl.quota.max-trainings-per-user=2");
        properties.add("-Dfl.quota.max-models-per-user=3");
        properties.add("-Dfl.metrics.max-per-model=4");
        properties.add("-Dfl.metrics.max-binary-bytes-per-model=10");
        try (PayaraMicroProcess server = IntegrationEnvironment.startOwnServer(work, properties, "quota")) {
            ApiClient api = new ApiClient(server.baseUrl());
            Account alice = api.createUser("quota-a");
            Account bob = api.createUser("quota-b");

            List<String> models = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                models.add(upload(api, alice).json().getString("model_id"));
            }
            Reply fourth = upload(api, alice);
            assertEquals(403, fourth.status(), fourth.toString());
            assertEquals(MODELS_FULL, fourth.detail());
            Reply mean = api.postJson("/api/models/", alice, "{\"name\": \"m\", \"description\": \"d\", \"type\": \"MEAN\","
                    + " \"models\": [\"" + models.get(0) + "\", \"" + models.get(1) + "\"]}");
            assertEquals(403, mean.status(), mean.toString());
            assertEquals(MODELS_FULL, mean.detail());
            assertEquals(3, api.get("/api/models/", alice).array().size(), "nothing stored over the limit");
            String bobs = upload(api, bob).json().getString("model_id");
            metricsKeptPerModel(api, alice, models.get(0), bob, bobs);

            assertEquals(201, training(api, alice, models.get(0)).status());
            String second = training(api, alice, models.get(1)).json().getString("training_id");
            Reply third = training(api, alice, models.get(2));
            assertEquals(403, third.status(), third.toString());
            assertEquals(TRAININGS_FULL, third.detail());
            assertEquals(2, api.get("/api/trainings/", alice).array().size(), "nothing stored over the limit");

            // a deletion makes room; a training on a model that has one gets a copy of it, never refused
            assertEquals(200, api.send("DELETE", "/api/trainings/" + second + "/", alice.tokenHeader(), null,
                    (String) null).status());
            Reply again = training(api, alice, models.get(0));
            assertEquals(201, again.status(), again.toString());
            assertEquals(4, api.get("/api/models/", alice).array().size(), "the copy is the fourth model");
            assertEquals(403, upload(api, alice).status());
            Reply deleted = api.send("DELETE", "/api/models/" + models.get(2) + "/", alice.tokenHeader(), null,
                    (String) null);
            assertTrue(deleted.status() < 300, deleted.toString());
            assertEquals(403, upload(api, alice).status(), "still 3 models: the copy counts");

            // nine creations at once on three models (a model's own lock serialises only those on
            // it) with room for two: exactly two are stored
            Account carol = api.createUser("quota-c");
            List<String> carols = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                carols.add(upload(api, carol).json().getString("model_id"));
            }
            ExecutorService pool = Executors.newFixedThreadPool(9);
            try {
                List<Callable<Reply>> tries = new ArrayList<>();
                for (int i = 0; i < 9; i++) {
                    String model = carols.get(i % 3);
                    tries.add(() -> training(api, carol, model));
                }
                int created = 0;
                for (Future<Reply> f : pool.invokeAll(tries)) {
                    Reply r = f.get();
                    assertTrue(r.status() == 201 || r.status() == 403, r.toString());
                    created += r.status() == 201 ? 1 : 0;
                }
                assertEquals(2, created);
            } finally {
                pool.shutdownNow();
            }
            assertEquals(2, api.get("/api/trainings/", carol).array().size());
        }
    }

    /**
     * A model keeps at most 4 metrics and 10 bytes of values that are no number: a report that
     * would go beyond is a 403 and stores none of its values.
     */
    private static void metricsKeptPerModel(ApiClient api, Account alice, String model, Account bob, String bobs) {
        assertEquals(201, report(api, alice, model, "a=1&a=2&a=3").status());
        Reply over = report(api, alice, model, "a=4&a=5");
        assertEquals(403, over.status(), over.toString());
        assertEquals("Model " + model + " has 3 metrics; it keeps at most 4 (fl.metrics.max-per-model).", over.detail());
        assertEquals(201, report(api, alice, model, "a=4").status());
        assertEquals(4, api.get("/api/models/" + model + "/metrics/", alice).array().size());

        Reply big = report(api, bob, bobs, "t=hello+world!");
        assertEquals(403, big.status(), big.toString());
        assertEquals("Model " + bobs + " has 0 bytes of metric values that are no number; it keeps at most 10"
                + " (fl.metrics.max-binary-bytes-per-model).", big.detail());
        assertEquals(201, report(api, bob, bobs, "t=hello&n=1.5").status());
        assertEquals(201, report(api, bob, bobs, "t=hello").status());
        assertEquals(403, report(api, bob, bobs, "t=x").status());
        assertEquals(201, report(api, bob, bobs, "n=2").status(), "numbers take no bytes of that limit");
        assertEquals(4, api.get("/api/models/" + bobs + "/metrics/", bob).array().size());
    }

    /** Reports name=value pairs (a url-encoded query's form) for the model, as the DLR client does. */
    private static Reply report(ApiClient api, Account as, String model, String pairs) {
        StringBuilder body = new StringBuilder();
        for (String pair : pairs.split("&")) {
            String[] nv = pair.split("=", 2);
            body.append(body.length() == 0 ? "" : "&").append("metric_names=").append(nv[0])
                    .append("&metric_values=").append(nv[1]);
        }
        return api.send("POST", "/api/models/" + model + "/metrics/", as.tokenHeader(),
                "application/x-www-form-urlencoded", body.toString());
    }

    private static Reply upload(ApiClient api, Account owner) {
        return ModelTesting.postModel(api, owner, new Multipart().field("name", "q").field("description", "d")
                .file("model_file", "mlp.pt", ModelTesting.fixture("models/mlp.torchscript.pt")));
    }

    private static Reply training(ApiClient api, Account actor, String model) {
        return api.postJson("/api/trainings/", actor, "{\"model_id\": \"" + model + "\", \"target_num_updates\": 1,"
                + " \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\"}");
    }
}
