package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /api/inference/} on the shared test server, which has the TorchScript runtime on its
 * class path (inference API and uncertainty methods). Every expected number was computed by PyTorch 1.13 and
 * stored beside the fixture ({@code src/test/resources/inference/*.json}, made by
 * {@code src/test/python/inference/make_fixtures.py}): class indices for NONE, the ensemble's
 * statistics, the seeded MC-dropout passes and the seeded SWAG samples.
 */
class InferenceApiIT {

    private static final Path FIXTURES = Path.of("src", "test", "resources", "inference");
    private static final double TOLERANCE = 1e-5;

    private static final ApiClient API = new ApiClient();
    private static Account owner;
    private static JsonObject mlp;

    @BeforeAll
    static void setUp() throws IOException {
        owner = API.createUser("inference");
        mlp = json("mlp.json");
    }

    // ---------------------------------------------------------------------------------------------
    // A. the four methods, both formats, preprocessing, the input shape

    @Test
    void noneAnswersTheArgmaxAsJsonAndAsATorchSaveArchive() throws Exception {
        UUID model = trainedModel("mlp.pt", null, "NONE", "{}");
        JsonArray input = mlp.getJsonObject("input").getJsonArray("values");
        Reply r = infer(model, input, null);
        assertEquals(200, r.status(), r.toString());
        assertEquals(mlp.getJsonObject("none").getJsonArray("argmax"), r.json().getJsonArray("inference"));
        assertEquals(JsonValue.EMPTY_JSON_OBJECT, r.json().getJsonObject("uncertainty"));

        // binary: a torch.save archive (our reader opens it; PyTorch loads such archives, TorchSaveWriterPythonIT)
        var raw = downloadBinary(model, input);
        Path file = Files.createTempFile("inference", ".pt");
        Files.write(file, raw);
        WeightFile archive = WeightFiles.open(file);
        TensorInfo inference = archive.tensors().stream().filter(t -> t.name().equals("inference")).findFirst()
                .orElseThrow();
        assertEquals(List.of(5L), inference.shape());
        assertEquals("int64", inference.dtype().torchName());
        long[] classes = longs(file, archive.storage(inference.storageKey()).orElseThrow(), 5);
        for (int i = 0; i < 5; i++) {
            assertEquals(mlp.getJsonObject("none").getJsonArray("argmax").getInt(i), classes[i]);
        }
    }

    @Test
    void ensembleAnswersTheMembersMeanAndSpreadWithEntropiesForProbabilities() throws Exception {
        JsonObject expected = json("ensemble.json");
        for (String variant : List.of("raw", "softmax")) {
            List<String> members = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                members.add(upload(variant.equals("raw") ? "ens" + i + ".pt" : "ens_softmax" + i + ".pt", null)
                        .toString());
            }
            Reply mean = API.postJson("/api/models/", owner, Json.createObjectBuilder().add("type", "MEAN")
                    .add("name", "ensemble").add("description", "three members")
                    .add("models", Json.createArrayBuilder(members)).build().toString());
            assertEquals(201, mean.status(), mean.toString());
            UUID ensemble = UUID.fromString(mean.json().getString("model_id"));
            train(ensemble, "ENSEMBLE", "{}");
            Reply r = infer(ensemble, expected.getJsonObject("input").getJsonArray("values"), "json");
            assertEquals(200, r.status(), r.toString());
            JsonObject want = expected.getJsonObject(variant);
            assertClose(want.getJsonArray("mean"), r.json().getJsonArray("inference"));
            JsonObject uncertainty = r.json().getJsonObject("uncertainty");
            assertClose(want.getJsonArray("variance"), uncertainty.getJsonArray("variance"));
            assertClose(want.getJsonArray("std"), uncertainty.getJsonArray("std"));
            if (variant.equals("softmax")) {
                for (String key : List.of("predictive_entropy", "expected_entropy", "mutual_info")) {
                    assertClose(want.getJsonArray(key), uncertainty.getJsonArray(key));
                }
            } else {
                assertEquals(2, uncertainty.size(), "logits are no probabilities: no entropies");
            }
        }
    }

    @Test
    void seededMcDropoutEqualsPyTorchsPassesAndAModelWithoutTheFlagIsRefused() throws Exception {
        for (String variant : List.of("mc_dropout", "mc_dropout_softmax")) {
            JsonObject want = mlp.getJsonObject(variant);
            UUID model = trainedModel(variant.endsWith("softmax") ? "mlp_softmax.pt" : "mlp.pt", null, "MC_DROPOUT",
                    "{\"uncertainty\": {\"N\": " + want.getInt("N") + ", \"seed\": " + want.getInt("seed") + "}}");
            Reply r = infer(model, mlp.getJsonObject("input").getJsonArray("values"), "json");
            assertEquals(200, r.status(), r.toString());
            assertClose(want.getJsonArray("mean"), r.json().getJsonArray("inference"));
            JsonObject uncertainty = r.json().getJsonObject("uncertainty");
            assertClose(want.getJsonArray("variance"), uncertainty.getJsonArray("variance"));
            assertClose(want.getJsonArray("std"), uncertainty.getJsonArray("std"));
            if (variant.endsWith("softmax")) {
                assertClose(want.getJsonArray("mutual_info"), uncertainty.getJsonArray("mutual_info"));
            }
        }
        UUID noFlag = trainedModel("mlp_noflag.pt", null, "MC_DROPOUT", "{}");
        Reply refused = infer(noFlag, mlp.getJsonObject("input").getJsonArray("values"), "json");
        assertEquals(400, refused.status(), refused.toString());
        assertTrue(refused.detail().contains("mc: bool"), refused.toString());
    }

    @Test
    void swagSamplesTheStoredMomentsLikePyTorchWithTheSameSeed() throws Exception {
        JsonObject swag = json("swag.json");
        try (TrainingDriver driver = new TrainingDriver(API)) {
            Participant actor = driver.participant("actor");
            Participant client = driver.participant("client");
            UUID model = driver.uploadGlobal(actor.account(), FIXTURES.resolve("mlp.pt"));
            String training = driver.createTraining(actor.account(), model, 1, "FedAvg", "SWAG",
                    "{\"uncertainty\": {\"N\": " + swag.getInt("N") + ", \"seed\": " + swag.getInt("seed") + "}}",
                    List.of(client));
            driver.start(actor.account(), training);
            client.endpoint().await("UPDATE_ROUND_START", 0, TrainingDriver.WAIT);
            assertEquals(201, driver.uploadUpdate(client, model, 0, FIXTURES.resolve("mlp.pt"), 1).status());
            client.endpoint().await("SWAG_ROUND_START", 1, TrainingDriver.WAIT);
            Multipart moments = new Multipart().field("round", "1").field("sample_size", "1")
                    .file("first_moment_file", "first.safetensors",
                            Files.readAllBytes(FIXTURES.resolve("swag_first.safetensors")))
                    .file("second_moment_file", "second.safetensors",
                            Files.readAllBytes(FIXTURES.resolve("swag_second.safetensors")));
            Reply stats = API.sendBytes("POST", "/api/models/" + model + "/swag/", client.account().basicHeader(),
                    moments.contentType(), moments.bytes());
            assertEquals(201, stats.status(), stats.toString());
            client.endpoint().await("MODEL_TEST_ROUND", 1, TrainingDriver.WAIT);

            Reply r = API.postJson("/api/inference/", actor.account(), body(model,
                    swag.getJsonObject("input").getJsonArray("values"), "json"));
            assertEquals(200, r.status(), r.toString());
            assertClose(swag.getJsonArray("mean"), r.json().getJsonArray("inference"), 1e-4);
            assertClose(swag.getJsonArray("std"), r.json().getJsonObject("uncertainty").getJsonArray("std"), 1e-4);
        }
    }

    @Test
    void preprocessingRunsFirstAndInputsMayBeTensorFilesImagesOrBase64() throws Exception {
        JsonObject pre = json("preprocess.json");
        UUID model = trainedModel("mlp.pt", "preprocess.pt", "NONE", "{}");
        Reply raw = infer(model, pre.getJsonObject("raw_input").getJsonArray("values"), "json");
        assertEquals(200, raw.status(), raw.toString());
        assertEquals(pre.getJsonObject("none").getJsonArray("argmax"), raw.json().getJsonArray("inference"));

        // an image file, as multipart, preprocessed: 8x8 grey → [8, 8] uint8 → the model
        Multipart image = new Multipart().field("model_id", model.toString()).field("return_format", "json")
                .file("model_input", "image.png", Files.readAllBytes(FIXTURES.resolve("image.png")));
        Reply fromImage = API.sendBytes("POST", "/api/inference/", owner.tokenHeader(), image.contentType(),
                image.bytes());
        assertEquals(200, fromImage.status(), fromImage.toString());
        assertEquals(pre.getJsonObject("image_file").getJsonObject("none").getJsonArray("argmax"),
                fromImage.json().getJsonArray("inference"));

        // a torch.save'd tensor, as base64 in JSON, to a model without preprocessing
        UUID plain = trainedModel("mlp.pt", null, "NONE", "{}");
        String base64 = Base64.getEncoder().encodeToString(Files.readAllBytes(FIXTURES.resolve("input.pt")));
        Reply fromFile = API.postJson("/api/inference/", owner, "{\"model_id\": \"" + plain + "\", \"model_input\": \""
                + base64 + "\"}");
        assertEquals(200, fromFile.status(), fromFile.toString());
        assertEquals(pre.getJsonObject("input_file").getJsonObject("none").getJsonArray("argmax"),
                fromFile.json().getJsonArray("inference"));
    }

    @Test
    void anInputOfAnotherShapeIsRefused() throws Exception {
        UUID model = trainedModel("mlp.pt", null, "NONE", "{}");
        Reply r = infer(model, Json.createArrayBuilder().add(Json.createArrayBuilder().add(1).add(2)).build(), "json");
        assertEquals(400, r.status(), r.toString());
        assertEquals("[\"Input shape does not match model input shape.\"]", r.body());
    }

    // ---------------------------------------------------------------------------------------------
    // B. models that cannot run, and requests that are wrong

    @Test
    void nonTorchScriptModelsAre400AndTheServerGoesOn() throws Exception {
        Path shared = Path.of(System.getProperty("fl.fixtures"), "models");
        JsonArray input = mlp.getJsonObject("input").getJsonArray("values");
        for (String file : List.of("mlp.state_dict.pt", "mlp.module.pt", "mlp.safetensors")) {
            UUID model = trainedModel(shared.resolve(file), null, "NONE", "{}");
            Reply r = infer(model, input, "json");
            assertEquals(400, r.status(), file + ": " + r);
            assertTrue(r.detail().contains("TorchScript"), r.toString());
        }
        UUID good = trainedModel("mlp.pt", null, "NONE", "{}");
        assertEquals(200, infer(good, input, "json").status(), "the server still runs models");
    }

    @Test
    void badRequestsAreRefusedClearly() throws Exception {
        UUID model = trainedModel("mlp.pt", null, "NONE", "{}");
        JsonArray input = mlp.getJsonObject("input").getJsonArray("values");
        Reply format = infer(model, input, "pickle");
        assertEquals(400, format.status());
        assertEquals("[\"Unknown return format 'pickle'. Supported are binary and json.\"]", format.body());
        Reply noInput = API.postJson("/api/inference/", owner, "{\"model_id\": \"" + model + "\"}");
        assertEquals("[\"No uploaded file 'model_input' found.\"]", noInput.body());
        Reply unknown = infer(UUID.randomUUID(), input, "json");
        assertEquals(400, unknown.status());
        Reply junk = API.postJson("/api/inference/", owner, "{\"model_id\": \"" + model + "\", \"model_input\":"
                + " [[1, 2], [3]]}");
        assertEquals(400, junk.status(), junk.toString());
        Reply text = API.send("POST", "/api/inference/", owner.tokenHeader(), "text/plain", "hello");
        assertEquals(415, text.status(), text.toString());
        assertTrue(text.detail().contains("Only Content-Type 'application/json' and 'multipart/form-data'"));
        Account stranger = API.createUser("stranger");
        Reply forbidden = API.postJson("/api/inference/", stranger, body(model, input, "json"));
        assertEquals(403, forbidden.status(), forbidden.toString());
        UUID untrained = upload("mlp.pt", null);
        Reply noTraining = infer(untrained, input, "json");
        assertEquals(400, noTraining.status(), noTraining.toString());
        assertTrue(noTraining.detail().contains("belongs to no training"), noTraining.toString());
    }

    // ---------------------------------------------------------------------------------------------

    private static UUID trainedModel(String fixture, String preprocessing, String uncertainty, String options)
            throws IOException {
        return trainedModel(FIXTURES.resolve(fixture), preprocessing, uncertainty, options);
    }

    private static UUID trainedModel(Path file, String preprocessing, String uncertainty, String options)
            throws IOException {
        UUID model = upload(file, preprocessing);
        train(model, uncertainty, options);
        return model;
    }

    private static UUID upload(String fixture, String preprocessing) throws IOException {
        return upload(FIXTURES.resolve(fixture), preprocessing);
    }

    private static UUID upload(Path file, String preprocessing) throws IOException {
        Multipart form = new Multipart().field("name", "inference " + file.getFileName()).field("description", "it")
                .field("input_shape", "None").field("input_shape", "8")
                .file("model_file", "model.pt", Files.readAllBytes(file));
        if (preprocessing != null) {
            form.file("model_preprocessing_file", "pre.pt", Files.readAllBytes(FIXTURES.resolve(preprocessing)));
        }
        Reply r = API.sendBytes("POST", "/api/models/", owner.tokenHeader(), form.contentType(), form.bytes());
        assertEquals(201, r.status(), r.toString());
        return UUID.fromString(r.json().getString("model_id"));
    }

    private static void train(UUID model, String uncertainty, String options) {
        Reply r = API.postJson("/api/trainings/", owner, "{\"model_id\": \"" + model + "\", \"target_num_updates\": 1,"
                + " \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\", \"uncertainty_method\": \""
                + uncertainty + "\", \"options\": " + options + "}");
        assertEquals(201, r.status(), r.toString());
    }

    private static Reply infer(UUID model, JsonArray input, String format) {
        return API.postJson("/api/inference/", owner, body(model, input, format));
    }

    private static String body(UUID model, JsonArray input, String format) {
        var b = Json.createObjectBuilder().add("model_id", model.toString()).add("model_input", input);
        if (format != null) {
            b.add("return_format", format);
        }
        return b.build().toString();
    }

    private static byte[] downloadBinary(UUID model, JsonArray input) throws Exception {
        var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(API.base() + "/api/inference/"))
                .header("Authorization", owner.tokenHeader()).header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body(model, input, "binary"))).build();
        var response = ApiClient.send(request,
                java.net.http.HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode());
        assertEquals("application/octet-stream", response.headers().firstValue("Content-Type").orElse(""));
        assertEquals(Long.toString(response.body().length), response.headers().firstValue("Content-Length")
                .orElse("chunked"), "the archive's size is sent as Content-Length");
        return response.body();
    }

    private static long[] longs(Path file, StorageInfo s, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.read(b, s.offset());
        }
        b.flip();
        long[] v = new long[n];
        b.asLongBuffer().get(v);
        return v;
    }

    private static JsonObject json(String name) throws IOException {
        try (InputStream in = Files.newInputStream(FIXTURES.resolve(name)); JsonReader r = Json.createReader(in)) {
            return r.readObject();
        }
    }

    private static void assertClose(JsonArray expected, JsonArray actual) {
        assertClose(expected, actual, TOLERANCE);
    }

    private static void assertClose(JsonArray expected, JsonArray actual, double tolerance) {
        assertEquals(expected.size(), actual.size(), "lengths differ: " + expected + " vs " + actual);
        for (int i = 0; i < expected.size(); i++) {
            JsonValue e = expected.get(i);
            JsonValue a = actual.get(i);
            if (e instanceof JsonArray ea) {
                assertClose(ea, a.asJsonArray(), tolerance);
            } else {
                double want = ((jakarta.json.JsonNumber) e).doubleValue();
                double got = ((jakarta.json.JsonNumber) a).doubleValue();
                assertEquals(want, got, tolerance * Math.max(1, Math.abs(want)), "element " + i);
            }
        }
    }
}
