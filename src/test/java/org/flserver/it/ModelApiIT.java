package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.tensor.TorchTestFiles;
import org.junit.jupiter.api.Test;

import static org.flserver.it.ModelTesting.DATA;
import static org.flserver.it.ModelTesting.assertDetail;
import static org.flserver.it.ModelTesting.assertList;
import static org.flserver.it.ModelTesting.assertNoTempFiles;
import static org.flserver.it.ModelTesting.count;
import static org.flserver.it.ModelTesting.database;
import static org.flserver.it.ModelTesting.ids;
import static org.flserver.it.ModelTesting.postModel;
import static org.flserver.it.ModelTesting.sha256;
import static org.flserver.it.ModelTesting.storedFiles;
import static org.flserver.it.ModelTesting.update;

/**
 * The models API (api.md §5.1–5.4, §13, §15.1–15.2) against the shared server on PostgreSQL:
 * uploads of real PyTorch fixtures, byte-identical downloads, listing and metadata JSON, SWAG and
 * MEAN models, who may see and delete what, and every refusal with its exact status and body.
 * Trainings are written straight into the database (the trainings API is not part of this area),
 * which also lets the test read back what a delete removed.
 */
class ModelApiIT {


    private static final long LIMIT = IntegrationEnvironment.UPLOAD_LIMIT_BYTES;
    private static final String TOO_LARGE = "Request body too large: at most " + LIMIT + " bytes.";

    private final ApiClient api = new ApiClient();

    // ---------------------------------------------------------------- upload, download, JSON

    @Test
    void uploadedModelDownloadsByteIdenticalWithHeaders() throws Exception {
        Account owner = api.createUser("mowner");
        byte[] file = fixture("mlp.torchscript.pt");
        String id = upload(owner, new Multipart().field("name", "mlp").field("description", "a small MLP")
                .field("input_shape", "None").field("input_shape", "3").file("model_file", "mlp.pt", file));

        for (String path : List.of("/api/models/" + id + "/", "/api/models/" + id)) {
            HttpResponse<byte[]> r = api.download(path, owner);
            assertEquals(200, r.statusCode(), path);
            assertEquals(sha256(file), sha256(r.body()), path);
            assertArrayEquals(file, r.body());
            assertEquals("application/octet-stream", r.headers().firstValue("Content-Type").orElse(null));
            assertEquals("filename=\"model-" + id + ".pt\"", r.headers().firstValue("Content-Disposition").orElse(null));
            assertEquals(file.length, r.headers().firstValueAsLong("Content-Length").orElse(-1));
        }
        // content-addressed: the file is kept under its SHA-256
        String sha = sha256(file);
        assertTrue(Files.isRegularFile(DATA.resolve("files").resolve(sha.substring(0, 2)).resolve(sha)));
    }

    @Test
    void listAndMetadataShowTheGlobalModelJson() {
        Account owner = api.createUser("mlist");
        String id = upload(owner, new Multipart().field("name", "listed").field("description", "d")
                .field("input_shape", "null").field("input_shape", "4").field("round", "2")
                .file("model_file", "m.pt", fixture("mlp.module.pt")));

        JsonObject expected = Json.createObjectBuilder().add("id", id).add("round", 2).add("name", "listed")
                .add("description", "d").add("input_shape", Json.createArrayBuilder().addNull().add(4))
                .add("preprocessing", JsonValue.NULL).add("owner", owner.id().toString())
                .add("has_preprocessing", false).build();
        Reply list = api.get("/api/models/", owner);
        assertEquals(200, list.status(), list.toString());
        assertEquals(List.of(expected), list.array().getValuesAs(JsonObject.class));

        Reply metadata = api.get("/api/models/" + id + "/metadata/", owner);
        assertEquals(200, metadata.status(), metadata.toString());
        JsonObject answer = metadata.json();
        assertEquals(expected, Json.createObjectBuilder(answer).remove("stats").build());
        assertEquals(ModelTesting.expectedStats("models/mlp.module.pt", "module"),
                ModelTesting.statsTable(answer.getJsonObject("stats")));
        assertEquals(200, api.get("/api/models/" + id + "/metadata", owner).status());

        // another user's listing does not contain it
        Account other = api.createUser("mlist-other");
        assertEquals(0, api.get("/api/models/", other).array().size());
    }

    @Test
    void swagModelWithPreprocessingAndUnknownTypeFallsBackToGlobal() {
        Account owner = api.createUser("mswag");
        byte[] weights = fixture("cnn_bn.torchscript.pt");
        String swag = upload(owner, new Multipart().field("name", "swag").field("description", "s")
                .field("type", "SWAG").file("model_file", "w.pt", weights)
                .file("model_preprocessing_file", "p.pt", fixture("gelu_mlp.torchscript.pt")));
        JsonObject json = api.get("/api/models/" + swag + "/metadata/", owner).json();
        assertEquals("", json.getString("swag_first_moment"));
        assertEquals("", json.getString("swag_second_moment"));
        assertTrue(json.getBoolean("has_preprocessing"));
        assertEquals(JsonValue.NULL, json.get("preprocessing"));
        assertEquals(JsonValue.NULL, json.get("input_shape"));
        assertEquals(0, json.getInt("round"));
        assertArrayEquals(weights, api.download("/api/models/" + swag + "/", owner).body());

        String other = upload(owner, new Multipart().field("name", "x").field("description", "x")
                .field("type", "SOMETHING").file("model_file", "w.pt", weights));
        JsonObject plain = api.get("/api/models/" + other + "/metadata/", owner).json();
        assertFalse(plain.containsKey("swag_first_moment"), plain.toString());
        assertFalse(plain.containsKey("models"));
    }

    @Test
    void meanModelOfOwnModels() {
        Account owner = api.createUser("mmean");
        String a = upload(owner, simpleUpload("a"));
        String b = upload(owner, simpleUpload("b"));
        Reply r = api.postJson("/api/models/", owner, Json.createObjectBuilder().add("name", "ensemble")
                .add("description", "mean of a and b").add("type", "MEAN")
                .add("models", Json.createArrayBuilder().add(a).add(b)).build().toString());
        assertEquals(201, r.status(), r.toString());
        assertEquals("Model Upload Accepted", r.detail());
        String mean = r.json().getString("model_id");

        JsonObject json = api.get("/api/models/" + mean + "/metadata/", owner).json();
        assertEquals("ensemble", json.getString("name"));
        assertEquals(List.of(a, b), json.getJsonArray("models").getValuesAs(jakarta.json.JsonString.class)
                .stream().map(jakarta.json.JsonString::getString).toList());
        assertEquals(Set.of(a, b, mean), ids(api.get("/api/models/", owner).array()));

        // the same as a form: repeated models fields
        String formMean = upload(owner, new Multipart().field("name", "form ensemble").field("description", "d")
                .field("type", "MEAN").field("models", b).field("models", a));
        assertEquals(List.of(b, a), api.get("/api/models/" + formMean + "/metadata/", owner).json()
                .getJsonArray("models").getValuesAs(jakarta.json.JsonString.class)
                .stream().map(jakarta.json.JsonString::getString).toList());

        HttpResponse<byte[]> download = api.download("/api/models/" + mean + "/", owner);
        assertEquals(400, download.statusCode());
        assertEquals("{\"detail\":\"A mean model has no weights of its own; download its member models.\"}",
                new String(download.body(), StandardCharsets.UTF_8));
    }

    @Test
    void meanModelRefusals() {
        Account owner = api.createUser("mmean-bad");
        Account stranger = api.createUser("mmean-str");
        String own = upload(owner, simpleUpload("own"));
        String foreign = upload(stranger, simpleUpload("foreign"));
        String unknown = UUID.randomUUID().toString();

        assertList(mean(owner, Json.createArrayBuilder().add(own).add(unknown).build()), "Invalid model UUIDs found.");
        assertList(mean(owner, Json.createArrayBuilder().add("not-a-uuid").build()), "Invalid model UUIDs found.");
        assertList(mean(owner, Json.createArrayBuilder().add(own).add(foreign).build()),
                "Invalid model selection. Insufficient model permissions.");
        assertList(mean(owner, Json.createValue(own)), "Invalid type for field: models");
        assertList(mean(owner, Json.createArrayBuilder().add(1).build()), "Invalid type for field: models");
        assertList(mean(owner, null), "Missing required field: models");
        assertList(post(owner, new Multipart().field("name", "m").field("description", "d").field("type", "MEAN")),
                "Missing required field: models");
        assertList(post(owner, new Multipart().field("name", "m").field("description", "d").field("type", "MEAN")
                .field("models", foreign)), "Invalid model selection. Insufficient model permissions.");
        assertList(mean(owner, Json.createArrayBuilder().build()),
                "Invalid model selection. A mean model needs at least one model.");
        assertList(api.postJson("/api/models/", owner, "{\"description\":\"d\",\"type\":\"MEAN\",\"models\":[]}"),
                "Missing required field: name");
        // nothing was created by the refusals
        assertEquals(Set.of(own), ids(api.get("/api/models/", owner).array()));
    }

    // ---------------------------------------------------------------- file validation and stats

    @Test
    void everyModelKindIsAcceptedAndItsStatsMatchTheManifest() {
        Account owner = api.createUser("mkinds");
        Map<String, String> kinds = Map.of("torchscript.pt", "torchscript", "module.pt", "module",
                "state_dict.pt", "state_dict", "safetensors", "safetensors");
        for (String model : List.of("mlp", "cnn_bn", "tied", "dtypes")) {
            for (Map.Entry<String, String> kind : kinds.entrySet()) {
                String file = "models/" + model + "." + kind.getKey();
                if (!Files.exists(ModelTesting.FIXTURES.resolve(file))) {
                    continue;
                }
                String id = ModelTesting.uploadFixture(api, owner, file);
                JsonObject stats = api.get("/api/models/" + id + "/metadata/", owner).json().getJsonObject("stats");
                assertEquals(ModelTesting.expectedStats(file, kind.getValue()), ModelTesting.statsTable(stats), file);
            }
        }
        // spot check of the totals against numbers worked out by hand: mlp is 8·16+16 + 16·16+16 + 16·4+4
        JsonObject mlp = api.get("/api/models/" + ModelTesting.uploadFixture(api, owner, "models/mlp.safetensors")
                + "/metadata/", owner).json().getJsonObject("stats");
        assertEquals(ModelTesting.floatingElements("models/mlp.safetensors"), mlp.getInt("total_params"));
        assertEquals(4L * mlp.getInt("total_params"), mlp.getJsonNumber("total_param_bytes").longValue());
        assertEquals("safetensors", mlp.getString("format"));
    }

    /**
     * The torchinfo keys over HTTP/1.1, for a CNN with BatchNorm that PyTorch saved as a module: the
     * whole {@code stats} object equals what make_stats_fixtures.py computed from the eager model
     * ({@code src/test/resources/model-stats}).
     */
    @Test
    void metadataStatsCarryTorchinfosKeysForAnUploadedModule() throws Exception {
        ApiClient http11 = new ApiClient();
        Account owner = http11.createUser("mtorchinfo");
        String id = ModelTesting.upload(http11, owner, new Multipart().field("name", "cnn").field("description", "d")
                .field("input_shape", "None").field("input_shape", "1").field("input_shape", "8")
                .field("input_shape", "8").file("model_file", "cnn.pt", statsFixture("cnn_bn.module.pt")));
        Reply metadata = http11.get("/api/models/" + id + "/metadata/", owner);
        assertEquals(200, metadata.status(), metadata.toString());
        JsonObject expected;
        try (var reader = Json.createReader(new ByteArrayInputStream(statsFixture("cnn_bn.module.pt.stats.json")))) {
            expected = reader.readObject();
        }
        assertEquals(expected, metadata.json().getJsonObject("stats"));
    }

    private static byte[] statsFixture(String name) throws IOException {
        try (InputStream in = ModelApiIT.class.getResourceAsStream("/model-stats/" + name)) {
            if (in == null) {
                throw new IOException("missing test resource model-stats/" + name);
            }
            return in.readAllBytes();
        }
    }

    @Test
    void filesThatAreNoModelAreRefusedAndNothingIsKept() throws Exception {
        Account owner = api.createUser("mnomodel");
        Set<Path> before = storedFiles();
        Map<String, byte[]> refused = new java.util.LinkedHashMap<>();
        refused.put("Invalid model file: not a PyTorch archive or safetensors file",
                "just some text\n".getBytes(StandardCharsets.UTF_8));
        refused.put("Invalid model file: Loaded torch object is not of expected type.",
                TorchTestFiles.bareFloatTensor(new float[]{1f, 2f, 3f}));
        refused.put("~Invalid model file: GLOBAL 'os system' not allowed", ModelTesting.fixture("hostile/os_system.pt"));
        refused.put("~Invalid model file: GLOBAL 'posix system' not allowed",
                ModelTesting.fixture("hostile/os_system_in_state_dict.pt"));
        refused.put("~Invalid model file: tensor view exceeds its storage",
                ModelTesting.fixture("hostile/view_out_of_bounds.pt"));
        refused.put("~Invalid model file: legacy (non-zip) torch.save format is not supported",
                ModelTesting.fixture("legacy/mlp.legacy.pt"));
        refused.put("~Invalid model file: ", new byte[0]);
        for (Map.Entry<String, byte[]> r : refused.entrySet()) {
            Reply reply = post(owner, new Multipart().field("name", "n").field("description", "d")
                    .file("model_file", "m.pt", r.getValue()));
            if (r.getKey().startsWith("~")) {
                ModelTesting.assertListStartsWith(reply, r.getKey().substring(1));
            } else {
                assertList(reply, r.getKey());
            }
        }
        // a valid model with a preprocessing file that is no runnable module: neither is kept
        byte[] weights = fixture("mlp.torchscript.pt");
        assertList(post(owner, new Multipart().field("name", "n").field("description", "d")
                        .file("model_file", "m.pt", weights)
                        .file("model_preprocessing_file", "p.pt", fixture("mlp.state_dict.pt"))),
                "Invalid preprocessing file: Loaded torch object is not of expected type.");
        ModelTesting.assertListStartsWith(post(owner, new Multipart().field("name", "n").field("description", "d")
                        .file("model_file", "m.pt", weights)
                        .file("model_preprocessing_file", "p.pt", ModelTesting.fixture("hostile/zip_slip.pt"))),
                "Invalid preprocessing file: bad entry name");

        assertEquals(0, api.get("/api/models/", owner).array().size());
        try (Connection db = database()) {
            assertEquals(0, count(db, "SELECT count(*) FROM model WHERE owner_id = ?", owner.id()));
        }
        Set<Path> added = new java.util.HashSet<>(storedFiles());
        added.removeAll(before);
        // only files other tests stored meanwhile may appear, never one of the refused ones
        for (byte[] content : refused.values()) {
            assertFalse(added.contains(DATA.resolve("files").resolve(sha256(content).substring(0, 2))
                    .resolve(sha256(content))));
        }
        assertFalse(ModelTesting.isStored(ModelTesting.fixture("hostile/os_system.pt")));
    }

    // ---------------------------------------------------------------- preprocessing

    @Test
    void preprocessingIsUploadedByTheOwnerAndDownloadedByWhoMaySeeTheModel() throws Exception {
        Account owner = api.createUser("mpre");
        Account participant = api.createUser("mpre-part");
        Account stranger = api.createUser("mpre-x");
        String id = ModelTesting.uploadFixture(api, owner, "models/mlp.torchscript.pt");
        String path = "/api/models/" + id + "/preprocessing/";
        assertDetail(api.get(path, owner), 404, "Model '" + id + "' has no preprocessing model defined.");

        byte[] module = fixture("gelu_mlp.module.pt");
        assertDetail(postPreprocessing(stranger, id, module), 403, "You are not the owner of model " + id + "!");
        assertDetail(postPreprocessing(owner, "nope", module), 400, "GlobalModel nope not found.");
        Reply noFile = api.sendBytes("POST", path, owner.tokenHeader(), new Multipart().field("x", "y").contentType(),
                new Multipart().field("x", "y").bytes());
        assertEquals(400, noFile.status(), noFile.toString());
        assertList(postPreprocessing(owner, id, fixture("mlp.safetensors")),
                "Invalid preprocessing file: Loaded torch object is not of expected type.");
        assertDetail(api.get(path, owner), 404, "Model '" + id + "' has no preprocessing model defined.");

        Reply accepted = postPreprocessing(owner, id, module);
        assertEquals(202, accepted.status(), accepted.toString());
        assertEquals(Json.createObjectBuilder().add("detail", "Proprocessing Model Upload Accepted").build(),
                accepted.json());
        assertTrue(api.get("/api/models/" + id + "/metadata/", owner).json().getBoolean("has_preprocessing"));
        for (String p : List.of(path, "/api/models/" + id + "/preprocessing")) {
            HttpResponse<byte[]> r = api.download(p, owner);
            assertEquals(200, r.statusCode(), p);
            assertArrayEquals(module, r.body());
            assertEquals("filename=\"model-" + id + "-proprecessing.pt\"",
                    r.headers().firstValue("Content-Disposition").orElse(null));
        }
        // replaced by a second upload (TorchScript this time), without trailing slash
        byte[] script = fixture("gelu_mlp.torchscript.pt");
        Multipart form = new Multipart().file("model_preprocessing_file", "p.pt", script);
        assertEquals(202, api.sendBytes("POST", "/api/models/" + id + "/preprocessing", owner.tokenHeader(),
                form.contentType(), form.bytes()).status());
        assertArrayEquals(script, api.download(path, owner).body());

        // participants of its training see it, strangers do not; a local model answers with its base model's
        ModelTesting.TrainingIds training = ModelTesting.training(api, owner, id, false, participant);
        assertEquals(id, training.model());
        assertArrayEquals(script, api.download(path, participant).body());
        assertEquals(403, api.download(path, stranger).statusCode());
        UUID local = UUID.randomUUID();
        try (Connection db = database()) {
            update(db, "INSERT INTO model (id, model_type, owner_id, round, weights_sha256, weights_size, created_at,"
                    + " base_model_id, sample_size) VALUES (?, 'LOCAL', ?, 0, ?, 1, ?, ?, 1)", local, participant.id(),
                    sha256(script), OffsetDateTime.now(), UUID.fromString(id));
        }
        assertArrayEquals(script, api.download("/api/models/" + local + "/preprocessing/", participant).body());
        assertDetail(postPreprocessing(participant, local.toString(), module), 400,
                "GlobalModel " + local + " not found.");
    }

    private Reply postPreprocessing(Account as, String id, byte[] file) {
        Multipart form = new Multipart().file("model_preprocessing_file", "p.pt", file);
        return api.sendBytes("POST", "/api/models/" + id + "/preprocessing/", as.tokenHeader(), form.contentType(),
                form.bytes());
    }

    // ---------------------------------------------------------------- permissions

    @Test
    void strangersGet403AndTheOwnerDeletes() {
        Account owner = api.createUser("mperm");
        Account stranger = api.createUser("mperm-x");
        String id = upload(owner, simpleUpload("private"));
        String path = "/api/models/" + id + "/";

        assertEquals(403, api.download(path, stranger).statusCode());
        assertDetail(api.get(path + "metadata/", stranger), 403, "You are not allowed to access model " + id + ".");
        assertDetail(api.send("DELETE", path, stranger.tokenHeader(), null, (String) null), 403,
                "You are neither the owner of the model nor the actor of the corresponding training.");
        assertEquals(200, api.get(path + "metadata/", owner).status(), "a refused delete must not delete");

        assertDetail(api.send("DELETE", path, owner.tokenHeader(), null, (String) null), 200, "Model removed!");
        assertDetail(api.get(path + "metadata/", owner), 400, "Model " + id + " not found.");
        assertEquals(400, api.download(path, owner).statusCode());
        assertDetail(api.send("DELETE", path, owner.tokenHeader(), null, (String) null), 400,
                "Model " + id + " not found.");
        assertEquals(0, api.get("/api/models/", owner).array().size());
    }

    @Test
    void trainingActorAndParticipantsSeeTheModelAndOnlyTheActorDeletesIt() throws Exception {
        Account owner = api.createUser("mtr-owner");
        Account actor = api.createUser("mtr-actor");
        Account participant = api.createUser("mtr-part");
        Account stranger = api.createUser("mtr-x");
        byte[] file = fixture("mlp.torchscript.pt");
        String global = upload(owner, new Multipart().field("name", "trained").field("description", "d")
                .file("model_file", "m.pt", file));
        UUID training = UUID.randomUUID();
        UUID local = UUID.randomUUID();
        try (Connection db = database()) {
            update(db, "INSERT INTO training (id, model_id, actor_id, state, target_num_updates, last_update)"
                    + " VALUES (?, ?, ?, 'O', 1, ?)", training, UUID.fromString(global), actor.id(), OffsetDateTime.now());
            update(db, "INSERT INTO training_participant (training_id, user_id, join_order) VALUES (?, ?, 0)",
                    training, participant.id());
            // a participant's local update of the same weights, and a metric on the global model
            update(db, "INSERT INTO model (id, model_type, owner_id, round, weights_sha256, weights_size, created_at,"
                    + " base_model_id, sample_size) VALUES (?, 'LOCAL', ?, 0, ?, ?, ?, ?, 10)",
                    local, participant.id(), sha256(file), (long) file.length, OffsetDateTime.now(), UUID.fromString(global));
            update(db, "INSERT INTO metric (metric_key, value_float, step, model_id, reporter_id)"
                    + " VALUES ('loss', 0.5, 0, ?, ?)", UUID.fromString(global), participant.id());
        }

        for (Account a : List.of(actor, participant)) {
            assertArrayEquals(file, api.download("/api/models/" + global + "/", a).body(), a.username());
            assertEquals(200, api.get("/api/models/" + global + "/metadata/", a).status());
            assertTrue(ids(api.get("/api/models/", a).array()).contains(global), a.username());
            // FedDC: participants download each other's local models
            assertArrayEquals(file, api.download("/api/models/" + local + "/", a).body(), a.username());
        }
        assertEquals(Set.of(global), ids(api.get("/api/models/", actor).array()));
        assertEquals(Set.of(global, local.toString()), ids(api.get("/api/models/", participant).array()));
        JsonObject localJson = api.get("/api/models/" + local + "/metadata/", participant).json();
        assertEquals(Json.createObjectBuilder().add("id", local.toString()).add("round", 0).add("sample_size", 10)
                .add("owner", participant.id().toString()).add("base_model", global).build(),
                Json.createObjectBuilder(localJson).remove("stats").build());
        assertEquals(ModelTesting.expectedStats("models/mlp.torchscript.pt", "torchscript"),
                ModelTesting.statsTable(localJson.getJsonObject("stats")));
        assertEquals(JsonValue.NULL, localJson.getJsonObject("stats").get("input_size"));
        assertEquals(403, api.download("/api/models/" + local + "/", stranger).statusCode());
        assertEquals(403, api.get("/api/models/" + global + "/metadata/", stranger).status());

        assertEquals(403, api.send("DELETE", "/api/models/" + global + "/", participant.tokenHeader(), null,
                (String) null).status());
        assertDetail(api.send("DELETE", "/api/models/" + global + "/", actor.tokenHeader(), null, (String) null),
                200, "Model removed!");
        try (Connection db = database()) {
            assertEquals(0, count(db, "SELECT count(*) FROM model WHERE id IN (?, ?)", UUID.fromString(global), local));
            assertEquals(0, count(db, "SELECT count(*) FROM training WHERE id = ?", training));
            assertEquals(0, count(db, "SELECT count(*) FROM training_participant WHERE training_id = ?", training));
            assertEquals(0, count(db, "SELECT count(*) FROM metric WHERE model_id = ?", UUID.fromString(global)));
        }
        // the file stays: it is content-addressed and may be shared
        String sha = sha256(file);
        assertTrue(Files.isRegularFile(DATA.resolve("files").resolve(sha.substring(0, 2)).resolve(sha)));
    }

    @Test
    void unauthenticatedIs401() {
        Reply r = api.send("GET", "/api/models/", null, null, (String) null);
        assertDetail(r, 401, "Authentication credentials were not provided.");
        Multipart form = simpleUpload("anon");
        Reply upload = api.sendBytes("POST", "/api/models/", null, form.contentType(), form.bytes());
        assertDetail(upload, 401, "Authentication credentials were not provided.");
        assertEquals(401, api.send("GET", "/api/models/" + UUID.randomUUID() + "/", null, null, (String) null).status());
    }

    // ---------------------------------------------------------------- refusals

    @Test
    void badUploadsAreRefusedWithTheirMessage() {
        Account owner = api.createUser("mbad");
        byte[] file = fixture("mlp.torchscript.pt");
        assertList(post(owner, new Multipart().field("description", "d").file("model_file", "m.pt", file)),
                "Missing required field: name");
        assertList(post(owner, new Multipart().field("name", "n").file("model_file", "m.pt", file)),
                "Missing required field: description");
        assertDetail(post(owner, new Multipart().field("name", "n").field("description", "d")), 400,
                "No uploaded file 'model_file' found.");
        // a model_file part without a file name is a text field, as in Django
        assertDetail(post(owner, new Multipart().field("name", "n").field("description", "d")
                .field("model_file", "bytes")), 400, "No uploaded file 'model_file' found.");
        assertDetail(post(owner, new Multipart().field("name", "n").field("description", "d")
                .field("input_shape", "None").field("input_shape", "three").file("model_file", "m.pt", file)), 400,
                "Invalid input_shape entry 'three': expected an integer ≥ 1, None or null.");
        assertDetail(post(owner, new Multipart().field("name", "n").field("description", "d")
                .field("input_shape", "0").file("model_file", "m.pt", file)), 400,
                "Invalid input_shape entry '0': expected an integer ≥ 1, None or null.");
        String badRound = "Invalid round: must be an integer from 0 to 2147483647.";
        for (String round : List.of("one", "-1", "1.5", "99999999999")) {
            assertDetail(post(owner, new Multipart().field("name", "n").field("description", "d")
                    .field("round", round).file("model_file", "m.pt", file)), 400, badRound);
        }
        assertList(post(owner, new Multipart().field("name", "x".repeat(257)).field("description", "d")
                .file("model_file", "m.pt", file)), "Field name is too long: at most 256 characters.");
        assertDetail(post(owner, new Multipart().field("name", "n").field("description", "d".repeat(65_537))
                .file("model_file", "m.pt", file)), 413, "Field 'description' is too long: at most 65536 bytes.");
        assertDetail(api.send("POST", "/api/models/", owner.tokenHeader(), "text/plain", "hello"), 415,
                "Unsupported media type \"text/plain\" in request.");
        // JSON is for MEAN models only: any other type has no file
        assertDetail(api.postJson("/api/models/", owner, "{\"name\":\"n\",\"description\":\"d\"}"), 400,
                "No uploaded file 'model_file' found.");
        assertDetail(api.postJson("/api/models/", owner, "{\"name\":\"n\",\"description\":\"d\",\"type\":\"GLOBAL\"}"),
                400, "No uploaded file 'model_file' found.");
        assertDetail(api.postJson("/api/models/", owner, "{\"name\":\"n\""), 400, null);
        // nothing was stored by any of these
        assertEquals(0, api.get("/api/models/", owner).array().size());

        // a 256-character name is fine
        upload(owner, new Multipart().field("name", "y".repeat(256)).field("description", "d")
                .file("model_file", "m.pt", file));
    }

    @Test
    void malformedAndUnknownIdsAre400NotFound() {
        Account owner = api.createUser("mids");
        String unknown = UUID.randomUUID().toString();
        for (String id : List.of("not-a-uuid", "1-1-1-1-1", unknown)) {
            assertDetail(api.get("/api/models/" + id + "/metadata/", owner), 400, "Model " + id + " not found.");
            HttpResponse<byte[]> download = api.download("/api/models/" + id + "/", owner);
            assertEquals(400, download.statusCode());
            assertEquals("{\"detail\":\"Model " + id + " not found.\"}", new String(download.body(), StandardCharsets.UTF_8));
            assertDetail(api.send("DELETE", "/api/models/" + id + "/", owner.tokenHeader(), null, (String) null), 400,
                    "Model " + id + " not found.");
        }
    }

    @Test
    void oversizedUploadIs413AndLeavesNothingBehind() throws Exception {
        Account owner = api.createUser("mbig");
        Set<Path> filesBefore = storedFiles();
        // fresh content every run: the data directory outlives a run, and this file must be new
        byte[] big = new byte[(int) LIMIT + 1];
        new java.util.Random().nextBytes(big);
        assertDetail(post(owner, new Multipart().field("name", "big").field("description", "d")
                .file("model_file", "big.pt", big)), 413, TOO_LARGE);
        // just under the limit with its form fields is accepted
        // (a valid model file: uploads are read by the tensor reader)
        byte[] fits = randomSafetensors((int) LIMIT - 4096 - 128);
        String accepted = upload(owner, new Multipart().field("name", "fits").field("description", "d")
                .file("model_file", "fits.pt", fits));
        assertArrayEquals(fits, api.download("/api/models/" + accepted + "/", owner).body());

        assertEquals(Set.of(accepted), ids(api.get("/api/models/", owner).array()));
        Set<Path> added = new java.util.HashSet<>(storedFiles());
        added.removeAll(filesBefore);
        assertEquals(Set.of(DATA.resolve("files").resolve(sha256(fits).substring(0, 2)).resolve(sha256(fits))), added);
        assertNoTempFiles();
        try (Connection db = database()) {
            assertEquals(1, count(db, "SELECT count(*) FROM model WHERE owner_id = ?", owner.id()));
        }
    }

    @Test
    void declaredOversizedBodyIsRefusedBeforeItIsRead() throws Exception {
        Account owner = api.createUser("mhuge");
        URI base = URI.create(api.base());
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            // claims 100 GB and sends none of it: only an answer that reads nothing comes back at once
            out.write(("POST /api/models/ HTTP/1.1\r\nHost: " + base.getAuthority() + "\r\n"
                    + "Authorization: " + owner.tokenHeader() + "\r\n"
                    + "Content-Type: multipart/form-data; boundary=xyz\r\n"
                    + "Content-Length: 100000000000\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = readResponse(socket.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
            assertTrue(answer.endsWith("{\"detail\":\"" + TOO_LARGE + "\"}"), answer);
        }
    }

    @Test
    void chunkedOversizedBodyIsCutOffWith413AndLeavesNothingBehind() throws Exception {
        Account owner = api.createUser("mchunk");
        Set<Path> filesBefore = storedFiles();
        // a small first file and a second one that crosses the limit: neither is kept
        byte[] small = randomSafetensors(100_000);
        Multipart form = new Multipart().field("name", "chunked").field("description", "d")
                .file("model_file", "small.pt", small)
                .file("model_preprocessing_file", "big.pt", new byte[(int) LIMIT]);
        byte[] body = form.bytes();
        // no Content-Length: the body goes chunked (HTTP/1.1 transfer coding, as the DLR Python client sends it)
        HttpResponse<String> r = ApiClient.send(HttpRequest.newBuilder(URI.create(api.base() + "/api/models/"))
                .header("Authorization", owner.tokenHeader()).header("Content-Type", form.contentType())
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(413, r.statusCode(), r.body());
        assertEquals("{\"detail\":\"" + TOO_LARGE + "\"}", r.body());
        assertEquals(0, api.get("/api/models/", owner).array().size());
        assertEquals(filesBefore, storedFiles());
        assertNoTempFiles();

        // a chunked upload under the limit works
        Multipart ok = new Multipart().field("name", "chunked-ok").field("description", "d")
                .file("model_file", "small.pt", small);
        HttpResponse<String> accepted = ApiClient.send(HttpRequest.newBuilder(URI.create(api.base() + "/api/models/"))
                .header("Authorization", owner.tokenHeader()).header("Content-Type", ok.contentType())
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(ok.bytes()))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, accepted.statusCode(), accepted.body());
    }

    /** Reads one HTTP/1.1 response (headers and a Content-Length body) without waiting for the connection to close. */
    private static String readResponse(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.append((char) b);
        }
        java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        byte[] body = length.find() ? in.readNBytes(Integer.parseInt(length.group(1))) : new byte[0];
        return head + new String(body, StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- helpers

    private static Multipart simpleUpload(String name) {
        return new Multipart().field("name", name).field("description", "test model")
                .file("model_file", "m.pt", fixture("gelu_mlp.torchscript.pt"));
    }

    private Reply post(Account as, Multipart form) {
        return postModel(api, as, form);
    }

    private String upload(Account as, Multipart form) {
        return ModelTesting.upload(api, as, form);
    }

    private Reply mean(Account as, JsonValue models) {
        var json = Json.createObjectBuilder().add("name", "m").add("description", "d").add("type", "MEAN");
        if (models != null) {
            json.add("models", models);
        }
        return api.postJson("/api/models/", as, json.build().toString());
    }

    /** A valid safetensors model of about {@code bytes} bytes with fresh random content. */
    private static byte[] randomSafetensors(int bytes) {
        byte[] data = new byte[bytes];
        new java.util.Random().nextBytes(data);
        return TorchTestFiles.safetensors("w", "U8", new long[]{bytes}, data);
    }

    private static byte[] fixture(String name) {
        return ModelTesting.fixture("models/" + name);
    }
}
