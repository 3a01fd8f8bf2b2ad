package org.flserver.bench;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.flserver.it.ApiClient;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.IntegrationEnvironment;
import org.flserver.it.Multipart;

/**
 * Inference benchmark (not a test): starts the same PostgreSQL + Payara Micro (with
 * the TorchScript runtime) as the integration tests, uploads the small CNN of the inference
 * fixtures (1×8×8 input, conv → BN → ReLU → pool → dropout → linear 10; made by PyTorch), and
 * drives {@code POST /api/inference/} with JSON inputs of batch 1 and 64 from 8 concurrent clients,
 * for uncertainty NONE (one forward pass) and MC dropout with N = 10 (ten passes per request).
 * Prints requests/s, p50 and p99 per case. Client, server and database share the machine's cores.
 *
 * <p>Run with {@code mvn -B -Pbench-inference verify} ({@code -Dbench.seconds=15},
 * {@code -Dbench.connections=8}).
 */
public final class InferenceBenchmark {

    private InferenceBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int connections = Integer.getInteger("bench.connections", 8);
        int seconds = Integer.getInteger("bench.seconds", 15);
        System.setProperty("it.server", "true");
        IntegrationEnvironment environment = new IntegrationEnvironment();
        environment.launcherSessionOpened(null);
        try {
            ApiClient api = new ApiClient();
            Account user = api.createUser("bench");
            Path cnn = Path.of("src", "test", "resources", "inference", "cnn.pt");
            String none = model(api, user, cnn, "NONE", "{}");
            String mc = model(api, user, cnn, "MC_DROPOUT", "{\"uncertainty\": {\"N\": 10}}");
            System.out.printf("%nfl-server inference, small CNN (1x8x8), %d concurrent clients, %d s per case"
                    + " (after a warm-up of every case)%n", connections, seconds);
            System.out.printf("%-22s %6s %10s %9s %9s %8s%n", "uncertainty", "batch", "req/s", "p50 ms", "p99 ms",
                    "errors");
            String[][] cases = {{"NONE", none}, {"MC_DROPOUT N=10", mc}};
            int[] batches = {1, 64};
            for (String[] c : cases) {
                for (int batch : batches) {
                    RequestRateBenchmark.run(request(api, user, c[1], batch), connections, 0, 5);
                }
            }
            for (String[] c : cases) {
                for (int batch : batches) {
                    RequestRateBenchmark.Result r = RequestRateBenchmark.run(request(api, user, c[1], batch),
                            connections, 2, seconds);
                    System.out.printf("%-22s %6d %10.0f %9.2f %9.2f %8d%n", c[0], batch, r.requestsPerSecond(),
                            r.p50Millis(), r.p99Millis(), r.errors());
                }
            }
        } finally {
            environment.launcherSessionClosed(null);
        }
    }

    private static String model(ApiClient api, Account user, Path file, String uncertainty, String options)
            throws Exception {
        Multipart form = new Multipart().field("name", "bench-cnn").field("description", "benchmark")
                .field("input_shape", "None").field("input_shape", "1").field("input_shape", "8")
                .field("input_shape", "8").file("model_file", "cnn.pt", Files.readAllBytes(file));
        Reply model = api.sendBytes("POST", "/api/models/", user.tokenHeader(), form.contentType(), form.bytes());
        if (model.status() != 201) {
            throw new IllegalStateException("upload failed: " + model);
        }
        String id = model.json().getString("model_id");
        Reply training = api.postJson("/api/trainings/", user, "{\"model_id\": \"" + id + "\", \"target_num_updates\":"
                + " 1, \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\", \"uncertainty_method\": \""
                + uncertainty + "\", \"options\": " + options + "}");
        if (training.status() != 201) {
            throw new IllegalStateException("training creation failed: " + training);
        }
        return id;
    }

    /** A JSON request with a random batch of 1×8×8 inputs. */
    private static HttpRequest request(ApiClient api, Account user, String model, int batch) {
        Random random = new Random(batch);
        JsonArrayBuilder input = Json.createArrayBuilder();
        for (int b = 0; b < batch; b++) {
            JsonArrayBuilder channel = Json.createArrayBuilder();
            JsonArrayBuilder rows = Json.createArrayBuilder();
            for (int y = 0; y < 8; y++) {
                JsonArrayBuilder row = Json.createArrayBuilder();
                for (int x = 0; x < 8; x++) {
                    row.add(random.nextGaussian());
                }
                rows.add(row);
            }
            channel.add(rows);
            input.add(channel);
        }
        String body = Json.createObjectBuilder().add("model_id", model).add("model_input", input).build().toString();
        return HttpRequest.newBuilder(URI.create(api.base() + "/api/inference/"))
                .header("Authorization", user.tokenHeader()).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }
}
