package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.flserver.tensor.safetensors.SafetensorsWriter;

/**
 * What end-to-end tests do as actor and participants, through the public API only: upload a global
 * model, create and start a training, send local updates, SWAG moments and metrics the way the DLR
 * client does, read the training and its provenance — plus independent checks of the results
 * (weighted means computed here in double precision) and direct reads of the test database.
 */
public final class TrainingDriver implements AutoCloseable {

    static final Duration WAIT = Duration.ofSeconds(60);

    /** A participant: an account whose message endpoint is a simulated client (null: none listening). */
    public record Participant(Account account, SimulatedClient endpoint) {
    }

    ApiClient api;
    final List<SimulatedClient> endpoints = new ArrayList<>();

    public TrainingDriver(ApiClient api) {
        this.api = api;
    }

    public Participant participant(String prefix) throws IOException {
        SimulatedClient endpoint = new SimulatedClient();
        endpoints.add(endpoint);
        return new Participant(api.createUser(prefix, endpoint.endpoint()), endpoint);
    }

    /** The client this driver talks through. */
    public ApiClient api() {
        return api;
    }

    /** Talks to another server from now on (the same database; a restarted or second instance). */
    public void useServer(String baseUrl) {
        api = new ApiClient(baseUrl);
    }

    @Override
    public void close() {
        endpoints.forEach(SimulatedClient::close);
        endpoints.clear();
    }

    public UUID uploadGlobal(Account owner, Path file) throws IOException {
        Multipart form = new Multipart().field("name", "e2e " + file.getFileName()).field("description", "e2e")
                .file("model_file", file.getFileName().toString(), Files.readAllBytes(file));
        Reply r = api.sendBytes("POST", "/api/models/", owner.tokenHeader(), form.contentType(), form.bytes());
        assertEquals(201, r.status(), r.toString());
        return UUID.fromString(r.json().getString("model_id"));
    }

    public String createTraining(Account actor, UUID model, int target, String aggregation, String uncertainty,
                                  String options, List<Participant> clients) {
        StringBuilder body = new StringBuilder("{\"model_id\": \"" + model + "\", \"target_num_updates\": " + target
                + ", \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"" + aggregation + "\", \"options\": "
                + options);
        if (uncertainty != null) {
            body.append(", \"uncertainty_method\": \"").append(uncertainty).append('"');
        }
        body.append(", \"clients\": [");
        for (int i = 0; i < clients.size(); i++) {
            body.append(i == 0 ? "" : ", ").append('"').append(clients.get(i).account().id()).append('"');
        }
        body.append("]}");
        Reply r = api.postJson("/api/trainings/", actor, body.toString());
        assertEquals(201, r.status(), r.toString());
        return r.json().getString("training_id");
    }

    public void start(Account actor, String training) {
        Reply r = api.send("POST", "/api/trainings/" + training + "/start/", actor.tokenHeader(), null, null);
        assertEquals(202, r.status(), r.toString());
    }

    public Reply uploadUpdate(Participant client, UUID model, int round, Path file, int sampleSize) {
        try {
            Multipart form = new Multipart().field("round", Integer.toString(round))
                    .field("sample_size", Integer.toString(sampleSize))
                    .field("owner", client.account().id().toString())
                    .file("model_file", "model.pt", Files.readAllBytes(file));
            return api.sendBytes("POST", "/api/models/" + model + "/", client.account().basicHeader(),
                    form.contentType(), form.bytes());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    Reply uploadMoments(Participant client, UUID model, int round, float[] first, float[] second,
                                int sampleSize) throws IOException {
        Multipart form = new Multipart().field("round", Integer.toString(round))
                .field("sample_size", Integer.toString(sampleSize))
                .file("first_moment_file", "first.safetensors", safetensors(first))
                .file("second_moment_file", "second.safetensors", safetensors(second));
        return api.sendBytes("POST", "/api/models/" + model + "/swag/", client.account().basicHeader(),
                form.contentType(), form.bytes());
    }

    static byte[] safetensors(float[] v) throws IOException {
        ByteBuffer data = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            data.putFloat(x);
        }
        data.flip();
        Path file = Files.createTempFile("moment", ".safetensors");
        try {
            SafetensorsWriter.write(file, Map.of(), List.of(new SafetensorsWriter.Tensor("moment", DType.FLOAT32,
                    List.of((long) v.length), data)));
            return Files.readAllBytes(file);
        } finally {
            Files.delete(file);
        }
    }

    /** Every client reports a metric for the model's current round (urlencoded, as the DLR client does). */
    void reportMetrics(List<Participant> clients, UUID model, String accuracy) {
        for (Participant c : clients) {
            Reply r = api.send("POST", "/api/models/" + model + "/metrics/", c.account().basicHeader(),
                    "application/x-www-form-urlencoded", "metric_names=accuracy&metric_values=" + accuracy);
            assertEquals(201, r.status(), r.toString());
        }
    }

    public static void awaitAll(List<Participant> clients, String type, int round) {
        for (Participant c : clients) {
            c.endpoint().await(type, round, WAIT);
        }
    }

    static void awaitCondition(java.util.function.BooleanSupplier condition, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + WAIT + ": " + what);
            }
            Thread.sleep(200);
        }
    }

    JsonObject trainingJson(Participant actor, String training) {
        Reply r = api.get("/api/trainings/" + training + "/", actor.account());
        assertEquals(200, r.status(), r.toString());
        return r.json();
    }

    JsonArray provenance(Participant actor, String training) {
        Reply r = api.get("/api/trainings/" + training + "/provenance/", actor.account());
        assertEquals(200, r.status(), r.toString());
        return r.array();
    }

    byte[] download(Participant who, UUID model) {
        var response = api.download("/api/models/" + model + "/", who.account());
        assertEquals(200, response.statusCode());
        return response.body();
    }

    Set<String> localModelIds(Participant actor, String training, int round) {
        Set<String> ids = new HashSet<>();
        for (var v : api.get("/api/trainings/" + training + "/models/", actor.account()).array()) {
            JsonObject m = v.asJsonObject();
            if (m.containsKey("base_model") && m.getInt("round") == round) {
                ids.add(m.getString("id"));
            }
        }
        return ids;
    }

    /**
     * Checks every float32 storage of {@code result} against Σ n_i x_i / Σ n_i over the clients'
     * same storage, computed here in double precision in client order and rounded once to float.
     */
    static void assertWeightedMean(Path result, List<Path> clients, int[] sizes) throws IOException {
        WeightFile out = WeightFiles.open(result);
        List<WeightFile> in = new ArrayList<>();
        for (Path c : clients) {
            in.add(WeightFiles.open(c));
        }
        double total = 0;
        for (int i = 0; i < clients.size(); i++) {
            total += sizes[i];
        }
        int checked = 0;
        for (StorageInfo s : out.storages()) {
            assertEquals(DType.FLOAT32, s.dtype(), "the fixture set is float32 only");
            float[] actual = floats(result, s);
            double[] acc = new double[actual.length];
            for (int i = 0; i < in.size(); i++) {
                float[] x = floats(clients.get(i), in.get(i).storage(s.key()).orElseThrow());
                for (int j = 0; j < acc.length; j++) {
                    acc[j] += (double) x[j] * sizes[i];
                }
            }
            for (int j = 0; j < acc.length; j++) {
                assertEquals((float) (acc[j] / total), actual[j], 0.0f, "storage " + s.key() + " element " + j);
                checked++;
            }
        }
        assertTrue(checked > 0);
    }

    static float[] floats(Path file, StorageInfo s) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) s.length()).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, s.offset() + buf.position()) < 0) {
                    throw new IOException("short file");
                }
            }
        }
        buf.flip();
        float[] v = new float[(int) s.numel()];
        buf.asFloatBuffer().get(v);
        return v;
    }

    /** The number of floating parameters, counted over the model's tensors (SWAG vectors are that long). */
    static int floatingParameters(Path model) throws IOException {
        long n = 0;
        for (TensorInfo t : WeightFiles.open(model).tensors()) {
            if (t.dtype().isFloatingPoint()) {
                n += t.numel();
            }
        }
        return Math.toIntExact(n);
    }

    /** Client {@code i}'s made-up first moment vector: distinct per client and per element. */
    static float[] firstMoment(int parameters, int i) {
        float[] first = new float[parameters];
        for (int j = 0; j < parameters; j++) {
            first[j] = (i + 1) * 0.5f + j * 1e-3f;
        }
        return first;
    }

    /** Client {@code i}'s second moment to go with {@code first} (its square plus a client offset). */
    static float[] secondMoment(float[] first, int i) {
        float[] second = new float[first.length];
        for (int j = 0; j < first.length; j++) {
            second[j] = first[j] * first[j] + 0.25f * (i + 1);
        }
        return second;
    }

    static void assertMomentMean(Path file, List<float[]> vectors, int[] sizes) throws IOException {
        WeightFile stored = WeightFiles.open(file);
        assertEquals(1, stored.tensors().size());
        float[] actual = floats(file, stored.storages().get(0));
        for (int j = 0; j < actual.length; j++) {
            double acc = 0;
            for (int i = 0; i < vectors.size(); i++) {
                acc += (double) vectors.get(i)[j] * sizes[i];
            }
            assertEquals((float) (acc / java.util.Arrays.stream(sizes).sum()), actual[j], 0.0f, "moment element " + j);
        }
    }

    /** A file stored by the test servers (they share {@link IntegrationEnvironment#DATA_DIRECTORY}). */
    static Path dataFile(String sha256) {
        Path p = IntegrationEnvironment.DATA_DIRECTORY.resolve("files").resolve(sha256.substring(0, 2)).resolve(sha256);
        assertTrue(Files.isRegularFile(p), "stored file " + p);
        return p;
    }

    /**
     * The training's outbox as the database has it, one line per notification, for the message of a
     * failed assertion about what a participant received (e.g. to tell a second row from a second
     * delivery of one row).
     */
    static String notificationRows(String training) {
        return notificationRows(IntegrationEnvironment.jdbcUrl(), training);
    }

    /** The same from the database at {@code jdbcUrl} (a test's own schema, as servers of its own use). */
    static String notificationRows(String jdbcUrl, String training) {
        StringBuilder rows = new StringBuilder("notification rows of training " + training + ":");
        try (Connection c = DriverManager.getConnection(jdbcUrl, "fl", "fl");
             PreparedStatement s = c.prepareStatement("SELECT id, receiver_id, type, status, attempts, lease_owner,"
                     + " created_at, finished_at, payload FROM notification WHERE training_id = ? ORDER BY id")) {
            s.setObject(1, UUID.fromString(training));
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.append("\n  ");
                    for (int i = 1; i <= 9; i++) {
                        rows.append(i > 1 ? " | " : "").append(r.getString(i));
                    }
                }
            }
        } catch (Exception e) {
            rows.append(" (not readable: ").append(e).append(')');
        }
        return rows.toString();
    }

    /** The first column of every row of a query with one UUID parameter, as text, from the database at {@code jdbcUrl}. */
    static List<String> column(String jdbcUrl, String sql, UUID id) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(jdbcUrl, "fl", "fl");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, id);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    values.add(r.getString(1));
                }
            }
        }
        return values;
    }

    static long count(String sql, String id) throws Exception {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, UUID.fromString(id));
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    static String[] stringColumns(String sql, String id, int columns) throws Exception {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, UUID.fromString(id));
            try (ResultSet r = s.executeQuery()) {
                assertTrue(r.next());
                String[] values = new String[columns];
                for (int i = 0; i < columns; i++) {
                    values[i] = r.getString(i + 1);
                }
                return values;
            }
        }
    }

    static String sha256(Path file) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        return java.util.HexFormat.of().formatHex(md.digest(Files.readAllBytes(file)));
    }
}
