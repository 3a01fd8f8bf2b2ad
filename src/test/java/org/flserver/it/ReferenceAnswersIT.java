package org.flserver.it;

import static org.flserver.it.ModelTesting.assertDetail;
import static org.flserver.it.ModelTesting.assertList;
import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import java.util.List;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * Answers that clients of the reference server may depend on, over HTTP/1.1: the order of a
 * training's participants, DRF's wording for missing fields, the 400s (not 415s) of multipart
 * routes sent something else, and inference's message for a missing model id.
 */
class ReferenceAnswersIT {

    private static final String FORM = "application/x-www-form-urlencoded";

    private final ApiClient api = new ApiClient();

    @Test
    void participantsAreListedInTheOrderTheyJoined() {
        Account actor = api.createUser("order");
        List<Account> users = Stream.generate(() -> api.createUser("order-p")).limit(5).toList();
        String model = ModelTesting.uploadFixture(api, actor, "models/mlp.torchscript.pt");
        // created with three of them in an order unrelated to their ids, then two more one by one
        List<String> joined = new java.util.ArrayList<>(List.of(id(users.get(3)), id(users.get(0)), id(users.get(4))));
        Reply created = api.postJson("/api/trainings/", actor, "{\"model_id\": \"" + model + "\","
                + " \"target_num_updates\": 1, \"metric_names\": [], \"aggregation_method\": \"FedAvg\","
                + " \"clients\": [\"" + String.join("\", \"", joined) + "\"]}");
        assertEquals(201, created.status(), created.toString());
        String training = "/api/trainings/" + created.json().getString("training_id") + "/";
        for (int i : new int[] {2, 1}) {
            assertEquals(202, clients("PUT", training, actor, id(users.get(i))).status());
            joined.add(id(users.get(i)));
        }
        // registering someone again changes nothing
        assertEquals(202, clients("PUT", training, actor, id(users.get(3))).status());
        assertParticipants(actor, training, joined);
    }

    @Test
    void groupsAnswerWithDrfWording() {
        Account a = api.createUser("drf");
        assertBody(api.postJson("/api/groups/", a, "{}"), 400, "{\"name\":[\"This field is required.\"]}");
        assertBody(api.postJson("/api/groups/", a, "{\"name\": null}"), 400,
                "{\"name\":[\"This field may not be null.\"]}");
        assertBody(api.send("POST", "/api/groups/", a.tokenHeader(), FORM, "other=1"), 400,
                "{\"name\":[\"This field is required.\"]}");
        assertBody(api.postJson("/api/groups/", a, "{\"name\": \"" + "g".repeat(151) + "\"}"), 400,
                "{\"name\":[\"Ensure this field has no more than 150 characters.\"]}");
        // a serializer ignores keys it does not know
        String name = ApiClient.uniqueName("drf");
        Reply created = api.postJson("/api/groups/", a, "{\"name\": \"" + name + "\", \"colour\": \"red\"}");
        assertEquals(201, created.status(), created.toString());
        assertEquals(name, created.json().getString("name"));
        // ... takes a number as text, and refuses other types with the same message as marshmallow
        long number = System.nanoTime();
        Reply numbered = api.postJson("/api/groups/", a, "{\"name\": " + number + "}");
        assertEquals(201, numbered.status(), numbered.toString());
        assertEquals(Long.toString(number), numbered.json().getString("name"));
        assertBody(api.postJson("/api/groups/", a, "{\"name\": [\"x\"]}"), 400,
                "{\"name\":[\"Not a valid string.\"]}");
        // users: the same wording
        assertBody(api.send("POST", "/api/users/", null, "application/json",
                "{\"username\": \"" + ApiClient.uniqueName("nopw") + "\"}"), 400,
                "{\"password\":[\"This field is required.\"]}");
    }

    @Test
    void multipartRoutesSentAnotherBodyAnswerTheReferencesMissingFieldOrFile() {
        Account owner = api.createUser("nomp");
        String noFile = "No uploaded file 'model_file' found.";
        // a model upload as a url-encoded form, or JSON, or without a body type: no file
        assertDetail(api.send("POST", "/api/models/", owner.tokenHeader(), FORM, "name=n&description=d"), 400, noFile);
        assertDetail(api.postJson("/api/models/", owner, "{\"name\": \"n\", \"description\": \"d\"}"), 400, noFile);
        // ... and the missing fields come first, as in the reference
        assertList(api.send("POST", "/api/models/", owner.tokenHeader(), FORM, "description=d"),
                "Missing required field: name");
        assertList(api.send("POST", "/api/models/", owner.tokenHeader(), null, (String) null),
                "Missing required field: name");
        assertEquals(0, api.get("/api/models/", owner).array().size());

        // a local update: round and sample size first (the reference's KeyError text), then the file
        String model = ModelTesting.uploadFixture(api, owner, "models/mlp.torchscript.pt");
        String update = "/api/models/" + model + "/";
        assertDetail(api.send("POST", update, owner.tokenHeader(), FORM, "round=0&sample_size=10"), 400, noFile);
        assertDetail(api.postJson(update, owner, "{\"round\": 0, \"sample_size\": 10}"), 400, "'round'");
        assertDetail(api.send("POST", update, owner.tokenHeader(), null, (String) null), 400, "'round'");
        assertDetail(api.send("POST", update, owner.tokenHeader(), FORM, "round=0"), 400, "'sample_size'");
        // SWAG statistics and preprocessing alike
        assertDetail(api.send("POST", update + "swag/", owner.tokenHeader(), FORM, "round=0&sample_size=10"), 400,
                "No uploaded file 'first_moment_file' found.");
        assertDetail(api.send("POST", update + "preprocessing/", owner.tokenHeader(), FORM, "x=1"), 400,
                "No uploaded file 'model_preprocessing_file' found.");
        assertDetail(api.postJson(update + "preprocessing/", owner, "{}"), 400,
                "No uploaded file 'model_preprocessing_file' found.");
    }

    @Test
    void inferenceWithoutModelIdSaysSoAsTheReference() {
        Account a = api.createUser("inf-id");
        assertBody(api.postJson("/api/inference/", a, "{\"model_input\": [[1.0, 2.0]]}"), 400,
                "[\"No 'model_id' provided in request.\"]");
        Multipart form = new Multipart().field("model_input", "[[1.0, 2.0]]");
        assertBody(api.sendBytes("POST", "/api/inference/", a.tokenHeader(), form.contentType(), form.bytes()), 400,
                "[\"No 'model_id' provided in request.\"]");
    }

    private Reply clients(String method, String training, Account actor, String user) {
        return api.send(method, training + "clients/", actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + user + "\"]}");
    }

    /** Every listing of the training shows the participants in {@code expected} order, read after read. */
    private void assertParticipants(Account actor, String training, List<String> expected) {
        for (int read = 0; read < 3; read++) {
            assertEquals(expected, ids(api.get(training, actor).json().getJsonArray("participants")));
            String id = api.get(training, actor).json().getString("id");
            for (String listing : List.of("/api/trainings/", "/api/users/trainings/")) {
                JsonObject listed = api.get(listing, actor).array().getValuesAs(JsonObject.class).stream()
                        .filter(t -> t.getString("id").equals(id)).findFirst().orElseThrow();
                assertEquals(expected, ids(listed.getJsonArray("participants")), listing);
            }
        }
    }

    private static List<String> ids(JsonArray array) {
        return array.getValuesAs(JsonString.class).stream().map(JsonString::getString).toList();
    }

    private static String id(Account a) {
        return a.id().toString();
    }

    /** Status and the exact JSON body (compared as parsed JSON, whatever the spacing). */
    private static void assertBody(Reply r, int status, String json) {
        assertEquals(status, r.status(), r.toString());
        try (var reader = jakarta.json.Json.createReader(new java.io.StringReader(json))) {
            assertEquals(reader.read(), r.body().startsWith("[") ? r.array() : r.json(), r.toString());
        }
    }
}
