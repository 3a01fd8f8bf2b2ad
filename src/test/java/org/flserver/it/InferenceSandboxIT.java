package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile TorchScript through {@code POST /api/inference/} on the shared test server, over
 * HTTP/1.1 as curl and Python {@code requests} speak it: archives that hide code are refused before
 * any worker starts; models that loop, allocate without bound or return uninitialised memory run in
 * their owner's sandboxed worker, where they are stopped or contained, while other users' requests
 * are answered; outputs bounded by bytes but not by shape are refused with a 400 before the server
 * spends memory on them. The files are written by {@code src/test/python/hostile/make_hostile.py} and listed
 * with what each tries in {@code src/test/resources/hostile/manifest.json}.
 */
class InferenceSandboxIT {

    private static final Path HOSTILE = Path.of("src", "test", "resources", "hostile");
    private static final ApiClient API = new ApiClient();

    private static Account mallory;
    private static Account alice;

    @BeforeAll
    static void users() {
        mallory = API.createUser("mallory");
        alice = API.createUser("alice");
    }

    // ---------------------------------------------------------------------------------------------
    // HTTP/1.1 requests

    private static Reply postJson(String path, Account as, String json) {
        return API.send("POST", path, as.tokenHeader(), "application/json", json);
    }

    /** Uploads a file as a global model; the answer (201, or the upload's refusal). */
    private static Reply upload(Account as, String file) throws IOException {
        Multipart form = new Multipart().field("name", "hostile " + file).field("description", "it")
                .field("input_shape", "None").field("input_shape", "8")
                .file("model_file", file, Files.readAllBytes(HOSTILE.resolve(file)));
        return API.sendBytes("POST", "/api/models/", as.tokenHeader(), form.contentType(), form.bytes());
    }

    /** A model of {@code file} with a training using {@code uncertainty} (N=1 for MC dropout). */
    private static UUID trainedModel(Account as, String file, String uncertainty)
            throws IOException {
        return trainedModel(as, file, uncertainty, "{\"N\": 1}");
    }

    /** A model of {@code file} with a training using {@code uncertainty} and these {@code options.uncertainty}. */
    private static UUID trainedModel(Account as, String file, String uncertainty, String options)
            throws IOException {
        Reply model = upload(as, file);
        assertEquals(201, model.status(), model.toString());
        UUID id = UUID.fromString(model.json().getString("model_id"));
        Reply training = postJson("/api/trainings/", as, "{\"model_id\": \"" + id + "\", \"target_num_updates\": 1,"
                + " \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\", \"uncertainty_method\": \""
                + uncertainty + "\", \"options\": {\"uncertainty\": " + options + "}}");
        assertEquals(201, training.status(), training.toString());
        return id;
    }

    private static String inferBody(UUID model, float[][] rows) {
        JsonArrayBuilder input = Json.createArrayBuilder();
        for (float[] row : rows) {
            JsonArrayBuilder r = Json.createArrayBuilder();
            for (float v : row) {
                r.add(v);
            }
            input.add(r);
        }
        return Json.createObjectBuilder().add("model_id", model.toString()).add("model_input", input)
                .add("return_format", "json").build().toString();
    }

    private static Reply infer(Account as, UUID model, float[][] rows) {
        return postJson("/api/inference/", as, inferBody(model, rows));
    }

    private static CompletableFuture<Reply> inferAsync(Account as, UUID model, float[][] rows) {
        return API.exchangeAsync("POST", "/api/inference/", as.tokenHeader(), "application/json",
                HttpRequest.BodyPublishers.ofString(inferBody(model, rows)));
    }

    private static float[][] rows(int n, float first) {
        float[][] rows = new float[n][8];
        rows[0][0] = first;
        return rows;
    }

    /** The mean output of an MC-dropout answer (N=1: the output itself), row by row. */
    private static float[][] values(Reply r) {
        JsonArray rows = r.json().getJsonArray("inference");
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            JsonArray row = rows.getJsonArray(i);
            out[i] = new float[row.size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = (float) ((JsonNumber) row.get(j)).doubleValue();
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------
    // refused before any worker starts

    @Test
    void archivesThatHideOrMisnameCodeAreRefusedAndNoAnswerCarriesAHostFile() throws Exception {
        JsonArray files;
        try (JsonReader r = Json.createReader(new StringReader(Files.readString(HOSTILE.resolve("manifest.json"))))) {
            files = r.readObject().getJsonArray("files");
        }
        int checked = 0;
        for (JsonObject f : files.getValuesAs(JsonObject.class)) {
            if (!f.getString("expected").equals("refused_by_check")) {
                continue;
            }
            String file = f.getString("file");
            Reply model = upload(mallory, file);
            Reply answer;
            if (model.status() == 201) {
                // the model store keeps any well-formed archive; inference refuses it before a worker runs it
                UUID id = UUID.fromString(model.json().getString("model_id"));
                Reply training = postJson("/api/trainings/", mallory, "{\"model_id\": \"" + id + "\","
                        + " \"target_num_updates\": 1, \"metric_names\": [\"a\"], \"aggregation_method\": \"FedAvg\"}");
                assertEquals(201, training.status(), training.toString());
                answer = infer(mallory, id, rows(1, 0));
                assertEquals(400, answer.status(), file + ": " + answer);
                String detail = answer.detail();
                assertTrue(detail.startsWith("this TorchScript model is refused: ")
                        || detail.startsWith("inference needs a TorchScript model"), file + ": " + detail);
            } else {
                answer = model;
                assertEquals(400, model.status(), file + ": " + model);
                assertTrue(model.body().startsWith("[\"Invalid model file: "), file + ": " + model);
            }
            assertFalse(answer.body().contains("root:"), file + ": " + answer);
            checked++;
        }
        assertTrue(checked >= 20, "the manifest lists the disguised archives: " + checked);
    }

    // ---------------------------------------------------------------------------------------------
    // contained at run time

    @Test
    void aModelThatNeverReturnsIsStoppedAtTheDeadlineWhileOtherUsersAreAnswered() throws Exception {
        UUID loop = trainedModel(mallory, "loop_forever.pt", "NONE");
        UUID echo = trainedModel(alice, "echo.pt", "MC_DROPOUT");
        float[][] marker = {{1, 2, 3, 4, 5, 6, 7, 8}};
        // alice's worker is warm before mallory starts, so that what follows measures nothing but sharing
        assertEquals(200, infer(alice, echo, marker).status());

        CompletableFuture<Reply> stuck = inferAsync(mallory, loop, rows(1, 0));
        Thread.sleep(1000); // mallory's model is running (its worker started and spins)
        int answeredMeanwhile = 0;
        for (int i = 0; i < 20; i++) {
            Reply r = infer(alice, echo, marker);
            assertEquals(200, r.status(), r.toString());
            assertArrayEquals(marker[0], values(r)[0], 0f, "alice gets her own input back");
            if (!stuck.isDone()) {
                answeredMeanwhile++;
            }
        }
        assertTrue(answeredMeanwhile > 0, "alice was answered while mallory's model still ran");

        Reply timedOut = stuck.get(IntegrationEnvironment.INFERENCE_TIMEOUT_SECONDS + 60L, TimeUnit.SECONDS);
        assertEquals(504, timedOut.status(), timedOut.toString());
        assertEquals("{\"detail\":\"The model did not finish in time: its run was stopped"
                + " (fl.inference.timeout-seconds).\"}", timedOut.body());
        assertEquals("application/json", timedOut.header("Content-Type").split(";")[0]);

        // mallory's next model runs in a fresh worker; nothing of the killed one is left in the way
        UUID malloryEcho = trainedModel(mallory, "echo.pt", "MC_DROPOUT");
        float[][] own = {{8, 7, 6, 5, 4, 3, 2, 1}};
        Reply after = infer(mallory, malloryEcho, own);
        assertEquals(200, after.status(), after.toString());
        assertArrayEquals(own[0], values(after)[0], 0f);
    }

    @Test
    void allocationsWithoutBoundFailInTheModelsWorkerAndTheServerGoesOn() throws Exception {
        UUID huge = trainedModel(mallory, "alloc_huge.pt", "NONE");
        Reply r = infer(mallory, huge, rows(1, 0));
        assertEquals(400, r.status(), r.toString());
        assertTrue(r.detail().startsWith("the module cannot run on this input: ")
                || r.detail().startsWith("The inference worker running this model stopped"), r.toString());

        UUID grow = trainedModel(mallory, "alloc_grow.pt", "MC_DROPOUT");
        // 64 blocks of 64 MiB: 4 GiB, beyond the test servers' 3 GiB workers. Filling memory takes
        // time on a loaded machine: the worker's memory limit (400) or the deadline (504) stops it;
        // SandboxWorkersIT shows the memory limit alone, with a long deadline.
        r = infer(mallory, grow, rows(1, 64));
        assertTrue(r.status() == 400 || r.status() == 504, r.toString());
        // the same model within bounds answers
        r = infer(mallory, grow, rows(1, 2));
        assertEquals(200, r.status(), r.toString());
        assertArrayEquals(new float[] {16777216, 16777216}, values(r)[0], 0f);
        assertEquals(200, API.send("GET", "/health/ready", null, null, (String) null).status());
    }

    @Test
    void outputsBoundedByBytesButNotByShapeAreRefusedWithA400AndTheServerGoesOn() throws Exception {
        // [1, 0, 10^9]: no bytes, yet argmax over dimension 1 would be 10^9 indices (8 GB) in the server,
        // and the statistics of MC dropout would divide by its 0 classes (inference.md §2)
        String tooLarge = "The model's output of shape [1, 0, 1000000000] is too large: the server takes at most ";
        for (String method : List.of("NONE", "MC_DROPOUT")) {
            UUID empty = trainedModel(mallory, "empty_huge_output.pt", method, "{\"N\": 2}");
            Reply r = infer(mallory, empty, rows(1, 0));
            assertEquals(400, r.status(), method + ": " + r);
            assertEquals("application/json", r.header("Content-Type").split(";")[0], r.toString());
            assertTrue(r.detail().startsWith(tooLarge), method + ": " + r);
            assertTrue(r.detail().endsWith(" elements per request (a dimension of size 0 counted as 1)."), r.toString());
        }

        // [1, 0]: no classes. NONE is an argmax over nothing, refused as torch refuses it
        UUID flat = trainedModel(mallory, "no_classes.pt", "NONE");
        Reply r = infer(mallory, flat, rows(1, 0));
        assertEquals(400, r.status(), r.toString());
        assertEquals("The model's outputs cannot be summarised: argmax over dimension 1 needs at least one class,"
                + " got an output of shape [1, 0]", r.detail());
        // MC dropout (with and without softmax) has nothing to average and no class to divide by: an empty
        // mean, and the entropies of one sample over no classes are 0 (api.md §10, inference.md §2)
        for (String options : List.of("{\"N\": 2}", "{\"N\": 2, \"softmax\": true}")) {
            UUID mc = trainedModel(mallory, "no_classes.pt", "MC_DROPOUT", options);
            r = infer(mallory, mc, rows(1, 0));
            assertEquals(200, r.status(), options + ": " + r);
            assertEquals(Json.createArrayBuilder().add(Json.createArrayBuilder()).build(),
                    r.json().getJsonArray("inference"), r.toString());
            JsonObject uncertainty = r.json().getJsonObject("uncertainty");
            for (String entropy : List.of("predictive_entropy", "expected_entropy", "mutual_info")) {
                JsonArray values = uncertainty.getJsonArray(entropy);
                assertEquals(1, values.size(), entropy + ": " + r);
                assertEquals(0.0, values.getJsonNumber(0).doubleValue(), 0.0, entropy + ": " + r);
            }
        }

        // the server did not die, nor the caller's next worker: a normal inference is answered
        UUID echo = trainedModel(mallory, "echo.pt", "MC_DROPOUT");
        float[][] own = {{1, 2, 3, 4, 5, 6, 7, 8}};
        Reply after = infer(mallory, echo, own);
        assertEquals(200, after.status(), after.toString());
        assertArrayEquals(own[0], values(after)[0], 0f);
        assertEquals(200, API.send("GET", "/health/ready", null, null, (String) null).status());
    }

    @Test
    void noByteOfAnotherUsersInputEverAppearsInUninitialisedMemory() throws Exception {
        UUID echo = trainedModel(alice, "echo.pt", "MC_DROPOUT");
        UUID leak = trainedModel(mallory, "uninit_raw.pt", "MC_DROPOUT");
        // alice's marker: float32 values whose first 16 bytes cannot arise by chance
        float[] marker = {1234.5677f, -98765.43f, 3.1415927f, 2.7182817f, 0.5772157f, 1.4142135f, 1.7320508f, 42.42f};
        byte[] needle = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(marker[0]).putFloat(marker[1])
                .putFloat(marker[2]).putFloat(marker[3]).array();
        float[][] aliceRows = new float[256][];
        for (int i = 0; i < aliceRows.length; i++) {
            aliceRows[i] = marker.clone();
        }
        ExecutorService both = Executors.newFixedThreadPool(2);
        try {
            List<Future<Reply>> leaks = new ArrayList<>();
            List<Future<Reply>> echoes = new ArrayList<>();
            for (int round = 0; round < 15; round++) {
                echoes.add(both.submit(() -> infer(alice, echo, aliceRows)));
                leaks.add(both.submit(() -> infer(mallory, leak, new float[512][8])));
            }
            for (Future<Reply> e : echoes) {
                Reply r = e.get(120, TimeUnit.SECONDS);
                assertEquals(200, r.status(), r.toString());
                for (float[] row : values(r)) {
                    assertArrayEquals(marker, row, 0f, "alice gets her own input back");
                }
            }
            long bytesSeen = 0;
            for (Future<Reply> l : leaks) {
                Reply r = l.get(120, TimeUnit.SECONDS);
                assertEquals(200, r.status(), r.toString());
                float[][] values = values(r);
                byte[] leaked = new byte[values.length * values[0].length];
                int k = 0;
                for (float[] row : values) {
                    for (float v : row) {
                        leaked[k++] = (byte) (int) v;
                    }
                }
                bytesSeen += leaked.length;
                assertFalse(contains(leaked, needle), "mallory's answer carries alice's input");
            }
            assertEquals(15L * 512 * 8, bytesSeen);
        } finally {
            both.shutdownNow();
        }
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
