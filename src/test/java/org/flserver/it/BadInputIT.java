package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input of every kind the issue lists — malformed JSON, wrong types, unknown and missing
 * fields, malformed UUIDs, too-long strings, out-of-range integers, unknown users, wrong content
 * types, oversized bodies, unknown routes — each answering its documented 4xx with a JSON body,
 * never a 500. Each case also checks that a refused creation wrote nothing (the listings are
 * unchanged afterwards).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputIT {

    private static final String UNKNOWN = "00000000-0000-4000-8000-00000000abcd";
    private static final String NUL_JSON =
            "{\"detail\":\"JSON parse error - a string contains the character U+0000, which is not accepted.\"}";
    private static final String DP_NEEDS =
            "{\"options\":[\"dp needs clip_norm and noise_multiplier. (checked when the training is created)\"]}";

    private final ApiClient api = new ApiClient();
    private Account actor;
    private String modelId;
    private String trainingId;
    /** A global model without a training, for the routes of local updates, SWAG, preprocessing and metrics. */
    private String untrainedModelId;
    /** A real TorchScript model, for uploads that must get past the file checks. */
    private byte[] modelBytes;

    /** A request body with its content type. */
    record Body(String contentType, byte[] bytes) {
    }

    /** One bad request: how to send it and what must come back. */
    record Case(String name, String method, String path, Function<BadInputIT, Body> body, int status,
                String expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    @BeforeAll
    void createFixtures() throws Exception {
        actor = api.createUser("bad-actor");
        Path file = Path.of(System.getProperty("fl.fixtures"), "models", "mlp.torchscript.pt");
        modelBytes = Files.readAllBytes(file);
        Multipart form = new Multipart().field("name", "bad-input model").field("description", "d")
                .file("model_file", "mlp.pt", Files.readAllBytes(file));
        modelId = api.sendBytes("POST", "/api/models/", actor.tokenHeader(), form.contentType(), form.bytes())
                .json().getString("model_id");
        Reply training = api.postJson("/api/trainings/", actor, training(b -> { }));
        assertEquals(201, training.status(), training.toString());
        trainingId = training.json().getString("training_id");
        untrainedModelId = api.sendBytes("POST", "/api/models/", actor.tokenHeader(), form.contentType(), form.bytes())
                .json().getString("model_id");
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        // users: malformed and misshapen JSON
        c.add(json("malformed JSON", "POST", "/api/users/", t -> "{\"username\":", 400, "~JSON parse error - "));
        c.add(json("empty body", "POST", "/api/users/", t -> "", 400,
                "{\"detail\":\"JSON parse error - the request body is empty.\"}"));
        // one byte: too short for the JSON provider's encoding detection, once a 500
        c.add(json("a body of one byte", "POST", "/api/users/", t -> "{", 400,
                "{\"detail\":\"JSON parse error - the request body is not valid JSON.\"}"));
        c.add(json("a training of one byte", "POST", "/api/trainings/", t -> "1", 400,
                "{\"detail\":\"JSON parse error - the request body is not valid JSON.\"}"));
        c.add(json("array instead of object", "POST", "/api/users/", t -> "[1,2]", 400,
                "{\"_schema\":[\"Invalid input type.\"]}"));
        c.add(json("unknown field", "POST", "/api/users/", t -> user("\"is_staff\":true"), 400,
                "{\"is_staff\":[\"Unknown field.\"]}"));
        c.add(json("missing password", "POST", "/api/users/",
                t -> "{\"username\":\"" + ApiClient.uniqueName("np") + "\"}", 400,
                "{\"password\":[\"This field is required.\"]}"));
        c.add(json("username too long", "POST", "/api/users/",
                t -> "{\"username\":\"" + "u".repeat(151) + "\",\"password\":\"p\"}", 400,
                "{\"username\":[\"Ensure this field has no more than 150 characters.\"]}"));
        c.add(json("boolean as string", "POST", "/api/users/", t -> user("\"actor\":\"yes\""), 400,
                "{\"actor\":[\"Must be a valid boolean.\"]}"));
        c.add(json("message endpoint not a URL", "POST", "/api/users/", t -> user("\"message_endpoint\":\"nowhere\""),
                400, "{\"message_endpoint\":[\"Enter a valid http or https URL.\"]}"));
        c.add(json("duplicate username", "POST", "/api/users/",
                t -> "{\"username\":\"" + t.actor.username() + "\",\"password\":\"p\"}", 400,
                "{\"username\":[\"A user with that username already exists.\"]}"));
        c.add(new Case("wrong content type", "POST", "/api/users/", t -> new Body("text/plain", bytes("username=x")), 415,
                "{\"detail\":\"Unsupported media type \\\"text/plain\\\" in request.\"}"));
        c.add(json("oversized JSON body", "POST", "/api/users/",
                t -> user("\"first_name\":\"" + "x".repeat(1_100_000) + "\""), 413, "~Request body too large"));
        c.add(json("malformed user id", "GET", "/api/users/12345/", t -> null, 400,
                "{\"detail\":\"User 12345 not found.\"}"));
        // trainings
        c.add(json("target as string", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("target_num_updates", "3")), 400,
                "{\"target_num_updates\":[\"Not a valid integer.\"]}"));
        c.add(json("target above int32", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("target_num_updates", 2147483648L)), 400,
                "{\"target_num_updates\":[\"Must be greater than or equal to 0 and less than or equal to 2147483647.\"]}"));
        c.add(json("negative target", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("target_num_updates", -1)), 400,
                "{\"target_num_updates\":[\"Must be greater than or equal to 0 and less than or equal to 2147483647.\"]}"));
        c.add(json("aggregation method in wrong case", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("aggregation_method", "fedavg")), 400,
                "{\"aggregation_method\":[\"Must be one of: FedAvg, FedDC, FedProx.\"]}"));
        c.add(json("unknown uncertainty method", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("uncertainty_method", "BAYES")), 400,
                "{\"uncertainty_method\":[\"Must be one of: NONE, ENSEMBLE, MC_DROPOUT, SWAG.\"]}"));
        c.add(json("client id not a UUID", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("clients", Json.createArrayBuilder().add("bob"))), 400,
                "{\"clients\":{\"0\":[\"Not a valid UUID.\"]}}"));
        c.add(json("unknown client", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("clients", Json.createArrayBuilder().add(UNKNOWN))), 400,
                "{\"detail\":\"Not all provided users were found!\"}"));
        // more than fl.training.max-participants (10000 by default): refused before any user is looked up
        c.add(json("more clients than a training may have", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("clients", randomIds(10_001))), 400,
                "{\"detail\":\"A training can have at most 10000 participants (fl.training.max-participants).\"}"));
        c.add(json("more clients added than a training may have", "PUT", "@training/clients/",
                t -> Json.createObjectBuilder().add("clients", randomIds(10_001)).build().toString(), 400,
                "{\"detail\":\"A training can have at most 10000 participants (fl.training.max-participants).\"}"));
        c.add(json("daisy chain period not an integer", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("options", Json.createObjectBuilder().add("daisy_chain_period", "x"))), 400,
                "{\"options\":[\"daisy_chain_period must be a non-negative integer.\"]}"));
        c.add(json("model id not a UUID", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("model_id", "abc")), 400, "{\"model_id\":[\"Not a valid UUID.\"]}"));
        c.add(json("unknown model", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("model_id", UNKNOWN)), 400,
                "{\"detail\":\"Model " + UNKNOWN + " not found.\"}"));
        c.add(json("missing metric names", "POST", "/api/trainings/",
                t -> t.training(b -> b.remove("metric_names")), 400,
                "{\"metric_names\":[\"Missing data for required field.\"]}"));
        c.add(json("malformed training id", "GET", "/api/trainings/not-a-uuid/", t -> null, 400,
                "{\"detail\":\"Training not-a-uuid not found.\"}"));
        c.add(json("start an unknown training", "POST", "/api/trainings/" + UNKNOWN + "/start/", t -> null, 400,
                "{\"detail\":\"Training " + UNKNOWN + " not found.\"}"));
        c.add(json("clients body without clients", "PUT", "@training/clients/", t -> "{}", 400,
                "{\"clients\":[\"Missing data for required field.\"]}"));
        c.add(json("clients not a list", "PUT", "@training/clients/", t -> "{\"clients\":\"x\"}", 400,
                "{\"clients\":[\"Not a valid list.\"]}"));
        // models (multipart)
        c.add(multipart("model without name", t -> new Multipart().field("description", "d").file("model_file", "m.pt",
                new byte[]{1, 2, 3}), 400, "[\"Missing required field: name\"]"));
        c.add(multipart("model without file", t -> new Multipart().field("name", "n").field("description", "d"), 400,
                "{\"detail\":\"No uploaded file 'model_file' found.\"}"));
        c.add(multipart("input shape not integers", t -> new Multipart().field("name", "n").field("description", "d")
                .field("input_shape", "abc").file("model_file", "m.pt", new byte[]{1}), 400,
                "~Invalid input_shape entry"));
        c.add(multipart("round not an integer", t -> new Multipart().field("name", "n").field("description", "d")
                .field("round", "first").file("model_file", "m.pt", new byte[]{1}), 400,
                "{\"detail\":\"Invalid round: must be an integer from 0 to 2147483647.\"}"));
        c.add(json("malformed model id", "GET", "/api/models/xyz/", t -> null, 400,
                "{\"detail\":\"Model xyz not found.\"}"));
        // local updates, SWAG statistics, preprocessing, metrics and training model listings
        c.add(form("local update without round", "@model/", t -> new Multipart().field("sample_size", "1")
                .file("model_file", "m.pt", new byte[]{1}), 400, "{\"detail\":\"'round'\"}"));
        c.add(form("local update round not an integer", "@model/", t -> new Multipart().field("round", "1.0")
                .field("sample_size", "1").file("model_file", "m.pt", new byte[]{1}), 400,
                "{\"detail\":\"Invalid round: must be an integer from -2147483648 to 2147483647.\"}"));
        c.add(form("local update with negative sample size", "@model/", t -> new Multipart().field("round", "0")
                .field("sample_size", "-5").file("model_file", "m.pt", new byte[]{1}), 400,
                "{\"detail\":\"Invalid sample_size: must be an integer from 0 to 2147483647.\"}"));
        c.add(form("local update without training", "@model/", t -> new Multipart().field("round", "0")
                .field("sample_size", "1").file("model_file", "m.pt", new byte[]{1}), 404,
                "~Model with ID "));
        c.add(form("SWAG statistics without moments", "@model/swag/", t -> new Multipart().field("round", "0")
                .field("sample_size", "1"), 400, "{\"detail\":\"No uploaded file 'first_moment_file' found.\"}"));
        c.add(form("preprocessing that is no module", "@model/preprocessing/", t -> new Multipart()
                .file("model_preprocessing_file", "p.pt", bytes("print('hello')")), 400,
                "[\"Invalid preprocessing file: not a PyTorch archive or safetensors file\"]"));
        c.add(new Case("metric name too long", "POST", "@model/metrics/", t -> new Body(
                "application/x-www-form-urlencoded", bytes("metric_names=" + "m".repeat(40) + "&metric_values=1")), 400,
                "{\"detail\":\"Metric name '" + "m".repeat(32) + "…' is too long: at most 32 characters.\"}"));
        c.add(new Case("metric lists of different lengths", "POST", "@model/metrics/", t -> new Body(
                "application/x-www-form-urlencoded", bytes("metric_names=a&metric_names=b&metric_values=1")), 400,
                "{\"detail\":\"Metric names and values must have the same length\"}"));
        c.add(json("malformed training id in a model listing", "GET", "/api/trainings/1234/models/latest/", t -> null,
                400, "{\"detail\":\"Training 1234 not found.\"}"));
        // groups, routes, methods
        c.add(json("group name of wrong type", "POST", "/api/groups/", t -> "{\"name\":true}", 400,
                "{\"name\":[\"Not a valid string.\"]}"));
        c.add(json("unknown route", "GET", "/api/nowhere/", t -> null, 404, "{\"detail\":\"Not found.\"}"));
        // U+0000, which PostgreSQL stores neither in text nor in jsonb (it was a 500 at the database)
        c.add(json("NUL in a username", "POST", "/api/users/", t -> "{\"username\":\"a\\u0000b\",\"password\":\"p\"}",
                400, NUL_JSON));
        c.add(json("NUL in a sign-up's first name", "POST", "/api/users/", t -> user("\"first_name\":\"x\\u0000\""),
                400, NUL_JSON));
        c.add(json("NUL in a group name", "POST", "/api/groups/", t -> "{\"name\":\"g\\u0000\"}", 400, NUL_JSON));
        c.add(json("NUL in a training option's value", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("options", Json.createObjectBuilder().add("x", "\u0000"))), 400, NUL_JSON));
        c.add(json("NUL in a training option's key", "POST", "/api/trainings/",
                t -> t.training(b -> b.add("options", Json.createObjectBuilder().add("a\u0000", 1))), 400, NUL_JSON));
        c.add(urlEncoded("NUL in a url-encoded sign-up", "/api/users/", "username=a%00b&password=p", 400,
                nulInField("username")));
        c.add(urlEncoded("NUL in a url-encoded group name", "/api/groups/", "name=g%00", 400, nulInField("name")));
        c.add(urlEncoded("NUL in a metric name", "@model/metrics/", "metric_names=a%00&metric_values=1", 400,
                nulInField("metric_names")));
        c.add(form("NUL in a metric value (multipart)", "@model/metrics/", t -> new Multipart()
                .field("metric_names", "a").field("metric_values", "1\u0000"), 400, nulInField("metric_values")));
        // (with a valid model file, which the server checks before it stores the model's name)
        c.add(multipart("NUL in a model name", t -> new Multipart().field("name", "m\u0000").field("description", "d")
                .file("model_file", "m.pt", t.modelBytes), 400, nulInField("name")));
        c.add(multipart("NUL in a model description", t -> new Multipart().field("name", "m").field("description", "\u0000")
                .file("model_file", "m.pt", t.modelBytes), 400, nulInField("description")));
        // url-encoded bodies are read by the server's own bounded UTF-8 reader
        c.add(urlEncoded("malformed escape in a url-encoded sign-up", "/api/users/", "username=%zz&password=p", 400,
                "{\"detail\":\"The form body is not valid url-encoded text.\"}"));
        // multipart parts the runtime cannot name (its getFileName() threw: a 500)
        c.add(multipart("form part without Content-Disposition", t -> new Multipart().field("name", "m")
                .field("description", "d").rawPart("Content-Type: text/plain\r\n", "x")
                .file("model_file", "m.pt", new byte[]{1}), 400,
                "{\"detail\":\"A form part has no Content-Disposition header.\"}"));
        c.add(multipart("form part without a name", t -> new Multipart().field("name", "m").field("description", "d")
                .rawPart("Content-Disposition: form-data\r\n", "x").file("model_file", "m.pt", new byte[]{1}), 400,
                "{\"detail\":\"Bad request.\"}")); // the runtime's own refusal, as JSON
        c.add(form("form part without any header", "@model/metrics/", t -> new Multipart().rawPart("", "x")
                .field("metric_names", "a").field("metric_values", "1"), 400,
                "{\"detail\":\"A form part has no Content-Disposition header.\"}"));
        c.add(form("inference form part without any header", "/api/inference/", t -> new Multipart().rawPart("", "x")
                .field("model_id", t.modelId), 400, // its nameless part was an NPE: a 500
                "{\"detail\":\"A form part has no Content-Disposition header.\"}"));
        // options given as JSON null count as missing (they were an NPE: a 500)
        c.add(json("dp clip norm null", "POST", "/api/trainings/", t -> t.training(b -> b.add("options",
                Json.createObjectBuilder().add("dp", Json.createObjectBuilder().addNull("clip_norm")
                        .add("noise_multiplier", 1)))), 400, DP_NEEDS));
        c.add(json("dp noise multiplier null", "POST", "/api/trainings/", t -> t.training(b -> b.add("options",
                Json.createObjectBuilder().add("dp", Json.createObjectBuilder().add("clip_norm", 1)
                        .addNull("noise_multiplier")))), 400, DP_NEEDS));
        c.add(json("method not allowed", "DELETE", "/api/users/myself/", t -> null, 405,
                "{\"detail\":\"Method \\\"DELETE\\\" not allowed.\"}"));
        return c.stream();
    }

    /** n distinct random user ids, none of them a user's. */
    private static JsonArrayBuilder randomIds(int n) {
        JsonArrayBuilder ids = Json.createArrayBuilder();
        for (int i = 0; i < n; i++) {
            ids.add(UUID.randomUUID().toString());
        }
        return ids;
    }

    @Test
    void thereAreAtLeast25DistinctCases() {
        assertTrue(cases().map(Case::name).distinct().count() >= 25);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void answersTheDocumented4xx(Case c) {
        String before = listings();
        String path = c.path().replace("@training", "/api/trainings/" + trainingId)
                .replace("@model", "/api/models/" + untrainedModelId);
        Body body = c.body().apply(this);
        Reply reply = api.sendBytes(c.method(), path, actor.tokenHeader(), body.contentType(), body.bytes());
        assertEquals(c.status(), reply.status(), c.name() + ": " + reply);
        assertTrue(reply.header("Content-Type").startsWith("application/json"), reply.header("Content-Type"));
        if (c.expected().startsWith("~")) {
            assertTrue(reply.json().getString("detail").startsWith(c.expected().substring(1)), reply.toString());
        } else {
            assertEquals(parse(c.expected()), parse(reply.body()), c.name());
        }
        assertEquals(before, listings(), c.name() + " must leave nothing half-written");
    }

    @Test
    void aNulInBasicCredentialsIsA401NotADatabaseError() {
        Reply password = api.send("GET", "/api/users/myself/", ApiClient.basic("a\u0000b", "pw"), null, null);
        assertEquals(401, password.status(), password.toString());
        assertEquals("Invalid username/password.", password.detail());
        // 40 characters and no password: checked as a token, as the reference does
        Reply token = api.send("GET", "/api/users/myself/", ApiClient.basic("\u0000".repeat(40), ""), null, null);
        assertEquals(401, token.status(), token.toString());
        assertEquals("Invalid token.", token.detail());
    }

    @Test
    void urlEncodedSignUpsAndGroupsAreReadAsUtf8WhateverCharsetTheyName() {
        String name = ApiClient.uniqueName("cs");
        // an unknown charset was a 500 from the runtime's form reader
        Reply user = api.send("POST", "/api/users/", null, "application/x-www-form-urlencoded; charset=nope",
                "username=" + name + "&password=p&first_name=J%C3%BCrgen&actor=on");
        assertEquals(201, user.status(), user.toString());
        assertEquals(name, user.json().getString("username"));
        assertEquals("J\u00fcrgen", user.json().getString("first_name"));
        assertEquals(true, user.json().getBoolean("actor"));
        Reply group = api.send("POST", "/api/groups/", actor.tokenHeader(),
                "application/x-www-form-urlencoded; charset=latin1", "name=" + name + "-%C3%A9");
        assertEquals(201, group.status(), group.toString());
        assertEquals(name + "-\u00e9", group.json().getString("name"));
    }

    @Test
    void malformedContentTypeAndAcceptHeadersAreAJson400() {
        // the runtime's own refusal was a 400 with an empty body
        String training = training(b -> { });
        for (String type : new String[]{"a b", "application/json; charset", "/"}) {
            Reply reply = api.sendWithHeaders("POST", "/api/trainings/",
                    java.util.Map.of("Authorization", actor.tokenHeader(), "Content-Type", type), training);
            assertEquals(400, reply.status(), type + ": " + reply);
            assertEquals("{\"detail\":\"Malformed Content-Type header.\"}", reply.body(), type);
        }
        for (String accept : new String[]{"a b", "text/html;q"}) {
            Reply reply = api.sendWithHeaders("GET", "/api/users/myself/",
                    java.util.Map.of("Authorization", actor.tokenHeader(), "Accept", accept), null);
            assertEquals(400, reply.status(), accept + ": " + reply);
            assertEquals("{\"detail\":\"Malformed Accept header.\"}", reply.body(), accept);
        }
        // well-formed headers pass as before
        Reply ok = api.sendWithHeaders("GET", "/api/users/myself/",
                java.util.Map.of("Authorization", actor.tokenHeader(), "Accept", "application/json;q=0.9, */*;q=0.1"),
                null);
        assertEquals(200, ok.status(), ok.toString());
    }

    /** What a refused creation could have added to: the caller's models and trainings, all users. */
    private String listings() {
        return api.get("/api/models/", actor).body() + api.get("/api/trainings/", actor).body()
                + api.get("/api/users/", actor).array().size();
    }

    private String training(java.util.function.Consumer<JsonObjectBuilder> change) {
        JsonObjectBuilder b = Json.createObjectBuilder().add("model_id", modelId).add("target_num_updates", 3)
                .add("metric_names", Json.createArrayBuilder().add("accuracy")).add("aggregation_method", "FedAvg");
        change.accept(b);
        return b.build().toString();
    }

    private static String user(String extra) {
        return "{\"username\":\"" + ApiClient.uniqueName("bad") + "\",\"password\":\"p\"," + extra + "}";
    }

    private static Case json(String name, String method, String path, Function<BadInputIT, String> body, int status,
                             String expected) {
        return new Case(name, method, path, t -> {
            String text = body.apply(t);
            return text == null ? new Body(null, null) : new Body("application/json", bytes(text));
        }, status, expected);
    }

    private static Case urlEncoded(String name, String path, String body, int status, String expected) {
        return new Case(name, "POST", path, t -> new Body("application/x-www-form-urlencoded", bytes(body)), status,
                expected);
    }

    private static String nulInField(String field) {
        return "{\"detail\":\"The form field '" + field + "' contains the character U+0000, which is not accepted.\"}";
    }

    private static Case multipart(String name, Function<BadInputIT, Multipart> form, int status, String expected) {
        return form(name, "/api/models/", form, status, expected);
    }

    private static Case form(String name, String path, Function<BadInputIT, Multipart> form, int status,
                             String expected) {
        return new Case(name, "POST", path, t -> {
            Multipart m = form.apply(t);
            return new Body(m.contentType(), m.bytes());
        }, status, expected);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static JsonValue parse(String json) {
        return Json.createReader(new StringReader(json)).readValue();
    }
}
