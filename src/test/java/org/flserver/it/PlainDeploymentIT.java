package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The WAR on a plain Payara Micro, as an operator starts it with nothing configured
 * ({@code java -jar payara-micro.jar --deploy fl-server.war}; only a free port and no clustering are
 * added for the test): it serves the API at the root context on the embedded H2 database under
 * {@code ./fl-data}, and what it stored is still there after a restart. Started so, Payara refuses
 * an HTTP/1.1 DELETE or GET that carries a body; restarted with the README's one pre-boot command
 * file ({@code --prebootcommandfile}), the same requests reach the application.
 */
@OwnServers
class PlainDeploymentIT {

    @Test
    void servesTheApiOnTheEmbeddedDatabaseAndKeepsItsDataAcrossARestart() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "plain-deploy");
        Account account;
        String daisyId;
        try (PayaraMicroProcess first = PayaraMicroProcess.start(dir, List.of(), List.of(), dir.resolve("first.log"))) {
            ApiClient api = new ApiClient(first.baseUrl());
            Reply health = api.send("GET", "/health/ready", null, null, (String) null);
            assertTrue(health.body().contains("H2"), health.body());
            account = api.createUser("plain");
            Reply me = api.send("GET", "/api/users/myself/", account.basicHeader(), null, (String) null);
            assertEquals(200, me.status(), me.toString());
            assertEquals(account.username(), me.json().getString("username"));

            // without the TorchScript runtime configured (fl.inference.runtime-dir), inference says how to enable it
            byte[] weights = Files.readAllBytes(Path.of(System.getProperty("fl.fixtures"), "models",
                    "mlp.torchscript.pt"));
            Multipart form = new Multipart().field("name", "plain").field("description", "plain")
                    .file("model_file", "mlp.pt", weights);
            Reply model = api.sendBytes("POST", "/api/models/", account.tokenHeader(), form.contentType(), form.bytes());
            assertEquals(201, model.status(), model.toString());
            String modelId = model.json().getString("model_id");
            Reply training = api.postJson("/api/trainings/", account, "{\"model_id\": \"" + modelId + "\","
                    + " \"target_num_updates\": 1, \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\"}");
            assertEquals(201, training.status(), training.toString());
            // the model list (one query, the trainings in a subquery) on the embedded database: the
            // owner and a participant see the model, a stranger does not
            Account participant = api.createUser("plain-part");
            Account stranger = api.createUser("plain-x");
            assertEquals(202, api.send("PUT", "/api/trainings/" + training.json().getString("training_id") + "/clients/",
                    account.tokenHeader(), "application/json", "{\"clients\": [\"" + participant.id() + "\"]}").status());
            assertEquals(Set.of(modelId), ModelTesting.ids(api.get("/api/models/", account).array()));
            assertEquals(Set.of(modelId), ModelTesting.ids(api.get("/api/models/", participant).array()));
            assertEquals(Set.of(), ModelTesting.ids(api.get("/api/models/", stranger).array()));
            // the seed's daisy-chain rule (TrainingListener) on the embedded database, without a warning
            Reply daisy = api.postJson("/api/trainings/", account, "{\"model_id\": \"" + modelId + "\","
                    + " \"target_num_updates\": 3, \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\","
                    + " \"options\": {\"daisy_chain_period\": 4}}");
            assertEquals(201, daisy.status(), daisy.toString());
            daisyId = daisy.json().getString("training_id");
            assertEquals(12, api.get("/api/trainings/" + daisyId + "/", account).json().getInt("target_num_updates"));
            Reply inference = api.postJson("/api/inference/", account, "{\"model_id\": \"" + modelId + "\","
                    + " \"model_input\": [[0, 0, 0, 0, 0, 0, 0, 0]]}");
            assertEquals(503, inference.status(), inference.toString());
            assertTrue(inference.detail().contains("Inference is not enabled on this server"), inference.toString());
            assertTrue(inference.detail().contains("README"), inference.toString());

            RequestBodies.areRefusedByPayara(api);
        }
        assertTrue(Files.isDirectory(dir.resolve("fl-data")), "the embedded database lives in ./fl-data");
        assertFalse(Files.readString(dir.resolve("first.log")).contains("already flushing"),
                "EclipseLink's warning about a query during its flush (TrainingTargetWriter)");
        // the schema upgrade of the new database ran with its backup (H2SchemaUpgrade), which is gone again
        assertTrue(Files.readString(dir.resolve("first.log")).contains("holds the database as it was"),
                "the upgrade's backup is announced in the log");
        assertFalse(Files.exists(dir.resolve("fl-data").resolve("db").resolve("fl.before-upgrade.sql")),
                "the upgrade's backup is deleted after the upgrade");
        try (PayaraMicroProcess second = PayaraMicroProcess.start(dir, List.of(), IntegrationEnvironment.preBootOptions(),
                dir.resolve("second.log"))) {
            ApiClient api = new ApiClient(second.baseUrl());
            Reply me = api.send("GET", "/api/users/myself/", account.basicHeader(), null, (String) null);
            assertEquals(200, me.status(), "user survives a restart: " + me);
            assertEquals(200, api.send("GET", "/api/users/myself/", account.tokenHeader(), null, (String) null).status());
            assertEquals(12, api.get("/api/trainings/" + daisyId + "/", account).json().getInt("target_num_updates"),
                    "the rewritten target survives a restart");

            RequestBodies.reachTheApplication(api);
        }
        assertFalse(Files.readString(dir.resolve("second.log")).contains("holds the database as it was"),
                "a start without pending migrations takes no backup");
    }
}
