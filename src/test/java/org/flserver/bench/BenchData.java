package org.flserver.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import org.flserver.it.ApiClient;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.Multipart;

/** Realistic content for the request-rate benchmark: trainings on a real fixture model, through the API. */
final class BenchData {

    private BenchData() {
    }

    static void createTrainings(ApiClient api, Account owner, int count) throws Exception {
        Path fixture = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"), "models", "mlp.torchscript.pt");
        Multipart form = new Multipart().field("name", "bench-mlp").field("description", "benchmark model")
                .file("model_file", "mlp.pt", Files.readAllBytes(fixture));
        Reply model = api.sendBytes("POST", "/api/models/", owner.tokenHeader(), form.contentType(), form.bytes());
        if (model.status() != 201) {
            throw new IllegalStateException("model upload failed: " + model);
        }
        String modelId = model.json().getString("model_id");
        for (int i = 0; i < count; i++) {
            // the same model each time: every further training gets its own clone of it
            Reply training = api.postJson("/api/trainings/", owner, "{\"model_id\":\"" + modelId + "\","
                    + "\"target_num_updates\":5,\"metric_names\":[\"accuracy\"],\"aggregation_method\":\"FedAvg\","
                    + "\"clients\":[\"" + owner.id() + "\"]}");
            if (training.status() != 201) {
                throw new IllegalStateException("training creation failed: " + training);
            }
        }
    }
}
