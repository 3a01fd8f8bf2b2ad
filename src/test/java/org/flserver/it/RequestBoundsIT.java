package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.UUID;
import java.util.stream.Stream;
import org.flserver.inference.TestImages;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Requests that used to exhaust the server — multipart field floods, oversized text fields, image
 * bombs, metric reports without a row cap, JSON nested a thousand deep or with numbers of
 * thousands of digits — each answered with its exact 4xx and JSON body, and followed by a normal
 * request that must still work. All of it over HTTP/1.1 (a client pinned to it, as the DLR client
 * and curl speak it), where a refused body that is still being sent is what a client meets.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RequestBoundsIT {

    private static final Path INFERENCE = Path.of("src", "test", "resources", "inference");
    private static final String TOO_MANY_PARTS = "{\"detail\": \"Too many form parts: at most 100 per request.\"}";

    private final ApiClient api = new ApiClient();
    private Account owner;
    private byte[] modelFile;
    private String modelId;

    @BeforeAll
    void createFixtures() throws IOException {
        owner = api.createUser("bounds");
        modelFile = Files.readAllBytes(Path.of(System.getProperty("fl.fixtures"), "models", "mlp.torchscript.pt"));
        modelId = uploadModel("bounds model");
    }

    // --- multipart: parts, text fields

    @Test
    void aFloodOfEmptyFieldsIsRefusedAtTheHundredAndFirstPart() throws IOException {
        // 80,000 empty fields (about 7 MB, under the test server's 8 MiB upload limit)
        Multipart flood = new Multipart();
        for (int i = 0; i < 80_000; i++) {
            flood.field("f", "");
        }
        Reply reply = send("POST", "/api/models/", flood.contentType(),
                HttpRequest.BodyPublishers.ofByteArray(flood.bytes()));
        assertBody(413, TOO_MANY_PARTS, reply);
        assertNormalUploadWorks();
    }

    @Test
    void aChunkedFloodLargerThanTheUploadLimitIsCutAtThePartBoundNotReadToTheSizeBound() throws IOException {
        // 20 MB of fields without a declared length, generated as it is sent. Had the server read
        // on, it would have stopped at fl.upload.max-bytes (8 MiB here) with "Request body too
        // large"; the answer names the part bound, crossed after about 9 KB.
        long total = 20L << 20;
        String boundary = "flood-" + UUID.randomUUID();
        byte[] field = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        HttpRequest.BodyPublisher body = HttpRequest.BodyPublishers.ofInputStream(() -> new Repeating(field, total));
        Reply reply = send("POST", "/api/models/", "multipart/form-data; boundary=" + boundary, body);
        assertBody(413, TOO_MANY_PARTS, reply);
        assertNormalUploadWorks();
    }

    @Test
    void chunkedUrlEncodedSignUpsAndGroupsAreCutAtTheJsonBound() {
        // 3 MiB of fields without a declared length: RequestSizeLimit sees no length, and the
        // runtime's form reader used to take all of it into the heap (then answered with field errors)
        for (String path : new String[]{"/api/users/", "/api/groups/"}) {
            HttpRequest.BodyPublisher body = HttpRequest.BodyPublishers.ofInputStream(
                    () -> new Repeating("name=x&".getBytes(StandardCharsets.US_ASCII), 3L << 20));
            assertBody(413, "{\"detail\": \"Request body too large: at most 1048576 bytes.\"}",
                    send("POST", path, "application/x-www-form-urlencoded", body));
        }
        String name = ApiClient.uniqueName("grp");
        Reply group = send("POST", "/api/groups/", "application/x-www-form-urlencoded",
                HttpRequest.BodyPublishers.ofInputStream(() -> new Repeating(("name=" + name).getBytes(
                        StandardCharsets.US_ASCII), name.length() + 5)));
        assertEquals(201, group.status(), group.toString());
    }

    Stream<String> multipartRoutes() {
        return Stream.of("/api/models/", "/api/models/@/", "/api/models/@/preprocessing/", "/api/models/@/swag/",
                "/api/models/@/metrics/", "/api/inference/");
    }

    @ParameterizedTest
    @MethodSource("multipartRoutes")
    void everyMultipartRouteCountsItsParts(String route) {
        Multipart form = new Multipart();
        for (int i = 0; i < 101; i++) {
            form.field("metric_names", "m" + i);
        }
        Reply reply = send("POST", route.replace("@", modelId), form.contentType(),
                HttpRequest.BodyPublishers.ofByteArray(form.bytes()));
        assertBody(413, TOO_MANY_PARTS, reply);
        // a hundred parts are fine: here 50 metrics, 100 fields, reported as multipart
        Multipart hundred = new Multipart();
        for (int i = 0; i < 50; i++) {
            hundred.field("metric_names", "m" + i).field("metric_values", Integer.toString(i));
        }
        String metrics = "/api/models/" + modelId + "/metrics/";
        int before = get(metrics).array().size();
        assertEquals(201, send("POST", metrics, hundred.contentType(),
                HttpRequest.BodyPublishers.ofByteArray(hundred.bytes())).status());
        assertEquals(before + 50, get(metrics).array().size());
    }

    @Test
    void oneTextFieldIsBoundedAndSoAreAllTogether() throws IOException {
        Multipart longRound = new Multipart().field("round", "1".repeat(65_537)).field("sample_size", "1")
                .file("model_file", "m.pt", modelFile);
        assertBody(413, "{\"detail\": \"Field 'round' is too long: at most 65536 bytes.\"}",
                send("POST", "/api/models/" + modelId + "/", longRound.contentType(),
                        HttpRequest.BodyPublishers.ofByteArray(longRound.bytes())));

        // twenty fields of 60,000 bytes: each fits, together they are 1.2 MB
        Multipart many = new Multipart().field("name", "n");
        for (int i = 0; i < 20; i++) {
            many.field("description", "d".repeat(60_000));
        }
        many.file("model_file", "m.pt", modelFile);
        assertBody(413, "{\"detail\": \"Form fields too large: at most 1048576 bytes in all fields that are no"
                        + " files.\"}",
                send("POST", "/api/models/", many.contentType(), HttpRequest.BodyPublishers.ofByteArray(many.bytes())));

        // a field of exactly 65,536 bytes and a file of 2 MiB (files are no text fields) are fine
        Multipart fits = new Multipart().field("name", "fits").field("description", "d".repeat(65_536))
                .file("model_file", "w.safetensors", safetensors(512 * 1024));
        Reply ok = send("POST", "/api/models/", fits.contentType(), HttpRequest.BodyPublishers.ofByteArray(fits.bytes()));
        assertEquals(201, ok.status(), ok.toString());
        assertNormalUploadWorks();
    }

    /** A safetensors file of one float32 tensor "w" with that many elements (all zero). */
    private static byte[] safetensors(int elements) {
        byte[] header = ("{\"w\":{\"dtype\":\"F32\",\"shape\":[" + elements + "],\"data_offsets\":[0,"
                + elements * 4 + "]}}").getBytes(StandardCharsets.US_ASCII);
        java.nio.ByteBuffer file = java.nio.ByteBuffer.allocate(8 + header.length + elements * 4)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        file.putLong(header.length).put(header);
        return file.array();
    }

    // --- metrics

    @Test
    void aMetricsReportOfMoreThanAThousandRowsIsRefusedBeforeAnyIsStored() {
        String model = uploadModel("metrics model");
        String path = "/api/models/" + model + "/metrics/";
        for (int rows : new int[]{1001, 25_000}) {
            assertBody(413, "{\"detail\": \"Too many metrics: at most 1000 per request.\"}",
                    send("POST", path, "application/x-www-form-urlencoded", form(rows)));
            assertEquals(0, get(path).array().size(), "nothing stored");
        }
        // a thousand rows are stored, in the order of the report
        Reply ok = send("POST", path, "application/x-www-form-urlencoded", form(1000));
        assertEquals(201, ok.status(), ok.toString());
        JsonArray stored = get(path).array();
        assertEquals(1000, stored.size());
        for (int i = 0; i < 1000; i++) {
            JsonObject metric = stored.getJsonObject(i);
            assertEquals("k" + i, metric.getString("key"));
            assertEquals(i / 4.0, metric.getJsonNumber("value_float").doubleValue());
            if (i > 0) {
                assertTrue(metric.getJsonNumber("id").longValue() > stored.getJsonObject(i - 1).getJsonNumber("id")
                        .longValue());
            }
        }
    }

    private static HttpRequest.BodyPublisher form(int rows) {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < rows; i++) {
            body.append(i == 0 ? "" : "&").append("metric_names=k").append(i).append("&metric_values=").append(i / 4.0);
        }
        return HttpRequest.BodyPublishers.ofString(body.toString());
    }

    // --- image bombs

    @Test
    void anImageWhoseHeaderPromises900MegapixelsIsRefusedUndecoded() throws IOException {
        UUID model = trainedModelWithPreprocessing();
        byte[] bomb = TestImages.withPngSize(TestImages.encoded(8, 8, "png"), 30_000, 30_000);
        String refusal = "[\"The model input image is too large: 30000 × 30000 pixels, at most 4194304 pixels.\"]";
        Multipart file = new Multipart().field("model_id", model.toString()).field("return_format", "json")
                .file("model_input", "bomb.png", bomb);
        assertBody(400, refusal, send("POST", "/api/inference/", file.contentType(),
                HttpRequest.BodyPublishers.ofByteArray(file.bytes())));
        String json = Json.createObjectBuilder().add("model_id", model.toString())
                .add("model_input", Base64.getEncoder().encodeToString(bomb)).build().toString();
        assertBody(400, refusal, send("POST", "/api/inference/", "application/json",
                HttpRequest.BodyPublishers.ofString(json)));

        // the 8x8 fixture image still predicts what PyTorch computed for it
        JsonObject expected;
        try (var reader = Json.createReader(Files.newBufferedReader(INFERENCE.resolve("preprocess.json")))) {
            expected = reader.readObject().getJsonObject("image_file").getJsonObject("none");
        }
        Multipart image = new Multipart().field("model_id", model.toString()).field("return_format", "json")
                .file("model_input", "image.png", Files.readAllBytes(INFERENCE.resolve("image.png")));
        Reply ok = send("POST", "/api/inference/", image.contentType(),
                HttpRequest.BodyPublishers.ofByteArray(image.bytes()));
        assertEquals(200, ok.status(), ok.toString());
        assertEquals(expected.getJsonArray("argmax"), ok.json().getJsonArray("inference"));
    }

    private UUID trainedModelWithPreprocessing() throws IOException {
        Multipart form = new Multipart().field("name", "bounds inference").field("description", "it")
                .field("input_shape", "None").field("input_shape", "8")
                .file("model_file", "model.pt", Files.readAllBytes(INFERENCE.resolve("mlp.pt")))
                .file("model_preprocessing_file", "pre.pt", Files.readAllBytes(INFERENCE.resolve("preprocess.pt")));
        Reply upload = send("POST", "/api/models/", form.contentType(), HttpRequest.BodyPublishers.ofByteArray(form.bytes()));
        assertEquals(201, upload.status(), upload.toString());
        String model = upload.json().getString("model_id");
        Reply training = send("POST", "/api/trainings/", "application/json", HttpRequest.BodyPublishers.ofString(
                "{\"model_id\": \"" + model + "\", \"target_num_updates\": 1, \"metric_names\": [\"accuracy\"],"
                        + " \"aggregation_method\": \"FedAvg\", \"uncertainty_method\": \"NONE\", \"options\": {}}"));
        assertEquals(201, training.status(), training.toString());
        return UUID.fromString(model);
    }

    // --- JSON

    @Test
    void jsonNestedTooDeeplyOrWithHugeNumbersIsA400EvenUnauthenticated() {
        String deep = "{\"username\": " + "[".repeat(1000) + "]".repeat(1000) + "}";
        assertBody(400, "{\"detail\": \"JSON parse error - nested too deeply: at most 64 levels of arrays and"
                + " objects.\"}", sendAnonymous("/api/users/", deep));
        String user = "{\"username\": \"" + ApiClient.uniqueName("bnd") + "\", \"password\": \"p\", \"x\": ";
        assertBody(400, "{\"detail\": \"JSON parse error - a number is too long: at most 100 characters.\"}",
                sendAnonymous("/api/users/", user + "9".repeat(5000) + "}"));
        assertBody(400, "{\"detail\": \"JSON parse error - a number's exponent is too large: at most 1000 in"
                + " magnitude.\"}", sendAnonymous("/api/users/", user + "1e1000000000}"));

        String training = "{\"model_id\": \"" + modelId + "\", \"metric_names\": [\"accuracy\"],"
                + " \"aggregation_method\": \"FedAvg\", \"target_num_updates\": ";
        assertBody(400, "{\"detail\": \"JSON parse error - a number is too long: at most 100 characters.\"}",
                send("POST", "/api/trainings/", "application/json",
                        HttpRequest.BodyPublishers.ofString(training + "1".repeat(5000) + "}")));
        // within the limits, 1e1000 is a number with a negative scale: no integer, and never expanded
        assertBody(400, "{\"target_num_updates\": [\"Not a valid integer.\"]}", send("POST", "/api/trainings/",
                "application/json", HttpRequest.BodyPublishers.ofString(training + "1e1000}")));
        assertBody(400, "{\"detail\": \"JSON parse error - nested too deeply: at most 64 levels of arrays and"
                + " objects.\"}", send("POST", "/api/inference/", "application/json", HttpRequest.BodyPublishers
                .ofString("{\"model_id\": \"" + modelId + "\", \"model_input\": " + "[".repeat(100)
                        + "]".repeat(100) + "}")));

        // normal JSON still works, anonymous and authenticated
        String name = ApiClient.uniqueName("bnd");
        Reply created = sendAnonymous("/api/users/", "{\"username\": \"" + name + "\", \"password\": \"p\"}");
        assertEquals(201, created.status(), created.toString());
        assertEquals(name, created.json().getString("username"));
        Reply started = send("POST", "/api/trainings/", "application/json",
                HttpRequest.BodyPublishers.ofString(training + "3}"));
        assertEquals(201, started.status(), started.toString());
    }

    // --- helpers

    private void assertNormalUploadWorks() {
        String id = uploadModel("after a refusal");
        assertTrue(get("/api/models/").array().stream()
                .anyMatch(m -> m.asJsonObject().getString("id").equals(id)), "the new model is listed");
    }

    private String uploadModel(String name) {
        Multipart form = new Multipart().field("name", name).field("description", "d")
                .file("model_file", "mlp.pt", modelFile);
        Reply r = send("POST", "/api/models/", form.contentType(), HttpRequest.BodyPublishers.ofByteArray(form.bytes()));
        assertEquals(201, r.status(), r.toString());
        return r.json().getString("model_id");
    }

    private Reply get(String path) {
        Reply r = send("GET", path, null, HttpRequest.BodyPublishers.noBody());
        assertEquals(200, r.status(), r.toString());
        return r;
    }

    private Reply send(String method, String path, String contentType, HttpRequest.BodyPublisher body) {
        return exchange(method, path, owner.tokenHeader(), contentType, body);
    }

    private Reply sendAnonymous(String path, String json) {
        return exchange("POST", path, null, "application/json", HttpRequest.BodyPublishers.ofString(json));
    }

    private Reply exchange(String method, String path, String authorization, String contentType,
                           HttpRequest.BodyPublisher body) {
        return api.exchange(method, path, authorization, contentType, body);
    }

    private static void assertBody(int status, String json, Reply reply) {
        assertEquals(status, reply.status(), reply.toString());
        assertEquals("application/json", reply.header("Content-Type").split(";")[0].trim(), reply.toString());
        assertEquals(parse(json), parse(reply.body()), reply.toString());
    }

    private static JsonValue parse(String json) {
        try (var reader = Json.createReader(new StringReader(json))) {
            return reader.readValue();
        }
    }

    /** The same bytes over and over up to a length, made as they are read (nothing held but one copy). */
    private static final class Repeating extends InputStream {
        private final byte[] unit;
        private final long length;
        private long position;

        Repeating(byte[] unit, long length) {
            this.unit = unit;
            this.length = length;
        }

        @Override
        public int read() {
            return position < length ? unit[(int) (position++ % unit.length)] & 0xff : -1;
        }

        @Override
        public int read(byte[] buffer, int offset, int count) {
            if (position >= length) {
                return -1;
            }
            int n = (int) Math.min(count, length - position);
            for (int i = 0; i < n; i++) {
                buffer[offset + i] = unit[(int) (position++ % unit.length)];
            }
            return n;
        }
    }
}
