package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;

/**
 * The HTTP/1.1 requests with a body on a method that does not define one, for the servers a test
 * starts the way an operator would (PlainDeploymentIT, RunCommandIT): removing a training's
 * participants with {@code DELETE} and a JSON body (the DLR API's way), and a GET with a body. Without
 * the listener setting of the README ("Deploying the WAR elsewhere") Payara answers both with an
 * empty 400 before the application runs.
 */
final class RequestBodies {

    private RequestBodies() {
    }

    /** Both requests reach the application and get its answers. */
    static void reachTheApplication(ApiClient api) throws IOException {
        Account actor = api.createUser("bodies");
        Account participant = api.createUser("bodies-p");
        String training = training(api, actor);
        String clients = "/api/trainings/" + training + "/clients/";
        String both = "{\"clients\": [\"" + actor.id() + "\", \"" + participant.id() + "\"]}";
        Reply added = api.send("PUT", clients, actor.tokenHeader(), "application/json", both);
        assertEquals(202, added.status(), added.toString());
        Reply removed = api.send("DELETE", clients, actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + participant.id() + "\"]}");
        assertEquals("200 {\"detail\":\"Users removed from training participants!\"}", removed.toString());
        Reply read = api.send("GET", "/api/trainings/" + training + "/", actor.tokenHeader(), "application/json",
                "{\"ignored\": true}");
        assertEquals(200, read.status(), read.toString());
        assertEquals(1, read.json().getJsonArray("participants").size(), read.toString());
        assertEquals(actor.id().toString(), read.json().getJsonArray("participants").getString(0));
    }

    /** Both requests are refused by Payara itself: an empty 400, nothing of the application's. */
    static void areRefusedByPayara(ApiClient api) throws IOException {
        Account actor = api.createUser("nobodies");
        String training = training(api, actor);
        Reply removed = api.send("DELETE", "/api/trainings/" + training + "/clients/", actor.tokenHeader(),
                "application/json", "{\"clients\": [\"" + actor.id() + "\"]}");
        assertEquals("400 ", removed.toString());
        Reply read = api.send("GET", "/api/trainings/" + training + "/", actor.tokenHeader(), "application/json",
                "{\"ignored\": true}");
        assertEquals("400 ", read.toString());
    }

    private static String training(ApiClient api, Account actor) throws IOException {
        byte[] weights = Files.readAllBytes(Path.of(System.getProperty("fl.fixtures"), "models", "mlp.torchscript.pt"));
        Multipart form = new Multipart().field("name", "bodies").field("description", "bodies")
                .file("model_file", "mlp.pt", weights);
        Reply model = api.sendBytes("POST", "/api/models/", actor.tokenHeader(), form.contentType(), form.bytes());
        assertEquals(201, model.status(), model.toString());
        Reply training = api.postJson("/api/trainings/", actor, "{\"model_id\": \""
                + model.json().getString("model_id") + "\", \"target_num_updates\": 1,"
                + " \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\"}");
        assertEquals(201, training.status(), training.toString());
        return training.json().getString("training_id");
    }
}
