package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;

/**
 * What the models-API integration tests share: the PyTorch fixtures, the shared server's file
 * store and database, uploads and trainings set up through the API, and the assertions on the
 * API's error bodies (api.md §1.2).
 */
final class ModelTesting {

    static final Path FIXTURES = Path.of(System.getProperty("fl.fixtures"));
    /** The shared server's data directory ({@link IntegrationEnvironment}). */
    static final Path DATA = IntegrationEnvironment.DATA_DIRECTORY;

    private ModelTesting() {
    }

    // ---------------------------------------------------------------- fixtures

    /** A fixture file by its path under the fixtures root, e.g. {@code models/mlp.module.pt}. */
    static byte[] fixture(String relative) {
        try {
            return Files.readAllBytes(FIXTURES.resolve(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The JSON manifest next to a fixture file. */
    static JsonObject manifest(String relative) {
        try (Reader r = Files.newBufferedReader(FIXTURES.resolve(relative + ".json"));
             var json = Json.createReader(r)) {
            return json.readObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The manifest's tensor table: {@code data_pkl.tensors} of archives, {@code tensors} of safetensors files. */
    static List<JsonObject> manifestTensors(String relative) {
        JsonObject m = manifest(relative);
        JsonArray tensors = m.containsKey("data_pkl") ? m.getJsonObject("data_pkl").getJsonArray("tensors")
                : m.getJsonArray("tensors");
        return tensors.getValuesAs(JsonObject.class);
    }

    /**
     * The part of the {@code stats} block a fixture's manifest alone determines (compare it with
     * {@link #statsTable} of the answer): format, kind and every tensor with name, shape, dtype and
     * element count. Which tensors are parameters the manifests do not say; the torchinfo keys are
     * checked against PyTorch's numbers in {@code ModelStatsTest} and {@code ModelApiIT}.
     */
    static JsonObject expectedStats(String relative, String kind) {
        JsonArrayBuilder tensors = Json.createArrayBuilder();
        for (JsonObject t : manifestTensors(relative)) {
            tensors.add(Json.createObjectBuilder().add("name", t.getString("name"))
                    .add("shape", t.getJsonArray("shape")).add("dtype", t.getString("dtype"))
                    .add("num_params", t.getJsonNumber("numel").longValue()));
        }
        return Json.createObjectBuilder().add("format", manifest(relative).getString("format")).add("kind", kind)
                .add("tensors", tensors).build();
    }

    /** The keys of a {@code stats} answer that {@link #expectedStats} describes. */
    static JsonObject statsTable(JsonObject stats) {
        JsonArrayBuilder tensors = Json.createArrayBuilder();
        for (JsonObject t : stats.getJsonArray("tensors").getValuesAs(JsonObject.class)) {
            tensors.add(Json.createObjectBuilder().add("name", t.get("name")).add("shape", t.get("shape"))
                    .add("dtype", t.get("dtype")).add("num_params", t.get("num_params")));
        }
        return Json.createObjectBuilder().add("format", stats.get("format")).add("kind", stats.get("kind"))
                .add("tensors", tensors).build();
    }

    /** Elements of the real floating-point tensors of a fixture (the length of its SWAG moment vectors). */
    static int floatingElements(String relative) {
        return manifestTensors(relative).stream()
                .filter(t -> Set.of("float64", "float32", "float16", "bfloat16").contains(t.getString("dtype")))
                .mapToInt(t -> t.getInt("numel")).sum();
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- the server's store

    static Set<Path> storedFiles() throws IOException {
        Path files = DATA.resolve("files");
        if (!Files.exists(files)) {
            return Set.of();
        }
        try (Stream<Path> all = Files.walk(files)) {
            return all.filter(Files::isRegularFile).collect(Collectors.toSet());
        }
    }

    /** Where the shared server's store keeps the file of this hash ({@code files/<2 hex>/<hash>}). */
    static Path storedPath(String sha256) {
        return DATA.resolve("files").resolve(sha256.substring(0, 2)).resolve(sha256);
    }

    static boolean isStored(byte[] content) {
        return Files.isRegularFile(storedPath(sha256(content)));
    }

    static void assertNoTempFiles() throws IOException {
        try (Stream<Path> temps = Files.list(DATA.resolve("tmp"))) {
            assertEquals(List.of(), temps.toList());
        }
    }

    // ---------------------------------------------------------------- the database

    static Connection database() throws SQLException {
        return DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
    }

    static void update(Connection db, String sql, Object... values) throws SQLException {
        try (PreparedStatement s = db.prepareStatement(sql)) {
            for (int i = 0; i < values.length; i++) {
                s.setObject(i + 1, values[i]);
            }
            s.executeUpdate();
        }
    }

    static int count(Connection db, String sql, Object... values) throws SQLException {
        try (PreparedStatement s = db.prepareStatement(sql)) {
            for (int i = 0; i < values.length; i++) {
                s.setObject(i + 1, values[i]);
            }
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    /** One statement on a fresh connection. */
    static void sql(String sql, Object... values) throws SQLException {
        try (Connection db = database()) {
            update(db, sql, values);
        }
    }

    /** One count on a fresh connection. */
    static int countOf(String sql, Object... values) throws SQLException {
        try (Connection db = database()) {
            return count(db, sql, values);
        }
    }

    // ---------------------------------------------------------------- notifications

    private static volatile String sink;

    /**
     * The URL of a loopback endpoint that answers every notification with 200 and ignores it. Users
     * of started trainings get it as their {@code message_endpoint}, so whatever the round engine
     * sends is delivered and changes nothing (no participant removed, no state E) while a test looks
     * at uploads; no test depends on what arrives there.
     */
    static synchronized String notificationSink() {
        if (sink == null) {
            try {
                com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
                server.createContext("/", exchange -> {
                    try (exchange) {
                        exchange.getRequestBody().readAllBytes();
                        exchange.sendResponseHeaders(200, -1);
                    }
                });
                server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
                    Thread t = new Thread(r, "notification-sink");
                    t.setDaemon(true);
                    return t;
                }));
                server.start();
                sink = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return sink;
    }

    /** A user whose notifications go to {@link #notificationSink()}. */
    static Account user(ApiClient api, String prefix) {
        return api.createUser(prefix, notificationSink());
    }

    // ---------------------------------------------------------------- API steps

    static Reply postModel(ApiClient api, Account as, Multipart form) {
        return api.sendBytes("POST", "/api/models/", as.tokenHeader(), form.contentType(), form.bytes());
    }

    /** Uploads a global model and returns its id (asserting the 201 body). */
    static String upload(ApiClient api, Account as, Multipart form) {
        Reply r = postModel(api, as, form);
        assertEquals(201, r.status(), r.toString());
        assertEquals("Model Upload Accepted", r.detail());
        String id = r.json().getString("model_id");
        assertTrue(id.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), id);
        return id;
    }

    /** Uploads a fixture file as a global model. */
    static String uploadFixture(ApiClient api, Account as, String relative) {
        return upload(api, as, new Multipart().field("name", relative).field("description", "fixture")
                .file("model_file", "model.pt", fixture(relative)));
    }

    /** A training created through the API on a model the actor owns; started when asked. */
    record TrainingIds(String training, String model) {
    }

    static TrainingIds training(ApiClient api, Account actor, String modelId, boolean start, Account... clients) {
        JsonArrayBuilder ids = Json.createArrayBuilder();
        for (Account c : clients) {
            ids.add(c.id().toString());
        }
        Reply created = api.postJson("/api/trainings/", actor, Json.createObjectBuilder().add("model_id", modelId)
                .add("target_num_updates", 3).add("metric_names", Json.createArrayBuilder().add("accuracy"))
                .add("aggregation_method", "FedAvg").add("clients", ids).build().toString());
        assertEquals(201, created.status(), created.toString());
        String training = created.json().getString("training_id");
        if (start) {
            Reply started = api.send("POST", "/api/trainings/" + training + "/start/", actor.tokenHeader(), null,
                    (String) null);
            assertEquals(202, started.status(), started.toString());
        }
        String model = api.get("/api/trainings/" + training + "/", actor).json().getString("model");
        return new TrainingIds(training, model);
    }

    // ---------------------------------------------------------------- assertions

    /** A 400 with the list body {@code ["text"]}. */
    static void assertList(Reply r, String text) {
        assertEquals(400, r.status(), r.toString());
        assertEquals(List.of(text), r.array().getValuesAs(JsonString.class).stream().map(JsonString::getString)
                .toList());
    }

    /** A 400 with a list body whose one text starts with {@code prefix}. */
    static void assertListStartsWith(Reply r, String prefix) {
        assertEquals(400, r.status(), r.toString());
        List<String> texts = r.array().getValuesAs(JsonString.class).stream().map(JsonString::getString).toList();
        assertEquals(1, texts.size(), r.toString());
        assertTrue(texts.get(0).startsWith(prefix), r.toString());
    }

    /** The status and {@code {"detail": text}} (any non-blank detail when {@code detail} is null). */
    static void assertDetail(Reply r, int status, String detail) {
        assertEquals(status, r.status(), r.toString());
        assertTrue(r.header("Content-Type").startsWith("application/json"), r.toString());
        if (detail != null) {
            assertEquals(detail, r.detail());
        } else {
            assertFalse(r.detail().isBlank());
        }
    }

    static Set<String> ids(JsonArray models) {
        return models.getValuesAs(JsonObject.class).stream().map(m -> m.getString("id")).collect(Collectors.toSet());
    }

    static UUID uuid(String id) {
        return UUID.fromString(id);
    }

    static JsonValue nullable(String text) {
        return text == null ? JsonValue.NULL : Json.createValue(text);
    }
}
