package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flserver.it.TrainingDriver.Participant;
import org.junit.jupiter.api.Test;

/**
 * Server optimizers (api.md §6.7, design.md §4.4): two rounds of FedAdam on servers of the test's own
 * (PostgreSQL, its own schema and data directory, like {@link CrashRecoveryIT}), the first server
 * killed with SIGKILL between the rounds and a new one started on the same database and files. The
 * second round's global model can only be right if the optimizer state (m, v) of the first round
 * survived: the expected globals are computed here in double precision from the files (the honest
 * weighted mean rounded to float32, as the aggregate file holds it; then Reddi et al.'s FedAdam,
 * m and v from 0, rounded once to float32).
 */
@OwnServers
class ServerOptimizerRestartIT {

    private static final int[] SIZES = {10, 30, 60};
    private static final double LR = 0.01;
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.99;
    private static final double TAU = 1e-3;

    @Test
    void twoRoundsOfFedAdamAcrossARestartGiveTheIndependentlyComputedGlobals() throws Exception {
        Path work = Files.createDirectories(Path.of("target", "it", "optimizer").toAbsolutePath());
        String jdbcUrl = IntegrationEnvironment.newSchema("optimizer");
        List<String> properties = new ArrayList<>(IntegrationEnvironment.serverProperties(work.resolve("data")));
        properties.add("-Dfl.db.url=" + jdbcUrl); // a later -D wins

        PayaraMicroProcess first = IntegrationEnvironment.startOwnServer(work, properties, "first");
        PayaraMicroProcess second = null;
        try (TrainingDriver driver = new TrainingDriver(new ApiClient(first.baseUrl()))) {
            Participant actor = driver.participant("actor");
            List<Participant> clients = List.of(driver.participant("c0"), driver.participant("c1"),
                    driver.participant("c2"));
            UUID model = driver.uploadGlobal(actor.account(), RobustAggregationIT.GLOBAL);
            String training = driver.createTraining(actor.account(), model, 2, "FedAvg", null,
                    "{\"server_optimizer\": {\"name\": \"adam\", \"lr\": " + LR + ", \"beta1\": " + BETA1
                            + ", \"beta2\": " + BETA2 + ", \"tau\": " + TAU + "}}", clients);
            driver.start(actor.account(), training);

            Map<String, double[]> global = RobustAggregationIT.values(RobustAggregationIT.GLOBAL);
            Map<String, double[]> m = zeros(global);
            Map<String, double[]> v = zeros(global);

            // round 0 on the first server
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
            List<Path> round0 = List.of(RobustAggregationIT.honest(0), RobustAggregationIT.honest(1),
                    RobustAggregationIT.honest(2));
            for (int i = 0; i < 3; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), model, 0, round0.get(i), SIZES[i]).status());
            }
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
            global = adamStep(global, aggregate(round0), m, v);
            assertGlobal(driver, actor, model, global, "round 0");
            JsonObject opt1 = version(driver, actor, training, 1).getJsonObject("server_optimizer");
            assertEquals(1, opt1.getInt("steps"));
            String state1 = opt1.getString("state_sha256");
            assertEquals(state1, TrainingDriver.sha256(TrainingDriverFiles.data(work, state1)),
                    "the state file is stored content-addressed");

            // the server dies; a new one continues on the same database and data directory
            first.kill();
            second = IntegrationEnvironment.startOwnServer(work, properties, "second");
            driver.useServer(second.baseUrl());
            driver.reportMetrics(clients, model, "0.5");
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 1);
            List<Path> round1 = List.of(RobustAggregationIT.honest(3), RobustAggregationIT.honest(4),
                    RobustAggregationIT.honest(5));
            for (int i = 0; i < 3; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), model, 1, round1.get(i), SIZES[i]).status());
            }
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 2);
            global = adamStep(global, aggregate(round1), m, v);
            assertGlobal(driver, actor, model, global, "round 1 (after the restart)");
            JsonObject opt2 = version(driver, actor, training, 2).getJsonObject("server_optimizer");
            assertEquals(2, opt2.getInt("steps"), "the second step continued from the first's state");
            assertNotEquals(state1, opt2.getString("state_sha256"));
            driver.reportMetrics(clients, model, "0.6");
            TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
            assertEquals("C", driver.trainingJson(actor, training).getString("state"));
        } finally {
            first.close();
            if (second != null) {
                second.close();
            }
        }
    }

    private static JsonObject version(TrainingDriver driver, Participant actor, String training, int round) {
        JsonArray history = driver.provenance(actor, training);
        for (int i = 0; i < history.size(); i++) {
            if (history.getJsonObject(i).getInt("round") == round) {
                JsonObject version = history.getJsonObject(i);
                assertNotNull(version.get("server_optimizer"), "provenance of round " + round + ": " + version);
                return version;
            }
        }
        throw new AssertionError("no version of round " + round + " in " + history);
    }

    private static void assertGlobal(TrainingDriver driver, Participant actor, UUID model,
                                     Map<String, double[]> expected, String what) throws Exception {
        Path file = Files.createTempFile("adam-global", ".pt");
        Files.write(file, driver.download(actor, model));
        Map<String, double[]> actual = RobustAggregationIT.values(file);
        for (String name : expected.keySet()) {
            for (int j = 0; j < expected.get(name).length; j++) {
                // both sides rounded to float32; a last-bit difference of the aggregate moves the step
                // by at most lr·(1 − β1)/τ = 1 times it (τ = 1e-3), so 2e-6 is a few float32 ulps of
                // these weights, while a lost state (m, v restarted from 0) moves it by ~1e-3
                assertEquals(expected.get(name)[j], actual.get(name)[j], 2e-6, what + ": " + name + "[" + j + "]");
            }
        }
        Files.delete(file);
    }

    /** The clients' weighted mean in double, rounded to float32 as the aggregate file holds it. */
    private static Map<String, double[]> aggregate(List<Path> files) throws Exception {
        Map<String, double[]> sum = new LinkedHashMap<>();
        double total = 0;
        for (int i = 0; i < files.size(); i++) {
            total += SIZES[i];
            for (Map.Entry<String, double[]> e : RobustAggregationIT.values(files.get(i)).entrySet()) {
                double[] acc = sum.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
                for (int j = 0; j < acc.length; j++) {
                    acc[j] += SIZES[i] * e.getValue()[j];
                }
            }
        }
        for (double[] acc : sum.values()) {
            for (int j = 0; j < acc.length; j++) {
                acc[j] = (float) (acc[j] / total);
            }
        }
        return sum;
    }

    /** FedAdam (Reddi et al. 2021, no bias correction): m, v updated in place; the new global in float32. */
    private static Map<String, double[]> adamStep(Map<String, double[]> x, Map<String, double[]> aggregate,
                                                  Map<String, double[]> m, Map<String, double[]> v) {
        Map<String, double[]> next = new LinkedHashMap<>();
        for (String name : x.keySet()) {
            double[] xs = x.get(name);
            double[] out = new double[xs.length];
            for (int j = 0; j < xs.length; j++) {
                double delta = aggregate.get(name)[j] - xs[j];
                m.get(name)[j] = BETA1 * m.get(name)[j] + (1 - BETA1) * delta;
                v.get(name)[j] = BETA2 * v.get(name)[j] + (1 - BETA2) * delta * delta;
                out[j] = (float) (xs[j] + LR * m.get(name)[j] / (Math.sqrt(v.get(name)[j]) + TAU));
            }
            next.put(name, out);
        }
        return next;
    }

    private static Map<String, double[]> zeros(Map<String, double[]> like) {
        Map<String, double[]> z = new LinkedHashMap<>();
        like.forEach((k, a) -> z.put(k, new double[a.length]));
        return z;
    }

    /** Where the own servers' content-addressed store keeps a file (design.md §4.1). */
    private static final class TrainingDriverFiles {
        static Path data(Path work, String sha256) {
            return work.resolve("data").resolve("files").resolve(sha256.substring(0, 2)).resolve(sha256);
        }
    }
}
