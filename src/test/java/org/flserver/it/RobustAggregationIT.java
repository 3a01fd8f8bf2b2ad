package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.flserver.tensor.DType;
import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TensorInfo;
import org.flserver.tensor.WeightFile;
import org.flserver.tensor.WeightFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Aggregation options (api.md §6.7) on the shared test server (PostgreSQL, the built WAR) with simulated
 * participants: robust rules against a Byzantine participant, DP-FedAvg with a seed, and the options'
 * checks at creation and start. The expected values are computed here, in double precision from the
 * files (never by the server's code): the honest clients' weighted mean and range, and DP-FedAvg with
 * the documented noise generator (design.md §4.3). FedAdam across a restart is
 * {@link ServerOptimizerRestartIT}.
 *
 * <p>Files: the global model and the honest updates are PyTorch state_dicts of one MLP written by
 * {@code src/test/python/robust_aggregation/make_robust_fixtures.py}; the Byzantine update is one of
 * them with every float multiplied by 1000 ({@code make_byzantine_update.py}).
 */
class RobustAggregationIT {

    static final Path ROBUST = Path.of("src", "test", "resources", "robust");
    static final Path GLOBAL = ROBUST.resolve("dp").resolve("global.mlp.state_dict.pt");
    static final Path BYZANTINE = ROBUST.resolve("byzantine").resolve("client04_x1000.state_dict.pt");
    private static final int[] SIZES = {10, 20, 30, 40, 50};

    private TrainingDriver driver;

    @BeforeEach
    void driver() {
        driver = new TrainingDriver(new ApiClient());
    }

    @AfterEach
    void close() {
        driver.close();
    }

    static Path honest(int i) {
        return ROBUST.resolve("mlp").resolve(String.format("client%02d.state_dict.pt", i));
    }

    private record Started(Participant actor, List<Participant> clients, UUID model, String training) {
    }

    private Started started(String options, int participants) throws Exception {
        Participant actor = driver.participant("actor");
        List<Participant> clients = new ArrayList<>();
        for (int i = 0; i < participants; i++) {
            clients.add(driver.participant("c" + i));
        }
        UUID model = driver.uploadGlobal(actor.account(), GLOBAL);
        String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null, options, clients);
        driver.start(actor.account(), training);
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        return new Started(actor, clients, model, training);
    }

    /** Uploads {@code files} in order (participant i sends file i) and returns the new global model. */
    private Path aggregated(Started s, List<Path> files) throws Exception {
        for (int i = 0; i < files.size(); i++) {
            Reply r = driver.uploadUpdate(s.clients().get(i), s.model(), 0, files.get(i), SIZES[i]);
            assertEquals(201, r.status(), r.toString());
        }
        TrainingDriver.awaitAll(s.clients(), "MODEL_TEST_ROUND", 1);
        Path global = Files.createTempFile("robust-global", ".pt");
        Files.write(global, driver.download(s.actor(), s.model()));
        return global;
    }

    private static List<Path> withByzantine() {
        return List.of(honest(0), honest(1), BYZANTINE, honest(2), honest(3));
    }

    // ---------------------------------------------------------------------------------------------
    // One of five participants sends its update scaled by 1000

    @Test
    void medianKeepsTheGlobalModelWithTheHonestClients() throws Exception {
        Started s = started("{\"aggregation\": {\"rule\": \"median\"}}", 5);
        Path global = aggregated(s, withByzantine());
        assertWithinHonestRange(global, "median");
        JsonObject report = lastVersion(s).getJsonObject("aggregation");
        assertEquals("median", report.getString("rule"));
        assertEquals(5, report.getInt("clients"));
    }

    @Test
    void trimmedMeanKeepsTheGlobalModelWithTheHonestClients() throws Exception {
        Started s = started("{\"aggregation\": {\"rule\": \"trimmed_mean\", \"trim_fraction\": 0.2}}", 5);
        Path global = aggregated(s, withByzantine());
        assertWithinHonestRange(global, "trimmed_mean");
        JsonObject report = lastVersion(s).getJsonObject("aggregation");
        assertEquals("trimmed_mean", report.getString("rule"));
        assertEquals(1, report.getInt("trimmed_per_side"));
        // the scaled update lies outside the honest values nearly everywhere: trimmed at one end
        JsonObject byzantine = report.getJsonArray("files").getJsonObject(2);
        assertEquals(TrainingDriver.sha256(BYZANTINE), byzantine.getString("file"));
        long trimmed = byzantine.getJsonNumber("trimmed_low").longValue() + byzantine.getJsonNumber("trimmed_high")
                .longValue();
        assertTrue(trimmed > floatCount(GLOBAL) / 2, "trimmed coordinates of the Byzantine update: " + trimmed);
    }

    @Test
    void krumSelectsAnHonestUpdate() throws Exception {
        Started s = started("{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": 1}}", 5);
        Path global = aggregated(s, withByzantine());
        assertWithinHonestRange(global, "krum");
        JsonObject report = lastVersion(s).getJsonObject("aggregation");
        assertEquals("krum", report.getString("rule"));
        JsonArray selected = report.getJsonArray("selected");
        assertEquals(1, selected.size());
        assertFalse(selected.getString(0).equals(TrainingDriver.sha256(BYZANTINE)), "Krum chose the scaled update");
        // Krum's result is the chosen file's values exactly
        int chosen = -1;
        for (int i = 0; i < 5; i++) {
            if (TrainingDriver.sha256(withByzantine().get(i)).equals(selected.getString(0))) {
                chosen = i;
            }
        }
        assertTrue(chosen >= 0);
        Map<String, double[]> expected = values(withByzantine().get(chosen));
        Map<String, double[]> actual = values(global);
        for (String name : expected.keySet()) {
            for (int j = 0; j < expected.get(name).length; j++) {
                assertEquals(expected.get(name)[j], actual.get(name)[j], 0.0, name + "[" + j + "]");
            }
        }
    }

    @Test
    void theMeanIsDraggedAwayByTheScaledUpdate() throws Exception {
        Started s = started("{\"aggregation\": {\"rule\": \"mean\"}}", 5);
        Path global = aggregated(s, withByzantine());
        Honest h = honest(withByzantine());
        double distance = distance(values(global), h.mean);
        assertTrue(distance > 10 * h.radius, "the mean's distance to the honest mean, " + distance
                + ", should be far beyond the honest clients' spread " + h.radius);
        // rule mean without optimizer or DP is the default: provenance as before, without a report
        assertFalse(lastVersion(s).containsKey("aggregation"), lastVersion(s).toString());
    }

    /**
     * An update whose sender is removed from the training after uploading it does not count: the
     * actor removes the participant who sent the scaled update, the four others complete the round,
     * and the global model is the honest clients' weighted mean (the round's inputs are fixed to the
     * counted updates when it closes, docs/design.md §5.2), with the removed one's update absent from
     * provenance.
     */
    @Test
    void anUpdateOfAParticipantRemovedAfterUploadingDoesNotCount() throws Exception {
        Started s = started("{\"aggregation\": {\"rule\": \"mean\"}}", 5);
        List<Path> files = withByzantine();
        Participant removed = s.clients().get(2);
        Reply up = driver.uploadUpdate(removed, s.model(), 0, files.get(2), SIZES[2]);
        assertEquals(201, up.status(), up.toString());
        Reply gone = driver.api().send("DELETE", "/api/trainings/" + s.training() + "/clients/",
                s.actor().account().basicHeader(), "application/json",
                "{\"clients\": [\"" + removed.account().id() + "\"]}");
        assertEquals(200, gone.status(), gone.toString());
        List<Participant> staying = new ArrayList<>(s.clients());
        staying.remove(2);
        for (int i = 0; i < files.size(); i++) {
            if (i != 2) {
                Reply r = driver.uploadUpdate(s.clients().get(i), s.model(), 0, files.get(i), SIZES[i]);
                assertEquals(201, r.status(), r.toString());
            }
        }
        TrainingDriver.awaitAll(staying, "MODEL_TEST_ROUND", 1);
        Path global = Files.createTempFile("robust-global", ".pt");
        Files.write(global, driver.download(s.actor(), s.model()));
        Honest h = honest(files);
        double distance = distance(values(global), h.mean);
        assertTrue(distance <= 1e-3 * h.radius, "distance " + distance + " to the honest clients' weighted mean"
                + " (their spread " + h.radius + "): the removed participant's update was aggregated");
        JsonArray updates = lastVersion(s).getJsonArray("updates");
        assertEquals(4, updates.size(), updates.toString());
        for (JsonValue u : updates) {
            assertFalse(u.asJsonObject().getString("owner").equals(removed.account().id().toString()), updates.toString());
        }
    }

    /** The honest clients' weighted mean, and the largest distance of an honest update from it. */
    private record Honest(Map<String, double[]> mean, Map<String, double[]> min, Map<String, double[]> max,
                          double radius) {
    }

    private static Honest honest(List<Path> files) throws IOException {
        Map<String, double[]> mean = new LinkedHashMap<>();
        Map<String, double[]> min = new LinkedHashMap<>();
        Map<String, double[]> max = new LinkedHashMap<>();
        List<Map<String, double[]>> honest = new ArrayList<>();
        double total = 0;
        for (int i = 0; i < files.size(); i++) {
            if (files.get(i).equals(BYZANTINE)) {
                continue;
            }
            Map<String, double[]> v = values(files.get(i));
            honest.add(v);
            total += SIZES[i];
            for (Map.Entry<String, double[]> e : v.entrySet()) {
                double[] m = mean.computeIfAbsent(e.getKey(), k -> new double[e.getValue().length]);
                double[] lo = min.computeIfAbsent(e.getKey(), k -> filled(e.getValue().length, Double.MAX_VALUE));
                double[] hi = max.computeIfAbsent(e.getKey(), k -> filled(e.getValue().length, -Double.MAX_VALUE));
                for (int j = 0; j < m.length; j++) {
                    m[j] += SIZES[i] * e.getValue()[j];
                    lo[j] = Math.min(lo[j], e.getValue()[j]);
                    hi[j] = Math.max(hi[j], e.getValue()[j]);
                }
            }
        }
        for (double[] m : mean.values()) {
            for (int j = 0; j < m.length; j++) {
                m[j] /= total;
            }
        }
        double radius = 0;
        for (Map<String, double[]> v : honest) {
            radius = Math.max(radius, distance(v, mean));
        }
        return new Honest(mean, min, max, radius);
    }

    private static double[] filled(int n, double value) {
        double[] a = new double[n];
        java.util.Arrays.fill(a, value);
        return a;
    }

    /**
     * The tolerance of a robust rule: every coordinate of the result lies within the honest clients'
     * values (median of five with one outlier, the trimmed mean dropping one at each end and Krum
     * choosing an honest update all guarantee it), so the result is at most the honest clients'
     * spread away from their mean.
     */
    private static void assertWithinHonestRange(Path global, String rule) throws IOException {
        Honest h = honest(withByzantine());
        Map<String, double[]> actual = values(global);
        assertEquals(h.mean.keySet(), actual.keySet());
        for (String name : h.mean.keySet()) {
            double[] a = actual.get(name);
            for (int j = 0; j < a.length; j++) {
                double slack = 1e-6 * Math.max(1, Math.abs(h.max.get(name)[j]));
                assertTrue(a[j] >= h.min.get(name)[j] - slack && a[j] <= h.max.get(name)[j] + slack,
                        rule + ": " + name + "[" + j + "] = " + a[j] + " outside the honest range ["
                                + h.min.get(name)[j] + ", " + h.max.get(name)[j] + "]");
            }
        }
        double distance = distance(actual, h.mean);
        assertTrue(distance <= 2 * h.radius, rule + ": distance " + distance
                + " to the honest mean exceeds twice the honest spread " + h.radius);
    }

    static double distance(Map<String, double[]> a, Map<String, double[]> b) {
        double sum = 0;
        for (String name : b.keySet()) {
            for (int j = 0; j < b.get(name).length; j++) {
                double d = a.get(name)[j] - b.get(name)[j];
                sum += d * d;
            }
        }
        return Math.sqrt(sum);
    }

    /** Every float32 tensor of a file by name, in file order, as doubles (contiguous tensors). */
    static Map<String, double[]> values(Path file) throws IOException {
        WeightFile w = WeightFiles.open(file);
        Map<String, double[]> out = new LinkedHashMap<>();
        for (TensorInfo t : w.tensors()) {
            assertEquals(DType.FLOAT32, t.dtype(), "the MLP fixtures are float32 only");
            StorageInfo s = w.storage(t.storageKey()).orElseThrow();
            float[] all = TrainingDriver.floats(file, s);
            double[] v = new double[(int) t.numel()];
            for (int j = 0; j < v.length; j++) {
                v[j] = all[(int) t.storageOffset() + j];
            }
            out.put(t.name(), v);
        }
        return out;
    }

    static long floatCount(Path file) throws IOException {
        return values(file).values().stream().mapToLong(v -> v.length).sum();
    }

    private JsonObject lastVersion(Started s) {
        JsonArray history = driver.provenance(s.actor(), s.training());
        return history.getJsonObject(history.size() - 1);
    }

    // ---------------------------------------------------------------------------------------------
    // DP-FedAvg with a seed

    @Test
    void dpWithASeedGivesTheIndependentlyComputedNoisedGlobalAndReportsEpsilon() throws Exception {
        double clip = 1.0;
        double z = 1.1;
        long seed = 42;
        Started s = started("{\"dp\": {\"clip_norm\": " + clip + ", \"noise_multiplier\": " + z + ", \"seed\": "
                + seed + "}}", 3);
        List<Path> files = List.of(honest(5), honest(6), honest(7));
        Path global = aggregated(s, files);

        // g + Σ min(1, C/‖x_i − g‖)(x_i − g) / N + σ·noise(k), σ = zC/N, k over the file's floats in order
        Map<String, double[]> g = values(GLOBAL);
        List<Map<String, double[]>> xs = new ArrayList<>();
        for (Path f : files) {
            xs.add(values(f));
        }
        int n = files.size();
        double sigma = z * clip / n;
        double[] factors = new double[n];
        for (int i = 0; i < n; i++) {
            double norm = distance(xs.get(i), g);
            factors[i] = Math.min(1, clip / norm);
        }
        assertTrue(factors[0] < 1 || factors[1] < 1 || factors[2] < 1, "clipping is exercised");
        Map<String, double[]> actual = values(global);
        long k = 0;
        double maxDiff = 0;
        for (String name : g.keySet()) {
            double[] gv = g.get(name);
            for (int j = 0; j < gv.length; j++, k++) {
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    sum += factors[i] * (xs.get(i).get(name)[j] - gv[j]);
                }
                float expected = (float) (gv[j] + sum / n + sigma * noise(seed, 0, k));
                double diff = Math.abs(expected - actual.get(name)[j]);
                maxDiff = Math.max(maxDiff, diff);
                // one float32 ulp: the server sums in another grouping before the single rounding
                assertEquals(expected, actual.get(name)[j], Math.ulp(expected), name + "[" + j + "]");
            }
        }
        JsonObject dp = lastVersion(s).getJsonObject("dp");
        assertNotNull(dp, "provenance reports DP");
        assertEquals(sigma, dp.getJsonNumber("noise_stddev").doubleValue(), 1e-15);
        assertEquals(1, dp.getInt("rounds"));
        // ε of one round of the Gaussian mechanism (q = 1, no sampling), computed here:
        // min over integer orders α of α/(2z²) + log(1/δ)/(α − 1)
        double epsilon = Double.MAX_VALUE;
        for (int a = 2; a <= 256; a++) {
            epsilon = Math.min(epsilon, a / (2 * z * z) + Math.log(1 / 1e-5) / (a - 1));
        }
        assertEquals(epsilon, dp.getJsonNumber("epsilon").doubleValue(), 1e-9 * epsilon);
        // the admin detail page shows the privacy spent
        try (org.htmlunit.WebClient browser = RoundDeadlinesIT.adminBrowser()) {
            org.htmlunit.html.HtmlPage detail = browser.getPage(IntegrationEnvironment.baseUrl()
                    + "/admin/training.xhtml?id=" + s.training());
            String privacy = detail.getHtmlElementById("privacy").asNormalizedText();
            assertTrue(privacy.contains(String.format(java.util.Locale.ROOT, "ε = %.4f", epsilon))
                    && privacy.contains("after 1 DP round"), privacy);
        }
        System.out.println("DP-FedAvg: largest deviation from the independent computation " + maxDiff
                + ", ε = " + dp.getJsonNumber("epsilon"));
    }

    /**
     * A model outlives its trainings: a new training on it, the earlier one deleted, starts with a
     * fresh optimizer and no DP rounds spent. The earlier training's optimizer state (adam) and DP
     * count used to carry over: a momentum optimizer then met adam's state file and the training
     * failed, and ε counted the earlier training's round.
     */
    @Test
    void aNewTrainingOnTheModelOfADeletedOneStartsWithAFreshOptimizerAndNoDpRoundsSpent() throws Exception {
        String dp = "\"dp\": {\"clip_norm\": 1.0, \"noise_multiplier\": 1.1, \"seed\": 7}";
        Started first = started("{\"server_optimizer\": {\"name\": \"adam\", \"lr\": 0.03, \"tau\": 0.001}, "
                + dp + "}", 3);
        aggregated(first, List.of(honest(5), honest(6), honest(7)));
        JsonObject firstVersion = lastVersion(first);
        assertEquals(1, firstVersion.getJsonObject("server_optimizer").getInt("steps"));
        assertEquals(1, firstVersion.getJsonObject("dp").getInt("rounds"));
        Reply deleted = driver.api().send("DELETE", "/api/trainings/" + first.training() + "/",
                first.actor().account().tokenHeader(), null, null);
        assertEquals(200, deleted.status(), deleted.toString());

        // the same model (now at round 1) and participants, momentum instead of adam
        String second = driver.createTraining(first.actor().account(), first.model(), 2, "FedAvg", null,
                "{\"server_optimizer\": {\"name\": \"momentum\", \"lr\": 1.0}, " + dp + "}", first.clients());
        driver.start(first.actor().account(), second);
        TrainingDriver.awaitAll(first.clients(), "UPDATE_ROUND_START", 1);
        List<Path> files = List.of(honest(8), honest(9), honest(5));
        for (int i = 0; i < files.size(); i++) {
            Reply r = driver.uploadUpdate(first.clients().get(i), first.model(), 1, files.get(i), SIZES[i]);
            assertEquals(201, r.status(), r.toString());
        }
        TrainingDriver.awaitAll(first.clients(), "MODEL_TEST_ROUND", 2);
        Started then = new Started(first.actor(), first.clients(), first.model(), second);
        JsonObject version = lastVersion(then);
        assertEquals(2, version.getInt("round"));
        assertEquals(1, version.getJsonObject("server_optimizer").getInt("steps"), version.toString());
        assertEquals(1, version.getJsonObject("dp").getInt("rounds"), version.toString());
        try (org.htmlunit.WebClient browser = RoundDeadlinesIT.adminBrowser()) {
            String privacy = browser.<org.htmlunit.html.HtmlPage>getPage(IntegrationEnvironment.baseUrl()
                    + "/admin/training.xhtml?id=" + second).getHtmlElementById("privacy").asNormalizedText();
            assertTrue(privacy.contains("after 1 DP round"), privacy);
        }
    }

    /** The documented generator (design.md §4.3), written out again here. */
    static double noise(long seed, long round, long k) {
        long key = mix64(mix64(seed) + round);
        long o1 = mix64(key + (2 * k + 1) * 0x9E3779B97F4A7C15L);
        long o2 = mix64(key + (2 * k + 2) * 0x9E3779B97F4A7C15L);
        double u1 = ((o1 >>> 11) + 1) / 9007199254740992.0;
        double u2 = (o2 >>> 11) / 9007199254740992.0;
        return StrictMath.sqrt(-2 * StrictMath.log(u1)) * StrictMath.cos(2 * Math.PI * u2);
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    // ---------------------------------------------------------------------------------------------
    // Checks at creation and at start

    @Test
    void wrongOptionsAreRefusedAtCreationNamingTheKeyAndNothingIsStored() throws Exception {
        Participant actor = driver.participant("actor");
        Participant c = driver.participant("c");
        UUID model = driver.uploadGlobal(actor.account(), GLOBAL);
        String[][] cases = {
                {"{\"aggregation\": {\"rule\": \"average\"}}", "aggregation rule"},
                {"{\"aggregation\": {\"rule\": \"trimmed_mean\", \"trim_fraction\": 0.5}}", "trim_fraction"},
                {"{\"aggregation\": {\"rule\": \"median\", \"byzantine\": 1}}", "byzantine"},
                {"{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": -1}}", "aggregation.byzantine"},
                {"{\"aggregation\": {\"rule\": \"mean\", \"extra\": 1}}", "aggregation has no key extra"},
                {"{\"aggregation\": \"median\"}", "aggregation must be a JSON object"},
                {"{\"server_optimizer\": {\"name\": \"rmsprop\"}}", "server optimizer"},
                {"{\"server_optimizer\": {\"name\": \"adam\", \"lr\": 0}}", "server_optimizer.lr"},
                {"{\"server_optimizer\": {\"name\": \"adam\", \"beta2\": 1}}", "server_optimizer.beta2"},
                {"{\"dp\": {\"clip_norm\": 0, \"noise_multiplier\": 1}}", "dp.clip_norm"},
                {"{\"dp\": {\"clip_norm\": 1}}", "dp needs clip_norm and noise_multiplier"},
                {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": 1, \"delta\": 1}}", "dp.delta"},
                {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": 1, \"seed\": 1.5}}", "dp.seed"},
                {"{\"dp\": {\"clip_norm\": 1, \"noise_multiplier\": 1}, \"aggregation\": {\"rule\": \"median\"}}",
                        "dp cannot be combined with aggregation.rule median"},
        };
        int before = driver.api().get("/api/trainings/", actor.account()).array().size();
        for (String[] bad : cases) {
            Reply r = driver.api().postJson("/api/trainings/", actor.account(), "{\"model_id\": \"" + model
                    + "\", \"target_num_updates\": 1, \"metric_names\": [\"accuracy\"], \"aggregation_method\":"
                    + " \"FedAvg\", \"options\": " + bad[0] + ", \"clients\": [\"" + c.account().id() + "\"]}");
            assertEquals(400, r.status(), bad[0] + " → " + r);
            String message = r.json().getJsonArray("options").getString(0);
            assertTrue(message.toLowerCase().contains(bad[1].toLowerCase()), bad[0] + " → " + message);
        }
        assertEquals(before, driver.api().get("/api/trainings/", actor.account()).array().size(),
                "no refused training was stored");
    }

    @Test
    void krumWithTooFewParticipantsIsRefusedAtStart() throws Exception {
        Participant actor = driver.participant("actor");
        List<Participant> clients = List.of(driver.participant("c0"), driver.participant("c1"),
                driver.participant("c2"), driver.participant("c3"));
        UUID model = driver.uploadGlobal(actor.account(), GLOBAL);
        String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null,
                "{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": 1}}", clients);
        Reply r = driver.api().send("POST", "/api/trainings/" + training + "/start/", actor.account().tokenHeader(),
                null, null);
        assertEquals(400, r.status(), r.toString());
        assertTrue(r.json().getString("detail").contains("krum with byzantine = 1 needs more than 4 updates"),
                r.toString());
        assertEquals("I", driver.trainingJson(actor, training).getString("state"));
    }

    @Test
    void aRoundWithTooFewUpdatesForKrumFailsTheTrainingWithTheReason() throws Exception {
        // five participants, but the deadline closes the round with three (quorum 3): Krum needs 5
        Started s = started("{\"aggregation\": {\"rule\": \"krum\", \"byzantine\": 1}, \"round_timeout_seconds\": 3,"
                + " \"min_participants\": 3}", 5);
        for (int i = 0; i < 3; i++) {
            assertEquals(201, driver.uploadUpdate(s.clients().get(i), s.model(), 0, honest(i), SIZES[i]).status());
        }
        TrainingDriver.awaitCondition(() -> "E".equals(driver.trainingJson(s.actor(), s.training()).getString("state")),
                "the training fails at aggregation");
        String jobs = TrainingDriver.stringColumns("SELECT error FROM aggregation_job WHERE training_id = ?",
                s.training(), 1)[0];
        assertTrue(jobs.contains("krum with byzantine = 1 needs more than 4 updates, got 3"), jobs);
    }
}
