package org.flserver.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.flserver.aggregation.SyntheticTorchFiles;
import org.flserver.it.ApiClient;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.Multipart;
import org.flserver.it.TrainingDriver;
import org.flserver.it.TrainingDriver.Participant;

/**
 * Content for the server benchmarks, made through the API or the test libraries: trainings on a real
 * fixture model (request rate), synthetic client models and simulated participants (round and
 * deadline benchmarks), and the clean-up of the files.
 */
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

    /** Files {@code dir/client0.pt} … {@code client<count>.pt}: synthetic float32 state_dicts of {@code params}. */
    static List<Path> clientFiles(Path dir, int count, long params) throws IOException {
        List<Path> files = new ArrayList<>();
        for (int i = 0; i <= count; i++) {
            Path f = dir.resolve("client" + i + ".pt");
            SyntheticTorchFiles.write(f, "archive", params, i);
            files.add(f);
        }
        return files;
    }

    /** {@code count} participants c0, c1, … each with its own simulated notification endpoint. */
    static List<Participant> participants(TrainingDriver driver, int count) throws IOException {
        List<Participant> participants = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            participants.add(driver.participant("c" + i));
        }
        return participants;
    }

    /** Deletes {@code dir} and everything in it. */
    static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
