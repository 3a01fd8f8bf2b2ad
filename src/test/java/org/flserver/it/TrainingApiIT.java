package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonStructure;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The trainings API (api.md §6, §13, §15.2) over HTTP against the shared server on PostgreSQL:
 * every route with its success status and body, the daisy-chain target and model cloning read
 * back from the database, the permission refusals and the exact 4xx bodies for bad input.
 */
class TrainingApiIT {

    private static final String NO_PERMISSION = "You do not have permission to perform this action.";

    private static final Path MODEL_FILE = Path.of(System.getProperty("fl.fixtures"), "models", "mlp.torchscript.pt");

    private final ApiClient api = new ApiClient();

    @Test
    void createdTrainingIsReadableByActorAndParticipantsOnly() throws Exception {
        Account actor = api.createUser("actor");
        Account participant = api.createUser("part");
        Account stranger = api.createUser("stranger");
        UUID model = newModel(actor);
        Reply created = api.postJson("/api/trainings/", actor, "{\"model_id\": \"" + model + "\","
                + " \"target_num_updates\": 3, \"metric_names\": [\"accuracy\", \"f1\"],"
                + " \"aggregation_method\": \"FedProx\", \"uncertainty_method\": \"MC_DROPOUT\","
                + " \"options\": {\"uncertainty\": {\"N\": 10, \"softmax\": true}, \"note\": [1, \"a\"]},"
                + " \"clients\": [\"" + participant.id() + "\"]}");
        assertEquals(201, created.status(), created.toString());
        assertEquals(Set.of("detail", "training_id"), created.json().keySet());
        assertEquals("Training created successfully!", created.detail());
        String id = created.json().getString("training_id");

        Reply read = api.get("/api/trainings/" + id + "/", actor);
        assertEquals(200, read.status(), read.toString());
        JsonObject t = read.json();
        assertEquals(Set.of("id", "state", "target_num_updates", "last_update", "uncertainty_method",
                "aggregation_method", "options", "locked", "model", "actor", "participants",
                "local_models_arrived", "local_models_expected"), t.keySet());
        assertEquals(id, t.getString("id"));
        assertEquals("I", t.getString("state"));
        assertEquals(3, t.getInt("target_num_updates"));
        assertTrue(t.getString("last_update").matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)"), t.getString("last_update"));
        assertEquals("MC_DROPOUT", t.getString("uncertainty_method"));
        assertEquals("FedProx", t.getString("aggregation_method"));
        assertEquals(json("{\"uncertainty\": {\"N\": 10, \"softmax\": true}, \"note\": [1, \"a\"]}"),
                t.getJsonObject("options"));
        assertFalse(t.getBoolean("locked"));
        assertEquals(model.toString(), t.getString("model"));
        assertEquals(actor.id().toString(), t.getString("actor"));
        assertEquals(List.of(participant.id().toString()), strings(t.getJsonArray("participants")));
        assertEquals(0, t.getInt("local_models_arrived"));
        assertEquals(1, t.getInt("local_models_expected"));

        assertEquals(200, api.get("/api/trainings/" + id + "/", participant).status());
        assertBody(api.get("/api/trainings/" + id + "/", stranger), 403, detail(NO_PERMISSION));
        assertEquals(401, api.get("/api/trainings/" + id + "/", null).status());
        assertEquals(200, api.get("/api/trainings/" + id, actor).status());
    }

    @Test
    void listingsShowActorTrainingsAndMemberTrainings() throws Exception {
        Account actor = api.createUser("actor");
        Account participant = api.createUser("part");
        Account stranger = api.createUser("stranger");
        String id = createTraining(actor, newModel(actor), 2, null, participant);

        Reply mine = api.get("/api/trainings/", actor);
        assertEquals(200, mine.status(), mine.toString());
        assertEquals(List.of(id), ids(mine.array()));
        JsonObject listed = mine.array().getJsonObject(0);
        assertEquals(Set.of("id", "state", "target_num_updates", "last_update", "uncertainty_method",
                "aggregation_method", "options", "locked", "model", "actor", "participants"), listed.keySet());
        assertEquals(JsonValue.EMPTY_JSON_OBJECT, listed.getJsonObject("options"));
        assertEquals(List.of(), ids(api.get("/api/trainings/", participant).array()));

        // the participant's own training (as actor) and the one it takes part in, each once
        String own = createTraining(participant, newModel(participant), 1, null, participant);
        Reply ofParticipant = api.get("/api/users/trainings/", participant);
        assertEquals(200, ofParticipant.status(), ofParticipant.toString());
        assertEquals(Set.of(id, own), Set.copyOf(ids(ofParticipant.array())));
        assertEquals(2, ofParticipant.array().size());
        assertEquals(Set.of("id", "state", "target_num_updates", "last_update", "uncertainty_method",
                "aggregation_method", "options", "locked", "model", "actor", "participants"),
                ofParticipant.array().getJsonObject(0).keySet());
        assertEquals(List.of(id), ids(api.get("/api/users/trainings/", actor).array()));
        assertEquals(List.of(), ids(api.get("/api/users/trainings/", stranger).array()));
    }

    @Test
    void daisyChainPeriodMultipliesTheTargetOnce() throws Exception {
        Account actor = api.createUser("daisy");
        UUID model = newModel(actor);
        String chained = createTraining(actor, model, 3, "{\"daisy_chain_period\": 4}");
        assertEquals(12, api.get("/api/trainings/" + chained + "/", actor).json().getInt("target_num_updates"));
        assertEquals("12", sql("SELECT target_num_updates::text FROM training WHERE id = ?::uuid", chained));

        String zero = createTraining(actor, newModel(actor), 3, "{\"daisy_chain_period\": 0}");
        assertEquals(3, api.get("/api/trainings/" + zero + "/", actor).json().getInt("target_num_updates"));
        assertEquals("3", sql("SELECT target_num_updates::text FROM training WHERE id = ?::uuid", zero));
        String absent = createTraining(actor, newModel(actor), 3, "{}");
        assertEquals("3", sql("SELECT target_num_updates::text FROM training WHERE id = ?::uuid", absent));

        // a later change of the training (participants) does not multiply again
        Account p = api.createUser("p");
        assertEquals(202, api.send("PUT", "/api/trainings/" + chained + "/clients/", actor.tokenHeader(),
                "application/json", "{\"clients\": [\"" + p.id() + "\"]}").status());
        assertEquals("12", sql("SELECT target_num_updates::text FROM training WHERE id = ?::uuid", chained));

        UUID fresh = newModel(actor);
        for (String period : List.of("\"x\"", "-1", "1.5", "{}")) {
            Reply refused = api.postJson("/api/trainings/", actor, trainingJson(fresh, 3,
                    "{\"daisy_chain_period\": " + period + "}"));
            assertBody(refused, 400, "{\"options\": [\"daisy_chain_period must be a non-negative integer.\"]}");
        }
        Reply overflow = api.postJson("/api/trainings/", actor, trainingJson(fresh, 1 << 30,
                "{\"daisy_chain_period\": 2}"));
        assertEquals(400, overflow.status(), overflow.toString());
        assertTrue(overflow.json().containsKey("options"), overflow.toString());
        Reply huge = api.postJson("/api/trainings/", actor, trainingJson(fresh, 3,
                "{\"note\": \"" + "x".repeat(70_000) + "\"}"));
        assertBody(huge, 400, "{\"options\": [\"At most 65536 characters of JSON.\"]}");
        assertEquals("0", sql("SELECT count(*)::text FROM training WHERE model_id = ?::uuid", fresh.toString()));
    }

    @Test
    void aSecondTrainingOnAModelGetsACopyOfIt() throws Exception {
        Account actor = api.createUser("clone");
        UUID model = newModel(actor);
        String first = createTraining(actor, model, 1, null);
        String second = createTraining(actor, model, 1, null);
        String firstModel = api.get("/api/trainings/" + first + "/", actor).json().getString("model");
        String secondModel = api.get("/api/trainings/" + second + "/", actor).json().getString("model");
        assertEquals(model.toString(), firstModel);
        assertNotEquals(firstModel, secondModel);
        String columns = "SELECT concat_ws('|', model_type, owner_id, round, weights_sha256, weights_size, name,"
                + " description, input_shape) FROM model WHERE id = ?::uuid";
        assertEquals(sql(columns, firstModel), sql(columns, secondModel));
        assertTrue(sql(columns, secondModel).startsWith("GLOBAL|" + actor.id() + "|0|"), sql(columns, secondModel));
        HttpResponse<byte[]> original = api.download("/api/models/" + firstModel + "/", actor);
        HttpResponse<byte[]> copy = api.download("/api/models/" + secondModel + "/", actor);
        assertEquals(200, copy.statusCode());
        assertArrayEquals(Files.readAllBytes(MODEL_FILE), original.body());
        assertArrayEquals(original.body(), copy.body());
        JsonObject metadata = api.get("/api/models/" + secondModel + "/metadata/", actor).json();
        assertEquals("net", metadata.getString("name"));
    }

    @Test
    void participantsAreManagedByTheActorOnly() throws Exception {
        Account actor = api.createUser("actor");
        Account a = api.createUser("a");
        Account b = api.createUser("b");
        String id = createTraining(actor, newModel(actor), 1, null);
        String clients = "/api/trainings/" + id + "/clients/";
        String before = api.get("/api/trainings/" + id + "/", actor).json().getString("last_update");

        Reply added = api.send("PUT", clients, actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + a.id() + "\", \"" + b.id() + "\"]}");
        assertBody(added, 202, detail("Users registered as participants!"));
        Reply again = api.send("PUT", clients, actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + a.id() + "\"]}");
        assertEquals(202, again.status(), again.toString());
        JsonObject t = api.get("/api/trainings/" + id + "/", actor).json();
        assertEquals(Set.of(a.id().toString(), b.id().toString()), Set.copyOf(strings(t.getJsonArray("participants"))));
        assertEquals(2, t.getInt("local_models_expected"));
        assertNotEquals(before, t.getString("last_update"));

        // participants may not manage the list (api.md §15.2), strangers neither
        assertBody(api.send("PUT", clients, a.tokenHeader(), "application/json", "{\"clients\": []}"),
                403, detail(NO_PERMISSION));
        assertBody(api.send("DELETE", clients, a.tokenHeader(), "application/json",
                "{\"clients\": [\"" + b.id() + "\"]}"), 403, detail(NO_PERMISSION));
        Account stranger = api.createUser("stranger");
        assertBody(api.send("PUT", clients, stranger.tokenHeader(), "application/json",
                "{\"clients\": [\"" + stranger.id() + "\"]}"), 403, detail(NO_PERMISSION));

        assertBody(api.send("PUT", clients, actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + a.id() + "\", \"" + UUID.randomUUID() + "\"]}"),
                400, detail("Not all provided users were found!"));
        Reply removed = api.send("DELETE", clients, actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + b.id() + "\", \"" + stranger.id() + "\"]}");
        assertBody(removed, 200, detail("Users removed from training participants!"));
        assertEquals(List.of(a.id().toString()),
                strings(api.get("/api/trainings/" + id + "/", actor).json().getJsonArray("participants")));
        assertEquals("1", sql("SELECT count(*)::text FROM training_participant WHERE training_id = ?::uuid", id));

        assertBody(api.send("PUT", clients, actor.tokenHeader(), "application/json", "{}"),
                400, "{\"clients\": [\"Missing data for required field.\"]}");
        assertBody(api.send("PUT", clients, actor.tokenHeader(), "application/json", "{\"clients\": \"x\"}"),
                400, "{\"clients\": [\"Not a valid list.\"]}");
        assertBody(api.send("DELETE", clients, actor.tokenHeader(), "application/json", "{\"clients\": [1]}"),
                400, "{\"clients\": {\"0\": [\"Not a valid UUID.\"]}}");
        assertBody(api.send("PUT", clients, actor.tokenHeader(), "application/json",
                "{\"clients\": [], \"extra\": 1}"), 400, "{\"extra\": [\"Unknown field.\"]}");
        Reply malformed = api.send("PUT", clients, actor.tokenHeader(), "application/json", "{\"clients\": [");
        assertEquals(400, malformed.status(), malformed.toString());
        assertTrue(malformed.detail().startsWith("JSON parse error"), malformed.toString());
        assertEquals(415, api.send("PUT", clients, actor.tokenHeader(), "text/plain", "clients").status());
    }

    @Test
    void startMovesAnInitialTrainingWithParticipantsToOngoing() throws Exception {
        Account actor = api.createUser("actor");
        Account participant = api.createUser("part");
        String id = createTraining(actor, newModel(actor), 2, null);
        String start = "/api/trainings/" + id + "/start/";

        assertBody(api.postJson(start, actor, null), 400, detail("At least one participant must be registered!"));
        api.send("PUT", "/api/trainings/" + id + "/clients/", actor.tokenHeader(), "application/json",
                "{\"clients\": [\"" + participant.id() + "\"]}");
        assertBody(api.postJson(start, participant, null), 403, detail(NO_PERMISSION));
        assertEquals("I", api.get("/api/trainings/" + id + "/", actor).json().getString("state"));

        // the body is ignored, whatever it is
        assertBody(api.send("POST", start, actor.tokenHeader(), "text/plain", "anything"), 202,
                detail("Training started!"));
        assertEquals("O", api.get("/api/trainings/" + id + "/", participant).json().getString("state"));
        assertEquals("O", sql("SELECT state FROM training WHERE id = ?::uuid", id));
        assertBody(api.postJson(start, actor, null), 400, detail("Training " + id + " is not in state INITIAL!"));
    }

    @Test
    void onlyTheActorDeletesAndTheModelStays() throws Exception {
        Account actor = api.createUser("actor");
        Account participant = api.createUser("part");
        UUID model = newModel(actor);
        String id = createTraining(actor, model, 1, null, participant);

        assertBody(api.send("DELETE", "/api/trainings/" + id + "/", participant.tokenHeader(), null, null),
                403, detail("You are not the owner the training."));
        assertBody(api.send("DELETE", "/api/trainings/" + id + "/", actor.tokenHeader(), null, null),
                200, detail("Training removed!"));
        assertBody(api.get("/api/trainings/" + id + "/", actor), 400, detail("Training " + id + " not found."));
        assertEquals("0", sql("SELECT count(*)::text FROM training WHERE id = ?::uuid", id));
        assertEquals("0", sql("SELECT count(*)::text FROM training_participant WHERE training_id = ?::uuid", id));
        assertEquals("1", sql("SELECT count(*)::text FROM model WHERE id = ?::uuid", model.toString()));
        assertEquals(200, api.get("/api/models/" + model + "/metadata/", actor).status());
        assertBody(api.send("DELETE", "/api/trainings/" + id + "/", actor.tokenHeader(), null, null),
                400, detail("Training " + id + " not found."));
    }

    @Test
    void onlyTheModelOwnerCreatesATraining() throws Exception {
        Account owner = api.createUser("owner");
        Account other = api.createUser("other");
        UUID model = newModel(owner);
        assertBody(api.postJson("/api/trainings/", other, trainingJson(model, 1, null)), 403, detail(NO_PERMISSION));
        UUID unknown = UUID.randomUUID();
        assertBody(api.postJson("/api/trainings/", owner, trainingJson(unknown, 1, null)),
                400, detail("Model " + unknown + " not found."));
        assertEquals("0", sql("SELECT count(*)::text FROM training WHERE model_id = ?::uuid", model.toString()));
    }

    @Test
    void badCreationRequestsGetExactFieldErrorsAndStoreNothing() throws Exception {
        Account actor = api.createUser("bad");
        UUID model = newModel(actor);
        String m = "\"model_id\": \"" + model + "\"";
        String rest = "\"target_num_updates\": 3, \"metric_names\": [\"acc\"], \"aggregation_method\": \"FedAvg\"";

        Reply malformed = api.postJson("/api/trainings/", actor, "{" + m + ",");
        assertEquals(400, malformed.status(), malformed.toString());
        assertTrue(malformed.detail().startsWith("JSON parse error - "), malformed.toString());
        assertBody(api.postJson("/api/trainings/", actor, ""), 400,
                detail("JSON parse error - the request body is empty."));
        assertBody(api.postJson("/api/trainings/", actor, "[]"), 400, "{\"_schema\": [\"Invalid input type.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"foo\": 1}"), 400,
                "{\"foo\": [\"Unknown field.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{}"), 400, "{"
                + "\"model_id\": [\"Missing data for required field.\"],"
                + "\"target_num_updates\": [\"Missing data for required field.\"],"
                + "\"metric_names\": [\"Missing data for required field.\"],"
                + "\"aggregation_method\": [\"Missing data for required field.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + rest + "}"), 400,
                "{\"model_id\": [\"Missing data for required field.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", \"metric_names\": [], "
                + "\"aggregation_method\": \"FedAvg\"}"), 400,
                "{\"target_num_updates\": [\"Missing data for required field.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", \"target_num_updates\": 3, "
                + "\"aggregation_method\": \"FedAvg\"}"), 400,
                "{\"metric_names\": [\"Missing data for required field.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", \"target_num_updates\": 3, "
                + "\"metric_names\": []}"), 400, "{\"aggregation_method\": [\"Missing data for required field.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{\"model_id\": \"nope\", " + rest + "}"), 400,
                "{\"model_id\": [\"Not a valid UUID.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", \"target_num_updates\": \"3\", "
                + "\"metric_names\": [], \"aggregation_method\": \"FedAvg\"}"), 400,
                "{\"target_num_updates\": [\"Not a valid integer.\"]}");
        String range = "{\"target_num_updates\": [\"Must be greater than or equal to 0 and less than or equal to "
                + "2147483647.\"]}";
        for (String target : List.of("2147483648", "-1", "99999999999999999999999")) {
            assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", \"target_num_updates\": " + target
                    + ", \"metric_names\": [], \"aggregation_method\": \"FedAvg\"}"), 400, range);
        }
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"clients\": \"abc\"}"), 400,
                "{\"clients\": [\"Not a valid list.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"clients\": [\""
                + actor.id() + "\", \"xyz\"]}"), 400, "{\"clients\": {\"1\": [\"Not a valid UUID.\"]}}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"clients\": [\"abc\"]}"),
                400, "{\"clients\": {\"0\": [\"Not a valid UUID.\"]}}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", \"target_num_updates\": 3, "
                + "\"metric_names\": [], \"aggregation_method\": \"fedavg\"}"), 400,
                "{\"aggregation_method\": [\"Must be one of: FedAvg, FedDC, FedProx.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"uncertainty_method\": "
                + "\"none\"}"), 400,
                "{\"uncertainty_method\": [\"Must be one of: NONE, ENSEMBLE, MC_DROPOUT, SWAG.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"options\": [1]}"), 400,
                "{\"options\": [\"Not a valid mapping type.\"]}");
        assertBody(api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"clients\": [\""
                + UUID.randomUUID() + "\"]}"), 400, detail("Not all provided users were found!"));
        Reply form = api.send("POST", "/api/trainings/", actor.tokenHeader(), "application/x-www-form-urlencoded",
                "model_id=" + model);
        assertEquals(415, form.status(), form.toString());
        assertEquals(401, api.send("POST", "/api/trainings/", null, "application/json",
                "{" + m + ", " + rest + "}").status());
        assertEquals("0", sql("SELECT count(*)::text FROM training WHERE model_id = ?::uuid", model.toString()));

        // the same model still takes a valid request, with the defaults filled in
        Reply ok = api.postJson("/api/trainings/", actor, "{" + m + ", " + rest + ", \"clients\": []}");
        assertEquals(201, ok.status(), ok.toString());
        JsonObject t = api.get("/api/trainings/" + ok.json().getString("training_id") + "/", actor).json();
        assertEquals("NONE", t.getString("uncertainty_method"));
        assertEquals(model.toString(), t.getString("model"));
    }

    @Test
    void malformedOrUnknownTrainingIdsAre400() {
        Account a = api.createUser("ids");
        for (String id : List.of("abc", "1-1-1-1-1", UUID.randomUUID().toString())) {
            String expected = detail("Training " + id + " not found.");
            assertBody(api.get("/api/trainings/" + id + "/", a), 400, expected);
            assertBody(api.send("DELETE", "/api/trainings/" + id + "/", a.tokenHeader(), null, null), 400, expected);
            assertBody(api.postJson("/api/trainings/" + id + "/start/", a, null), 400, expected);
            for (String method : List.of("PUT", "DELETE")) {
                assertBody(api.send(method, "/api/trainings/" + id + "/clients/", a.tokenHeader(), "application/json",
                        "{\"clients\": []}"), 400, expected);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    private String createTraining(Account actor, UUID model, int target, String options, Account... clients) {
        StringBuilder body = new StringBuilder(trainingJson(model, target, options));
        body.setLength(body.length() - 1);
        body.append(", \"clients\": [");
        for (int i = 0; i < clients.length; i++) {
            body.append(i == 0 ? "" : ", ").append('"').append(clients[i].id()).append('"');
        }
        body.append("]}");
        Reply r = api.postJson("/api/trainings/", actor, body.toString());
        assertEquals(201, r.status(), r.toString());
        return r.json().getString("training_id");
    }

    private static String trainingJson(UUID model, int target, String options) {
        return "{\"model_id\": \"" + model + "\", \"target_num_updates\": " + target
                + ", \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\""
                + (options == null ? "" : ", \"options\": " + options) + "}";
    }

    /** A global model owned by {@code owner}, uploaded through the models API (a real TorchScript file). */
    private UUID newModel(Account owner) throws IOException {
        Multipart form = new Multipart().field("name", "net").field("description", "a test model")
                .file("model_file", "mlp.pt", Files.readAllBytes(MODEL_FILE));
        Reply r = api.sendBytes("POST", "/api/models/", owner.tokenHeader(), form.contentType(), form.bytes());
        assertEquals(201, r.status(), r.toString());
        return UUID.fromString(r.json().getString("model_id"));
    }

    /** One value from the database (first column of the first row, or null). */
    private static String sql(String query, String parameter) throws SQLException {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement(query)) {
            s.setString(1, parameter);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static void assertBody(Reply reply, int status, String expectedJson) {
        assertEquals(status, reply.status(), reply.toString());
        assertEquals(json(expectedJson), json(reply.body()), reply.toString());
    }

    private static JsonStructure json(String text) {
        try (var reader = Json.createReader(new StringReader(text))) {
            return reader.read();
        }
    }

    private static String detail(String text) {
        return Json.createObjectBuilder().add("detail", text).build().toString();
    }

    private static List<String> strings(JsonArray array) {
        List<String> out = new ArrayList<>();
        array.forEach(v -> out.add(((jakarta.json.JsonString) v).getString()));
        return out;
    }

    private static List<String> ids(JsonArray trainings) {
        List<String> out = new ArrayList<>();
        trainings.forEach(v -> out.add(v.asJsonObject().getString("id")));
        return out;
    }
}
