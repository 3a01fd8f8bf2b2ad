package org.flserver.it;

import static org.flserver.it.ModelTesting.assertDetail;
import static org.flserver.it.ModelTesting.countOf;
import static org.flserver.it.ModelTesting.uuid;
import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * Metrics {@code /api/models/<id>/metrics/} (api.md §5.6 with §15.1–15.2) against the shared
 * server: url-encoded (the DLR client) and multipart reports, Python {@code float()} semantics for
 * numbers versus bytes, the exact listing JSON, the refusals, and who may read and report.
 */
class MetricApiIT {

    private final ApiClient api = new ApiClient();

    private Reply urlEncoded(Account as, String path, String... pairs) {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < pairs.length; i += 2) {
            body.append(body.length() == 0 ? "" : "&").append(URLEncoder.encode(pairs[i], StandardCharsets.UTF_8))
                    .append('=').append(URLEncoder.encode(pairs[i + 1], StandardCharsets.UTF_8));
        }
        return api.send("POST", path, as.tokenHeader(), "application/x-www-form-urlencoded", body.toString());
    }

    private Reply multipart(Account as, String path, Multipart form) {
        return api.sendBytes("POST", path, as.tokenHeader(), form.contentType(), form.bytes());
    }

    @Test
    void reportsAreStoredAsNumbersOrBytesAndListedExactly() throws Exception {
        Account owner = api.createUser("met-owner");
        String model = ModelTesting.uploadFixture(api, owner, "models/mlp.torchscript.pt");
        String path = "/api/models/" + model + "/metrics/";

        Reply form = urlEncoded(owner, path, "metric_names", "accuracy", "metric_names", "loss",
                "metric_names", "note", "metric_values", "0.96", "metric_values", " 2 ", "metric_values", "hello");
        assertEquals(201, form.status(), form.toString());
        assertEquals(Json.createObjectBuilder().add("detail", "Model Metrics Upload Accepted").add("model_id", model)
                .build(), form.json());
        Multipart m = new Multipart();
        List<String> names = List.of("nan", "inf", "sci", "grouped", "neg", "java-float", "hex", "empty", "unicode");
        List<String> values = List.of("nan", "-Infinity", "1e3", "1_000.5", "-.5", "1.5f", "0x10", "", "größe");
        names.forEach(n -> m.field("metric_names", n));
        values.forEach(v -> m.field("metric_values", v));
        // no trailing slash
        Reply multi = multipart(owner, "/api/models/" + model + "/metrics", m);
        assertEquals(201, multi.status(), multi.toString());

        JsonArray listed = api.get(path, owner).array();
        assertEquals(12, listed.size(), listed.toString());
        JsonArrayBuilder expected = Json.createArrayBuilder();
        Object[][] rows = {
            {"accuracy", 0.96, null}, {"loss", 2.0, null}, {"note", null, "aGVsbG8="},
            {"nan", "NaN", null}, {"inf", "-Infinity", null}, {"sci", 1000.0, null}, {"grouped", 1000.5, null},
            {"neg", -0.5, null}, {"java-float", null, "MS41Zg=="}, {"hex", null, "MHgxMA=="}, {"empty", null, ""},
            {"unicode", null, "Z3LDtsOfZQ=="}};
        for (int i = 0; i < rows.length; i++) {
            var row = Json.createObjectBuilder()
                    .add("id", listed.getJsonObject(i).getJsonNumber("id")).add("identifier", JsonValue.NULL)
                    .add("key", (String) rows[i][0]);
            if (rows[i][1] == null) {
                row.add("value_float", JsonValue.NULL);
            } else if (rows[i][1] instanceof String s) {
                row.add("value_float", s);
            } else {
                row.add("value_float", (Double) rows[i][1]);
            }
            row.add("value_binary", rows[i][2] == null ? JsonValue.NULL : Json.createValue((String) rows[i][2]))
                    .add("step", 0).add("model", model).add("reporter", owner.id().toString());
            expected.add(row);
        }
        assertEquals(expected.build(), listed);
        assertEquals(listed, api.get("/api/models/" + model + "/metrics", owner).array());
    }

    @Test
    void theStepIsTheModelsRoundAtUploadTime() throws Exception {
        Account owner = api.createUser("met-round");
        String model = ModelTesting.upload(api, owner, new Multipart().field("name", "r").field("description", "d")
                .field("round", "4").file("model_file", "m.pt", ModelTesting.fixture("models/mlp.torchscript.pt")));
        assertEquals(201, urlEncoded(owner, "/api/models/" + model + "/metrics/", "metric_names", "a",
                "metric_values", "1").status());
        ModelTesting.sql("UPDATE model SET round = 5 WHERE id = ?", uuid(model));
        assertEquals(201, urlEncoded(owner, "/api/models/" + model + "/metrics/", "metric_names", "a",
                "metric_values", "2").status());
        JsonArray listed = api.get("/api/models/" + model + "/metrics/", owner).array();
        assertEquals(List.of(4, 5), listed.getValuesAs(JsonObject.class).stream().map(o -> o.getInt("step")).toList());
    }

    @Test
    void refusalsStoreNothing() throws Exception {
        Account owner = api.createUser("met-bad");
        String model = ModelTesting.uploadFixture(api, owner, "models/mlp.torchscript.pt");
        String path = "/api/models/" + model + "/metrics/";
        String missing = "Metric names or values are missing";
        assertDetail(urlEncoded(owner, path, "metric_names", "a"), 400, missing);
        assertDetail(urlEncoded(owner, path, "metric_values", "1"), 400, missing);
        assertDetail(multipart(owner, path, new Multipart().field("metric_names", "a")), 400, missing);
        // a JSON body is no form: the reference reads nothing from it
        assertDetail(api.postJson(path, owner, "{\"metric_names\": [\"a\"], \"metric_values\": [1]}"), 400, missing);
        assertDetail(api.send("POST", path, owner.tokenHeader(), null, (String) null), 400, missing);
        assertDetail(urlEncoded(owner, path, "metric_names", "a", "metric_names", "b", "metric_values", "1"), 400,
                "Metric names and values must have the same length");
        assertDetail(urlEncoded(owner, path, "metric_names", "k".repeat(33), "metric_values", "1"), 400,
                "Metric name '" + "k".repeat(32) + "…' is too long: at most 32 characters.");
        assertDetail(api.send("POST", path, owner.tokenHeader(), "application/x-www-form-urlencoded",
                "metric_names=a&metric_values=%zz"), 400, "The form body is not valid url-encoded text.");
        String unknown = UUID.randomUUID().toString();
        assertDetail(urlEncoded(owner, "/api/models/" + unknown + "/metrics/", "metric_names", "a",
                "metric_values", "1"), 400, "Model " + unknown + " not found.");
        assertDetail(api.get("/api/models/bad-id/metrics/", owner), 400, "Model bad-id not found.");
        assertEquals(0, countOf("SELECT count(*) FROM metric WHERE model_id = ?", uuid(model)));
        // a 32-character key is fine
        assertEquals(201, urlEncoded(owner, path, "metric_names", "k".repeat(32), "metric_values", "1").status());
    }

    @Test
    void onlyWhoMaySeeTheModelReadsAndReportsItsMetrics() throws Exception {
        Account owner = ModelTesting.user(api, "met-own");
        Account participant = ModelTesting.user(api, "met-part");
        Account stranger = api.createUser("met-x");
        String model = ModelTesting.uploadFixture(api, owner, "models/mlp.torchscript.pt");
        ModelTesting.TrainingIds ids = ModelTesting.training(api, owner, model, false, participant);
        String path = "/api/models/" + ids.model() + "/metrics/";

        String denied = "You are not allowed to access model " + ids.model() + ".";
        assertDetail(urlEncoded(stranger, path, "metric_names", "a", "metric_values", "1"), 403, denied);
        assertDetail(api.get(path, stranger), 403, denied);
        // a participant reports on the training's global model (not started: the engine counts nothing yet)
        assertEquals(201, urlEncoded(participant, path, "metric_names", "accuracy", "metric_values", "0.5").status());
        JsonArray listed = api.get(path, owner).array();
        assertEquals(1, listed.size());
        assertEquals(participant.id().toString(), listed.getJsonObject(0).getString("reporter"));
        assertEquals(0, countOf("SELECT count(*) FROM metric WHERE reporter_id = ?", stranger.id()));
        assertEquals(401, api.send("GET", path, null, null, (String) null).status());
    }
}
