package org.flserver.it;

import static org.flserver.it.ModelTesting.assertDetail;
import static org.flserver.it.ModelTesting.assertList;
import static org.flserver.it.ModelTesting.assertListStartsWith;
import static org.flserver.it.ModelTesting.countOf;
import static org.flserver.it.ModelTesting.fixture;
import static org.flserver.it.ModelTesting.uuid;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.util.List;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.ModelTesting.TrainingIds;
import org.flserver.tensor.TorchTestFiles;
import org.junit.jupiter.api.Test;

/**
 * Local model updates {@code POST /api/models/<global id>/} (api.md §5.7 with §15.3–15.4), SWAG
 * statistics (docs/api.md §5.8) and the training model listings (§5.9), against the shared server with real
 * fixture files. Trainings are created and started through the API. Every test keeps one
 * participant idle, so no round completes and the round engine never moves the training on while
 * a test looks at it; nothing here depends on notifications being delivered.
 */
class LocalUpdateApiIT {

    private static final String CLIENT0 = "fedavg/mlp/client0.torchscript.pt";
    private static final String CLIENT1 = "fedavg/mlp/client1.torchscript.pt";

    private final ApiClient api = new ApiClient();

    /** Actor, two participants (the second stays idle) and a stranger, on a started FedAvg training. */
    private record Setup(Account actor, Account client, Account idle, Account stranger, TrainingIds ids) {
        String updatePath() {
            return "/api/models/" + ids.model() + "/";
        }
    }

    private Setup started(String globalFile) {
        return started(fixture(globalFile));
    }

    private Setup started(byte[] globalFile) {
        Account actor = ModelTesting.user(api, "lu-actor");
        Account client = ModelTesting.user(api, "lu-client");
        Account idle = ModelTesting.user(api, "lu-idle");
        Account stranger = ModelTesting.user(api, "lu-x");
        String model = ModelTesting.upload(api, actor, new Multipart().field("name", "global")
                .field("description", "d").file("model_file", "global.pt", globalFile));
        return new Setup(actor, client, idle, stranger, ModelTesting.training(api, actor, model, true, client, idle));
    }

    private static Multipart update(String round, String sampleSize, byte[] file) {
        Multipart form = new Multipart();
        if (round != null) {
            form.field("round", round);
        }
        if (sampleSize != null) {
            form.field("sample_size", sampleSize);
        }
        if (file != null) {
            form.file("model_file", "update.pt", file);
        }
        return form;
    }

    private Reply post(Account as, String path, Multipart form) {
        return api.sendBytes("POST", path, as.tokenHeader(), form.contentType(), form.bytes());
    }

    private int localModels(Setup s) throws Exception {
        return countOf("SELECT count(*) FROM model WHERE model_type = 'LOCAL' AND base_model_id = ?",
                uuid(s.ids().model()));
    }

    // ---------------------------------------------------------------- the checks of docs/api.md §5.7, in order

    @Test
    void everyCheckAnswersInTheReferenceOrder() throws Exception {
        Setup s = started(CLIENT0);
        byte[] good = fixture(CLIENT1);
        byte[] text = "not a model".getBytes();
        String tid = s.ids().training();

        // 1. round and sample_size: present, then integers (sample_size ≥ 0)
        assertDetail(post(s.client(), s.updatePath(), update(null, "1", good)), 400, "'round'");
        assertDetail(post(s.stranger(), s.updatePath(), update(null, null, null).field("owner", "x")), 400, "'round'");
        assertDetail(post(s.client(), s.updatePath(), update("0", null, good)), 400, "'sample_size'");
        assertDetail(post(s.client(), s.updatePath(), update("zero", "1", good)), 400,
                "Invalid round: must be an integer from -2147483648 to 2147483647.");
        assertDetail(post(s.client(), s.updatePath(), update("0", "1.5", good)), 400,
                "Invalid sample_size: must be an integer from 0 to 2147483647.");
        assertDetail(post(s.client(), s.updatePath(), update("0", "-1", good)), 400,
                "Invalid sample_size: must be an integer from 0 to 2147483647.");
        assertDetail(post(s.client(), s.updatePath(), update("0", "2147483648", good)), 400,
                "Invalid sample_size: must be an integer from 0 to 2147483647.");
        // 2. the file
        assertDetail(post(s.client(), s.updatePath(), update("0", "1", null)), 400,
                "No uploaded file 'model_file' found.");
        // 3. a global model: unknown, malformed and local ids
        String unknown = UUID.randomUUID().toString();
        assertDetail(post(s.client(), "/api/models/" + unknown + "/", update("0", "1", text)), 400,
                "GlobalModel " + unknown + " not found.");
        assertDetail(post(s.client(), "/api/models/xyz/", update("0", "1", text)), 400, "GlobalModel xyz not found.");
        // 4. with a training
        String untrained = ModelTesting.uploadFixture(api, s.client(), CLIENT0);
        assertDetail(post(s.client(), "/api/models/" + untrained + "/", update("0", "1", text)), 404,
                "Model with ID " + untrained + " does not have a training process running");
        // 5. by a participant (the actor is not one)
        for (Account outsider : List.of(s.stranger(), s.actor())) {
            assertDetail(post(outsider, s.updatePath(), update("5", "1", text)), 403,
                    "You are not a participant of training " + tid + "!");
        }
        // 7. for the current round (before the file is looked at)
        assertList(post(s.client(), s.updatePath(), update("1", "1", text)),
                "Training with ID " + tid + " is not currently in round 1");
        assertList(post(s.client(), s.updatePath(), update("-1", "1", text)),
                "Training with ID " + tid + " is not currently in round -1");
        // 8. a model file
        assertList(post(s.client(), s.updatePath(), update("0", "1", text)),
                "Invalid model file: not a PyTorch archive or safetensors file");
        assertEquals(0, localModels(s));
    }

    @Test
    void aTrainingThatIsNotOngoingTakesNoUpdates() throws Exception {
        Account actor = ModelTesting.user(api, "lu-i-actor");
        Account client = ModelTesting.user(api, "lu-i-client");
        String model = ModelTesting.uploadFixture(api, actor, CLIENT0);
        TrainingIds ids = ModelTesting.training(api, actor, model, false, client);
        // 6. state: not started yet (I); checked before the round
        assertList(post(client, "/api/models/" + ids.model() + "/", update("7", "1", fixture(CLIENT1))),
                "Training with ID " + ids.training() + " is in state I");
        // a finished training (C) the same way
        ModelTesting.sql("UPDATE training SET state = 'C' WHERE id = ?", uuid(ids.training()));
        assertList(post(client, "/api/models/" + ids.model(), update("0", "1", fixture(CLIENT1))),
                "Training with ID " + ids.training() + " is in state C");
        assertEquals(0, countOf("SELECT count(*) FROM model WHERE base_model_id = ?", uuid(ids.model())));
    }

    @Test
    void aTrainingOnAMeanModelTakesNoUpdates() {
        Account actor = ModelTesting.user(api, "lu-mean");
        Account client = ModelTesting.user(api, "lu-mean-c");
        String member = ModelTesting.uploadFixture(api, actor, CLIENT0);
        Reply mean = api.postJson("/api/models/", actor, Json.createObjectBuilder().add("name", "ensemble")
                .add("description", "d").add("type", "MEAN").add("models", Json.createArrayBuilder().add(member))
                .build().toString());
        assertEquals(201, mean.status(), mean.toString());
        String meanId = mean.json().getString("model_id");
        TrainingIds ids = ModelTesting.training(api, actor, meanId, true, client, actor);
        assertList(post(client, "/api/models/" + ids.model() + "/", update("0", "1", fixture(CLIENT1))),
                "Model " + ids.model() + " is a mean model: it has no weights of its own and takes no updates.");
    }

    // ---------------------------------------------------------------- architecture

    @Test
    void anUpdateOfAnotherArchitectureOrKindIsRefusedNamingTheDifference() throws Exception {
        Setup s = started("fedavg/cnn_bn/client0.torchscript.pt");
        // an MLP update for a CNN: the first tensor already differs
        assertList(post(s.client(), s.updatePath(), update("0", "10", fixture(CLIENT1))),
                "Invalid model file: the update does not match the global model: tensor 'conv1.weight' differs:"
                        + " the other file has 'net.0.weight' in its place (global vs update).");
        // the right architecture in another kind of file
        assertList(post(s.client(), s.updatePath(), update("0", "10", fixture("fedavg/cnn_bn/client1.state_dict.pt"))),
                "Invalid model file: the global model is a torchscript file, this update is a state_dict file;"
                        + " upload the update in the global model's format.");
        // hostile files are refused by the reader before any comparison
        assertListStartsWith(post(s.client(), s.updatePath(), update("0", "10",
                fixture("hostile/os_system_in_state_dict.pt"))), "Invalid model file: GLOBAL 'posix system' not allowed");
        assertListStartsWith(post(s.client(), s.updatePath(), update("0", "10", fixture("hostile/storage_numel_lie.pt"))),
                "Invalid model file: record data/0 has 48 bytes");
        assertListStartsWith(post(s.client(), s.updatePath(), update("0", "10", fixture("hostile/truncated.pt"))),
                "Invalid model file: no end-of-central-directory record");
        assertEquals(0, localModels(s));
        assertFalse(ModelTesting.isStored(fixture("hostile/os_system_in_state_dict.pt")));

        // a state_dict training takes state_dict updates of the same tensors
        Setup sd = started("fedavg/cnn_bn/client0.state_dict.pt");
        Reply ok = post(sd.client(), sd.updatePath(), update("0", "10", fixture("fedavg/cnn_bn/client2.state_dict.pt")));
        assertDetail(ok, 201, "Model Update Accepted");

        // a shape or dtype change is named with both sides
        Setup st = started(TorchTestFiles.safetensors("w", "F32", new long[]{4}, new byte[16]));
        assertList(post(st.client(), st.updatePath(), update("0", "1",
                        TorchTestFiles.safetensors("w", "F32", new long[]{5}, new byte[20]))),
                "Invalid model file: the update does not match the global model: tensor 'w' differs: shape [4] vs [5]"
                        + " (global vs update).");
        assertList(post(st.client(), st.updatePath(), update("0", "1",
                        TorchTestFiles.safetensors("w", "F64", new long[]{4}, new byte[32]))),
                "Invalid model file: the update does not match the global model: tensor 'w' differs: dtype float32"
                        + " vs float64 (global vs update).");
        assertDetail(post(st.client(), st.updatePath(), update("0", "1",
                TorchTestFiles.safetensors("w", "F32", new long[]{4}, new byte[]{0, 0, (byte) 0x80, 0x3f, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0}))), 201, "Model Update Accepted");
    }

    // ---------------------------------------------------------------- success, duplicates, metrics

    @Test
    void anAcceptedUpdateIsStoredOnceWithItsMetrics() throws Exception {
        Setup s = started(CLIENT0);
        byte[] file = fixture(CLIENT1);
        Multipart form = update("0", "30", file).field("owner", s.stranger().id().toString())
                .field("metric_names", "loss").field("metric_names", "note")
                .field("metric_values", "0.25").field("metric_values", "fine");
        Reply accepted = post(s.client(), s.updatePath(), form);
        assertEquals(201, accepted.status(), accepted.toString());
        assertEquals(Json.createObjectBuilder().add("detail", "Model Update Accepted").build(), accepted.json());

        // one local model, owned by the caller (the owner field is ignored), visible in the listings
        JsonArray models = api.get("/api/trainings/" + s.ids().training() + "/models/", s.actor()).array();
        assertEquals(2, models.size(), models.toString());
        assertEquals(s.ids().model(), models.getJsonObject(0).getString("id"));
        JsonObject local = models.getJsonObject(1);
        String localId = local.getString("id");
        assertEquals(Json.createObjectBuilder().add("id", localId).add("round", 0).add("sample_size", 30)
                .add("owner", s.client().id().toString()).add("base_model", s.ids().model()).build(), local);
        assertArrayEquals(file, api.download("/api/models/" + localId + "/", s.actor()).body());
        assertEquals(1, api.get("/api/trainings/" + s.ids().training() + "/", s.actor()).json()
                .getInt("local_models_arrived"));
        JsonArray metrics = api.get("/api/models/" + localId + "/metrics/", s.client()).array();
        assertEquals(2, metrics.size(), metrics.toString());
        assertEquals("loss", metrics.getJsonObject(0).getString("key"));
        assertEquals(0.25, metrics.getJsonObject(0).getJsonNumber("value_float").doubleValue());
        assertEquals(0, metrics.getJsonObject(0).getInt("step"));
        assertEquals("ZmluZQ==", metrics.getJsonObject(1).getString("value_binary"));

        // a second update for the same round: 409, and still one row
        Reply again = post(s.client(), s.updatePath(), update("0", "31", fixture("fedavg/mlp/client2.torchscript.pt")));
        assertDetail(again, 409, "You have already uploaded a model update for round 0 of training "
                + s.ids().training() + ".");
        assertEquals(1, localModels(s));
        assertEquals(0, countOf("SELECT count(*) FROM model WHERE weights_sha256 = ?",
                ModelTesting.sha256(fixture("fedavg/mlp/client2.torchscript.pt"))), "the refused update is no model");
    }

    @Test
    void concurrentDuplicatesAreAcceptedOnce() throws Exception {
        Setup s = started(CLIENT0);
        byte[] file = fixture(CLIENT1);
        int senders = 4;
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(senders);
        try {
            List<java.util.concurrent.Future<Reply>> replies = new java.util.ArrayList<>();
            for (int i = 0; i < senders; i++) {
                String size = Integer.toString(10 + i);
                replies.add(pool.submit(() -> {
                    go.await();
                    return post(s.client(), s.updatePath(), update("0", size, file));
                }));
            }
            go.countDown();
            List<Integer> statuses = new java.util.ArrayList<>();
            for (var r : replies) {
                statuses.add(r.get(60, java.util.concurrent.TimeUnit.SECONDS).status());
            }
            java.util.Collections.sort(statuses);
            assertEquals(List.of(201, 409, 409, 409), statuses);
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, localModels(s));
    }

    @Test
    void metricsOfAnUpdateAreOptional() throws Exception {
        Setup s = started(CLIENT0);
        // only one of the two fields, or different lengths: ignored as in the reference
        Reply r = post(s.client(), s.updatePath(), update("0", "0", fixture(CLIENT1)).field("metric_names", "loss"));
        assertDetail(r, 201, "Model Update Accepted");
        String local = api.get("/api/trainings/" + s.ids().training() + "/models/", s.client()).array()
                .getJsonObject(1).getString("id");
        assertEquals(0, api.get("/api/models/" + local + "/metrics/", s.client()).array().size());
        // sample_size 0 is accepted: the update counts as arrived and has no weight in the average
        assertEquals(0, api.get("/api/models/" + local + "/metadata/", s.client()).json().getInt("sample_size"));
        // too long a metric key is a 400 and stores nothing
        Reply longKey = post(s.idle(), s.updatePath(), update("0", "5", fixture(CLIENT1))
                .field("metric_names", "k".repeat(33)).field("metric_values", "1"));
        assertEquals(400, longKey.status(), longKey.toString());
        assertEquals(1, localModels(s));
    }

    // ---------------------------------------------------------------- listings docs/api.md §5.9

    @Test
    void trainingModelListings() throws Exception {
        Setup s = started(CLIENT0);
        String tid = s.ids().training();
        assertDetail(post(s.client(), s.updatePath(), update("0", "10", fixture(CLIENT1))), 201, "Model Update Accepted");
        String local = api.get("/api/trainings/" + tid + "/models/", s.client()).array().getJsonObject(1)
                .getString("id");
        // an older update of the idle participant (as FedDC keeps them), written directly
        UUID older = UUID.randomUUID();
        ModelTesting.sql("INSERT INTO model (id, model_type, owner_id, round, weights_sha256, weights_size, created_at,"
                        + " base_model_id, sample_size) VALUES (?, 'LOCAL', ?, 0, ?, 1, now(), ?, 3)",
                older, s.idle().id(), ModelTesting.sha256(fixture(CLIENT1)), uuid(s.ids().model()));
        UUID newer = UUID.randomUUID();
        ModelTesting.sql("INSERT INTO model (id, model_type, owner_id, round, weights_sha256, weights_size, created_at,"
                        + " base_model_id, sample_size) VALUES (?, 'LOCAL', ?, 2, ?, 1, now(), ?, 3)",
                newer, s.idle().id(), ModelTesting.sha256(fixture(CLIENT1)), uuid(s.ids().model()));

        for (Account a : List.of(s.actor(), s.client(), s.idle())) {
            for (String path : List.of("/api/trainings/" + tid + "/models/", "/api/trainings/" + tid + "/models")) {
                assertEquals(List.of(s.ids().model(), local, older.toString(), newer.toString()),
                        idList(api.get(path, a).array()), a.username() + " " + path);
            }
            for (String path : List.of("/api/trainings/" + tid + "/models/latest/",
                    "/api/trainings/" + tid + "/models/latest")) {
                List<String> latest = idList(api.get(path, a).array());
                assertEquals(s.ids().model(), latest.get(0));
                // one per owner: the client's only update and the idle participant's round-2 one
                assertEquals(java.util.Set.of(local, newer.toString()), java.util.Set.copyOf(latest.subList(1, 3)));
                assertEquals(3, latest.size());
            }
        }
        // unrelated users see nothing (no 403, no 500); malformed and unknown ids are 400
        assertEquals(0, api.get("/api/trainings/" + tid + "/models/", s.stranger()).array().size());
        assertEquals(0, api.get("/api/trainings/" + tid + "/models/latest/", s.stranger()).array().size());
        for (String suffix : List.of("/models/", "/models/latest/")) {
            assertDetail(api.get("/api/trainings/not-a-uuid" + suffix, s.actor()), 400,
                    "Training not-a-uuid not found.");
            String unknown = UUID.randomUUID().toString();
            assertDetail(api.get("/api/trainings/" + unknown + suffix, s.actor()), 400,
                    "Training " + unknown + " not found.");
        }
    }

    private static List<String> idList(JsonArray models) {
        return models.getValuesAs(JsonObject.class).stream().map(m -> m.getString("id")).toList();
    }

    // ---------------------------------------------------------------- SWAG statistics docs/api.md §5.8

    /**
     * A SWAG round needs an aggregation first; this test puts the training into state S directly
     * (the round engine's tests cover how it gets there) and checks the upload route alone.
     */
    @Test
    void swagStatistics() throws Exception {
        Setup s = started(CLIENT0);
        String path = "/api/models/" + s.ids().model() + "/swag/";
        int length = ModelTesting.floatingElements(CLIENT0);
        byte[] first = TorchTestFiles.bareFloatTensor(new float[length]);
        float[] ones = new float[length];
        java.util.Arrays.fill(ones, 1f);
        byte[] second = TorchTestFiles.safetensorsVector(ones);

        // state O is no SWAG round
        assertList(post(s.client(), path, swag("0", "4", first, second)),
                "Training with ID " + s.ids().training() + " is in state O");
        ModelTesting.sql("UPDATE training SET state = 'S' WHERE id = ?", uuid(s.ids().training()));

        assertDetail(post(s.client(), path, swag(null, "4", first, second)), 400, "'round'");
        assertDetail(post(s.client(), path, swag("0", "many", first, second)), 400,
                "Invalid sample_size: must be an integer from 0 to 2147483647.");
        assertDetail(post(s.client(), path, swag("0", "4", first, null)), 400,
                "No uploaded file 'second_moment_file' found.");
        assertDetail(post(s.stranger(), path, swag("0", "4", first, second)), 403,
                "You are not a participant of training " + s.ids().training() + "!");
        assertList(post(s.client(), path, swag("1", "4", first, second)),
                "Training with ID " + s.ids().training() + " is not currently in round 1");
        assertList(post(s.client(), path, swag("0", "4", TorchTestFiles.bareFloatTensor(new float[length - 1]), second)),
                "Invalid first moment file: the vector has " + (length - 1) + " elements; the model's flattened"
                        + " parameters have " + length + ".");
        assertList(post(s.client(), path, swag("0", "4", first, fixture(CLIENT1))),
                "Invalid second moment file: expected exactly one tensor (torch.save(tensor) or a safetensors file"
                        + " with one tensor), got a torchscript file with 6 tensors.");
        assertList(post(s.client(), path, swag("0", "4", TorchTestFiles.bareTensor("FloatStorage", length,
                        new long[]{1, length}, new byte[4 * length]), second)),
                "Invalid first moment file: expected a 1-D floating-point tensor, got shape [1, " + length
                        + "] of float32.");
        assertListStartsWith(post(s.client(), path, swag("0", "4", fixture("hostile/os_system.pt"), second)),
                "Invalid first moment file: GLOBAL 'os system' not allowed");
        assertEquals(0, countOf("SELECT count(*) FROM swag_statistics WHERE model_id = ?", uuid(s.ids().model())));

        Reply accepted = post(s.client(), path, swag("0", "4", first, second));
        assertEquals(201, accepted.status(), accepted.toString());
        assertEquals(Json.createObjectBuilder().add("detail", "SWAG Statistic Accepted").build(), accepted.json());
        assertDetail(post(s.client(), "/api/models/" + s.ids().model() + "/swag", swag("0", "5", second, first)), 409,
                "You have already uploaded SWAG statistics for round 0 of training " + s.ids().training() + ".");
        assertEquals(1, countOf("SELECT count(*) FROM swag_statistics WHERE model_id = ? AND owner_id = ?"
                + " AND sample_size = 4", uuid(s.ids().model()), s.client().id()));
        assertTrue(ModelTesting.isStored(first) && ModelTesting.isStored(second));
    }

    private static Multipart swag(String round, String sampleSize, byte[] first, byte[] second) {
        Multipart form = new Multipart();
        if (round != null) {
            form.field("round", round);
        }
        if (sampleSize != null) {
            form.field("sample_size", sampleSize);
        }
        if (first != null) {
            form.file("first_moment_file", "first.pt", first);
        }
        if (second != null) {
            form.file("second_moment_file", "second.pt", second);
        }
        return form;
    }
}
