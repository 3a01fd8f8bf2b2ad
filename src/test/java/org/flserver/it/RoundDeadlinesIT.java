package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.flserver.round.ClientSampling;
import org.htmlunit.WebClient;
import org.htmlunit.html.HtmlForm;
import org.htmlunit.html.HtmlPage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rounds that finish when a participant does not (api.md §6.6, design.md §5.4), over
 * HTTP against the shared server on PostgreSQL, with simulated participants (loopback endpoints
 * that record the notifications; the test uploads and reports for them):
 *
 * <ul>
 * <li>A: a participant that never uploads — each round closes at its deadline with the two updates
 *     that arrived, the global model is their weighted mean (computed here), the straggler is
 *     invited every round, its late upload is 409 and changes nothing; the same for a participant
 *     that never reports metrics; below the quorum the training goes to E with the reason on the
 *     admin page and in its notification log, and no TRAINING_FINISHED;</li>
 * <li>C: {@code clients_per_round} 2 of 5 over 10 rounds;</li>
 * <li>the options' validation (400 at creation or at start, nothing stored);</li>
 * <li>FedDC and SWAG under a deadline.</li>
 * </ul>
 *
 * <p>Nothing here asserts how long anything took: a deadline is awaited by waiting for its
 * consequence (the next notification), with the drivers' generous limit.
 */
class RoundDeadlinesIT {

    private static final Path SET = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"))
            .resolve("fedavg").resolve("mlp");

    private TrainingDriver driver;

    @BeforeEach
    void driver() {
        driver = new TrainingDriver(new ApiClient());
    }

    @AfterEach
    void close() {
        driver.close();
    }

    private record Started(Participant actor, List<Participant> clients, UUID model, String training) {
    }

    private Started started(int target, String aggregation, String uncertainty, String options, int participants)
            throws Exception {
        Participant actor = driver.participant("actor");
        List<Participant> clients = new ArrayList<>();
        for (int i = 0; i < participants; i++) {
            clients.add(driver.participant("c" + i));
        }
        UUID model = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
        String training = driver.createTraining(actor.account(), model, target, aggregation, uncertainty, options,
                clients);
        driver.start(actor.account(), training);
        return new Started(actor, List.copyOf(clients), model, training);
    }

    private static Path clientFile(int i) {
        return SET.resolve("client" + (i % 3) + ".torchscript.pt");
    }

    private static Set<String> ids(List<Participant> clients) {
        return clients.stream().map(c -> c.account().id().toString()).collect(Collectors.toSet());
    }

    private static Set<String> strings(JsonArray array) {
        return array.getValuesAs(JsonValue.class).stream().map(v -> ((jakarta.json.JsonString) v).getString())
                .collect(Collectors.toSet());
    }

    private Path download(Participant who, UUID model) throws Exception {
        Path file = Files.createTempFile("global", ".pt");
        file.toFile().deleteOnExit();
        Files.write(file, driver.download(who, model));
        return file;
    }

    // ---------------------------------------------------------------------------------------------
    // A. A participant that never uploads

    @Test
    void roundsCloseAtTheDeadlineWithTheUpdatesThatArrived() throws Exception {
        Started s = started(2, "FedAvg", null, "{\"round_timeout_seconds\": 3, \"min_participants\": 2}", 3);
        List<Participant> clients = s.clients();
        Participant straggler = clients.get(2);
        int[] sizes = {10, 30};
        for (int round = 0; round < 2; round++) {
            // the straggler is invited to every round
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", round);
            JsonObject open = driver.trainingJson(s.actor(), s.training());
            assertFalse(open.isNull("round_deadline"), open.toString());
            OffsetDateTime deadline = OffsetDateTime.parse(open.getString("round_deadline"));
            assertEquals(ids(clients), strings(open.getJsonArray("expected_participants")));
            assertEquals(3, open.getInt("local_models_expected"));
            for (int i = 0; i < 2; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), s.model(), round, clientFile(i), sizes[i]).status());
            }
            // two of three are in: the round waits for the deadline, then goes on without the third
            clients.get(0).endpoint().await("MODEL_TEST_ROUND", round + 1, TrainingDriver.WAIT);
            assertFalse(OffsetDateTime.now().isBefore(deadline), "closed only at the deadline " + deadline);
            Path global = download(s.actor(), s.model());
            TrainingDriver.assertWeightedMean(global, List.of(clientFile(0), clientFile(1)), sizes);

            // the straggler's late upload: 409, and nothing changes
            Reply late = driver.uploadUpdate(straggler, s.model(), round, clientFile(2), 60);
            assertEquals(409, late.status(), late.toString());
            assertEquals("Round " + round + " is closed.", late.json().getString("detail"));
            assertArrayEquals(Files.readAllBytes(global), driver.download(s.actor(), s.model()));

            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", round + 1);
            driver.reportMetrics(clients, s.model(), "0.5");
        }
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        JsonObject done = driver.trainingJson(s.actor(), s.training());
        assertEquals("C", done.getString("state"));
        assertTrue(done.isNull("round_deadline"), done.toString());

        // provenance lists only the updates used: two per round, from c0 and c1
        JsonArray history = driver.provenance(s.actor(), s.training());
        assertEquals(3, history.size());
        Set<String> used = Set.of(clients.get(0).account().username(), clients.get(1).account().username());
        for (int v = 1; v < 3; v++) {
            JsonArray updates = history.getJsonObject(v).getJsonArray("updates");
            assertEquals(used, updates.stream().map(u -> u.asJsonObject().getString("owner_username"))
                    .collect(Collectors.toSet()), history.toString());
            assertEquals(2, updates.size());
        }
        assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1", "UPDATE_ROUND_START:1",
                "MODEL_TEST_ROUND:2", "TRAINING_FINISHED"), straggler.endpoint().labels());
        assertEquals(2, TrainingDriver.count("SELECT COUNT(*) FROM collection_phase WHERE training_id = ?"
                + " AND phase = 'UPDATES' AND status = 'DEADLINE'", s.training()));
        assertEquals(2, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", s.training()));
    }

    @Test
    void testRoundsCloseAtTheDeadlineWithTheMetricsThatArrived() throws Exception {
        Started s = started(2, "FedAvg", null, "{\"round_timeout_seconds\": 3, \"min_participants\": 2}", 3);
        List<Participant> clients = s.clients();
        Participant silent = clients.get(2);
        List<Participant> reporters = clients.subList(0, 2);
        int[] sizes = {10, 30, 60};
        for (int round = 0; round < 2; round++) {
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", round);
            if (round == 1) {
                // the silent one's report for test round 1 comes during round 1's updates: refused
                Reply late = driver.api().send("POST", "/api/models/" + s.model() + "/metrics/",
                        silent.account().basicHeader(), "application/x-www-form-urlencoded",
                        "metric_names=accuracy&metric_values=0.1");
                assertEquals(409, late.status(), late.toString());
                assertEquals("Round 1 is closed.", late.json().getString("detail"));
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), s.model(), round, clientFile(i), sizes[i]).status());
            }
            // every update arrived: the round closes at once, as without a deadline
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", round + 1);
            driver.reportMetrics(reporters, s.model(), "0.7");
        }
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        assertEquals("C", driver.trainingJson(s.actor(), s.training()).getString("state"));
        Reply late = driver.api().send("POST", "/api/models/" + s.model() + "/metrics/", silent.account().basicHeader(),
                "application/x-www-form-urlencoded", "metric_names=accuracy&metric_values=0.1");
        assertEquals(409, late.status(), late.toString());
        assertEquals("Round 2 is closed.", late.json().getString("detail"));
        // nothing of the silent participant was stored; the others' metrics are there
        JsonArray metrics = driver.api().get("/api/models/" + s.model() + "/metrics/", s.actor().account()).array();
        assertEquals(4, metrics.size(), metrics.toString());
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM metric WHERE reporter_id = ?",
                silent.account().id().toString()));
        assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1", "UPDATE_ROUND_START:1",
                "MODEL_TEST_ROUND:2", "TRAINING_FINISHED"), silent.endpoint().labels());
        assertEquals(2, TrainingDriver.count("SELECT COUNT(*) FROM collection_phase WHERE training_id = ?"
                + " AND phase = 'TESTING' AND status = 'DEADLINE'", s.training()));
    }

    @Test
    void belowTheQuorumTheTrainingFailsWithTheReasonRecorded() throws Exception {
        Started s = started(2, "FedAvg", null, "{\"round_timeout_seconds\": 2, \"min_participants\": 2}", 3);
        List<Participant> clients = s.clients();
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        assertEquals(201, driver.uploadUpdate(clients.get(0), s.model(), 0, clientFile(0), 10).status());
        TrainingDriver.awaitCondition(() -> driver.trainingJson(s.actor(), s.training()).getString("state").equals("E"),
                "the training fails at the deadline");
        Reply late = driver.uploadUpdate(clients.get(1), s.model(), 0, clientFile(1), 30);
        assertEquals(409, late.status(), late.toString());
        assertEquals("Round 0 is closed.", late.json().getString("detail"));

        String[] phase = TrainingDriver.stringColumns("SELECT status, reason FROM collection_phase"
                + " WHERE training_id = ? AND round = 0 AND phase = 'UPDATES'", s.training(), 2);
        assertEquals("BELOW_QUORUM", phase[0]);
        String c0 = clients.get(0).account().username();
        String c1 = clients.get(1).account().username();
        String c2 = clients.get(2).account().username();
        assertTrue(phase[1].contains("the updates of round 0") && phase[1].contains("1 of 3")
                && phase[1].contains("quorum of 2") && phase[1].contains("delivered: " + c0)
                && phase[1].contains("missing: " + c1 + ", " + c2), phase[1]);
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM notification WHERE training_id = ?"
                + " AND type = 'TRAINING_FINISHED'", s.training()));
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?", s.training()));

        try (WebClient browser = adminBrowser()) {
            HtmlPage detail = browser.getPage(IntegrationEnvironment.baseUrl() + "/admin/training.xhtml?id="
                    + s.training());
            String phases = detail.getHtmlElementById("deadlinePhases").asNormalizedText();
            assertTrue(phases.contains("BELOW_QUORUM") && phases.contains(phase[1]), phases);
            String log = detail.getHtmlElementById("notifications").asNormalizedText();
            assertTrue(log.contains("TRAINING_FAILED_BELOW_QUORUM") && log.contains(phase[1]), log);
            assertFalse(log.contains("TRAINING_FINISHED"), log);
        }
        for (Participant c : clients) {
            assertFalse(c.endpoint().labels().contains("TRAINING_FINISHED"));
        }
    }

    /**
     * The last upload sent at the moment of the deadline (design.md §5.4): whichever of the two
     * takes the training's row lock first wins, and there is exactly one aggregation — with the
     * upload if it was accepted (201), without it if it was refused (409). Several trainings, so
     * that both orders are likely to occur; either order must hold the rule.
     */
    @Test
    void anUploadAtTheDeadlineIsEitherAggregatedOrRefusedAndTheRoundAggregatesOnce() throws Exception {
        for (int trial = 0; trial < 6; trial++) {
            Started s = started(1, "FedAvg", null, "{\"round_timeout_seconds\": 1, \"min_participants\": 2}", 3);
            List<Participant> clients = s.clients();
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
            for (int i = 0; i < 2; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), s.model(), 0, clientFile(i), 10 + i).status());
            }
            OffsetDateTime deadline = OffsetDateTime.parse(driver.trainingJson(s.actor(), s.training())
                    .getString("round_deadline"));
            // aim at the deadline, a little before or after it from one trial to the next
            long wait = java.time.Duration.between(OffsetDateTime.now(), deadline).toMillis() + (trial % 3 - 1) * 15L;
            if (wait > 0) {
                Thread.sleep(wait);
            }
            Reply last = driver.uploadUpdate(clients.get(2), s.model(), 0, clientFile(2), 12);
            assertTrue(last.status() == 201 || last.status() == 409, last.toString());
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
            assertEquals(1, TrainingDriver.count("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?",
                    s.training()));
            JsonArray updates = driver.provenance(s.actor(), s.training()).getJsonObject(1).getJsonArray("updates");
            boolean included = updates.stream().anyMatch(u -> u.asJsonObject().getString("owner")
                    .equals(clients.get(2).account().id().toString()));
            assertEquals(last.status() == 201, included, "trial " + trial + ": " + last + " / " + updates);
            assertEquals(last.status() == 201 ? 3 : 2, updates.size());
            String[] phase = TrainingDriver.stringColumns("SELECT status FROM collection_phase WHERE training_id = ?"
                    + " AND round = 0 AND phase = 'UPDATES'", s.training(), 1);
            assertEquals(last.status() == 201 ? "COMPLETE" : "DEADLINE", phase[0]);
            driver.reportMetrics(clients, s.model(), "0.5");
            TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        }
    }

    /** A browser logged in to the admin pages (the shared server's superuser). */
    /** A browser logged in to the admin pages of the shared server (also RobustAggregationIT). */
    static WebClient adminBrowser() throws Exception {
        WebClient browser = new WebClient();
        browser.getOptions().setJavaScriptEnabled(false);
        browser.getOptions().setCssEnabled(false);
        // the detail page reloads itself while a deadline runs; the test reads it when it chooses
        browser.setRefreshHandler((page, url, seconds) -> { });
        HtmlPage login = browser.getPage(IntegrationEnvironment.baseUrl() + "/admin/login.xhtml");
        HtmlForm form = login.getFormByName("login");
        form.getInputByName("login:username").setValue("admin");
        form.getInputByName("login:password").setValue("admin-password");
        form.getInputByName("login:submit").click();
        return browser;
    }

    @Test
    void theAdminPageShowsTheRunningDeadlineAndWhoTheRoundExpects() throws Exception {
        // a deadline far away, one of two drawn: the page is read while the phase is surely open
        Started s = started(1, "FedAvg", null, "{\"round_timeout_seconds\": 600, \"clients_per_round\": 1}", 2);
        JsonObject t = driver.trainingJson(s.actor(), s.training());
        String drawnId = t.getJsonArray("expected_participants").getString(0);
        Participant drawn = s.clients().stream().filter(c -> c.account().id().toString().equals(drawnId))
                .findFirst().orElseThrow();
        Participant other = s.clients().stream().filter(c -> c != drawn).findFirst().orElseThrow();
        drawn.endpoint().await("UPDATE_ROUND_START", 0, TrainingDriver.WAIT);
        try (WebClient browser = adminBrowser()) {
            HtmlPage page = browser.getPage(IntegrationEnvironment.baseUrl() + "/admin/training.xhtml?id="
                    + s.training());
            String deadline = page.getHtmlElementById("deadline").asNormalizedText();
            String due = java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").format(
                    OffsetDateTime.parse(t.getString("round_deadline")).atZoneSameInstant(java.time.ZoneOffset.UTC));
            assertTrue(deadline.startsWith(due), due + " / " + deadline);
            assertTrue(page.getHtmlElementById("countdown").asNormalizedText().matches("\\d+\\.\\d s left"),
                    deadline);
            assertNotNull(page.getFirstByXPath("//meta[@http-equiv='refresh']"), "the countdown reloads the page");
            String deliveries = page.getHtmlElementById("deliveries").asNormalizedText();
            assertTrue(deliveries.matches("(?s).*" + drawn.account().username() + "\\s+missing.*"), deliveries);
            assertTrue(deliveries.matches("(?s).*" + other.account().username() + "\\s+not invited to this round.*"),
                    deliveries);

            assertEquals(201, driver.uploadUpdate(drawn, s.model(), 0, clientFile(0), 10).status());
            TrainingDriver.awaitAll(s.clients(), "MODEL_TEST_ROUND", 1);
            HtmlPage testing = browser.getPage(IntegrationEnvironment.baseUrl() + "/admin/training.xhtml?id="
                    + s.training());
            assertEquals("TESTING", testing.getHtmlElementById("phase").asNormalizedText());
            assertNotNull(testing.getElementById("deadline"), "the test round has its own deadline");
            // the updates closed because everyone expected delivered, not by deadline
            assertEquals(null, testing.getElementById("deadlinePhases"));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // C. Client sampling

    @Test
    void clientsPerRoundInvitesTwoOfFiveAndAggregatesTheirUpdates() throws Exception {
        Started s = started(10, "FedAvg", null, "{\"clients_per_round\": 2}", 5);
        List<Participant> clients = s.clients();
        Map<String, Participant> byId = new HashMap<>();
        clients.forEach(c -> byId.put(c.account().id().toString(), c));
        List<UUID> participantIds = clients.stream().map(c -> c.account().id()).toList();
        Set<String> everDrawn = new HashSet<>();
        for (int round = 0; round < 10; round++) {
            JsonObject t = driver.trainingJson(s.actor(), s.training());
            assertTrue(t.isNull("round_deadline"), "no timeout, no deadline: " + t);
            Set<String> expected = strings(t.getJsonArray("expected_participants"));
            assertEquals(2, expected.size(), t.toString());
            assertEquals(2, t.getInt("local_models_expected"));
            // the draw is reproducible from the training id and the round (the same after a restart)
            assertEquals(ClientSampling.draw(UUID.fromString(s.training()), round, participantIds, 2).stream()
                    .map(UUID::toString).collect(Collectors.toSet()), expected);
            everDrawn.addAll(expected);
            List<Participant> drawn = expected.stream().map(byId::get).sorted((a, b) ->
                    a.account().username().compareTo(b.account().username())).toList();
            TrainingDriver.awaitAll(drawn, "UPDATE_ROUND_START", round);
            if (round == 0) {
                Participant other = clients.stream().filter(c -> !expected.contains(c.account().id().toString()))
                        .findFirst().orElseThrow();
                Reply refused = driver.uploadUpdate(other, s.model(), 0, clientFile(0), 5);
                assertEquals(403, refused.status(), refused.toString());
            }
            int[] sizes = {3 + round, 20 - round};
            for (int i = 0; i < 2; i++) {
                assertEquals(201, driver.uploadUpdate(drawn.get(i), s.model(), round, clientFile(i + round), sizes[i])
                        .status());
            }
            // test rounds ask everyone
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", round + 1);
            TrainingDriver.assertWeightedMean(download(s.actor(), s.model()),
                    List.of(clientFile(round), clientFile(1 + round)), sizes);
            if (round == 0) {
                // an update for the next round before its draw (its test round runs): refused, and it
                // does not slip into the next aggregation, whoever the draw then picks
                Reply early = driver.uploadUpdate(clients.get(0), s.model(), 1, clientFile(4), 7);
                assertEquals(400, early.status(), early.toString());
            }
            JsonArray updates = driver.provenance(s.actor(), s.training()).getJsonObject(round + 1)
                    .getJsonArray("updates");
            assertEquals(expected, updates.stream().map(u -> u.asJsonObject().getString("owner"))
                    .collect(Collectors.toSet()));
            driver.reportMetrics(clients, s.model(), "0.5");
        }
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        assertEquals(ids(clients), everDrawn, "over 10 rounds every participant is drawn at least once");
        // only the drawn ones got UPDATE_ROUND_START: two per round
        Map<Integer, Integer> invitations = new HashMap<>();
        for (Participant c : clients) {
            c.endpoint().received().stream().filter(r -> r.type().equals("UPDATE_ROUND_START"))
                    .forEach(r -> invitations.merge(r.round(), 1, Integer::sum));
        }
        for (int round = 0; round < 10; round++) {
            assertEquals(2, invitations.get(round), "round " + round + ": " + invitations);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Options validation

    @Test
    void badRoundOptionsAreRefusedAtCreationAndNothingIsStored() throws Exception {
        Participant actor = driver.participant("actor");
        Participant c0 = driver.participant("c0");
        UUID model = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
        String[] bad = {"{\"round_timeout_seconds\": 0}", "{\"round_timeout_seconds\": -3}",
            "{\"round_timeout_seconds\": \"3\"}", "{\"round_timeout_seconds\": true}",
            "{\"min_participants\": 0}", "{\"min_participants\": 1.5}", "{\"clients_per_round\": 0}",
            "{\"clients_per_round\": -1}", "{\"min_participants\": 3, \"clients_per_round\": 2}"};
        for (String options : bad) {
            Reply r = driver.api().postJson("/api/trainings/", actor.account(), "{\"model_id\": \"" + model
                    + "\", \"target_num_updates\": 1, \"metric_names\": [\"accuracy\"], \"aggregation_method\": \"FedAvg\","
                    + " \"options\": " + options
                    + ", \"clients\": [\"" + c0.account().id() + "\"]}");
            assertEquals(400, r.status(), options + ": " + r);
            String text = r.json().getJsonArray("options").getString(0);
            assertTrue(text.contains("checked when the training is created"), text);
            String key = options.substring(2, options.indexOf('"', 2));
            assertTrue(text.contains(key), text);
        }
        assertEquals(0, driver.api().get("/api/trainings/", actor.account()).array().size(), "nothing stored");
    }

    @Test
    void aQuorumLargerThanTheParticipantsIsRefusedAtStart() throws Exception {
        Participant actor = driver.participant("actor");
        List<Participant> clients = List.of(driver.participant("c0"), driver.participant("c1"));
        UUID model = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
        String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null,
                "{\"round_timeout_seconds\": 5, \"min_participants\": 3}", clients);
        Reply r = driver.api().send("POST", "/api/trainings/" + training + "/start/", actor.account().tokenHeader(),
                null, null);
        assertEquals(400, r.status(), r.toString());
        assertTrue(r.detail().contains("checked at start") && r.detail().contains("min_participants is 3")
                && r.detail().contains("2 participants"), r.detail());
        JsonObject t = driver.trainingJson(actor, training);
        assertEquals("I", t.getString("state"));
        assertTrue(t.isNull("round_deadline"));
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM training_round WHERE training_id = ?", training));
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM collection_phase WHERE training_id = ?", training));
        assertEquals(0, TrainingDriver.count("SELECT COUNT(*) FROM notification WHERE training_id = ?", training));
    }

    // ---------------------------------------------------------------------------------------------
    // FedDC and SWAG under a deadline

    @Test
    void fedDcShufflesOnlyAmongThoseWhoDelivered() throws Exception {
        Started s = started(1, "FedDC", null,
                "{\"daisy_chain_period\": 2, \"round_timeout_seconds\": 3, \"min_participants\": 2}", 3);
        List<Participant> clients = s.clients();
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        int[] sizes = {10, 30};
        for (int i = 0; i < 2; i++) {
            assertEquals(201, driver.uploadUpdate(clients.get(i), s.model(), 0, clientFile(i), sizes[i]).status());
        }
        // round 0 closes at its deadline: round 1 starts from the two local models that arrived
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 1);
        Set<String> delivered = driver.localModelIds(s.actor(), s.training(), 0);
        assertEquals(2, delivered.size());
        Set<String> announced = new HashSet<>();
        for (Participant c : clients) {
            announced.add(c.endpoint().await("UPDATE_ROUND_START", 1, TrainingDriver.WAIT).modelId());
        }
        assertTrue(delivered.containsAll(announced), announced + " not among " + delivered);
        assertEquals(409, driver.uploadUpdate(clients.get(2), s.model(), 0, clientFile(2), 60).status());
        int[] next = {7, 11};
        for (int i = 0; i < 2; i++) {
            assertEquals(201, driver.uploadUpdate(clients.get(i), s.model(), 1, clientFile(i), next[i]).status());
        }
        // round 1 is a boundary: aggregated at its deadline from the two updates of round 1
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 2);
        TrainingDriver.assertWeightedMean(download(s.actor(), s.model()), List.of(clientFile(0), clientFile(1)), next);
        driver.reportMetrics(clients, s.model(), "0.9");
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        JsonArray history = driver.provenance(s.actor(), s.training());
        assertEquals(List.of(1, 1), history.getJsonObject(1).getJsonArray("updates").stream()
                .map(u -> u.asJsonObject().getInt("round")).toList());
    }

    @Test
    void swagAveragesTheMomentsThatArrived() throws Exception {
        Started s = started(1, "FedAvg", "SWAG", "{\"round_timeout_seconds\": 3, \"min_participants\": 2}", 3);
        List<Participant> clients = s.clients();
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        int[] sizes = {10, 30, 60};
        for (int i = 0; i < 3; i++) {
            assertEquals(201, driver.uploadUpdate(clients.get(i), s.model(), 0, clientFile(i), sizes[i]).status());
        }
        TrainingDriver.awaitAll(clients, "SWAG_ROUND_START", 1);
        JsonObject swagRound = driver.trainingJson(s.actor(), s.training());
        assertNotNull(swagRound.getString("round_deadline"));
        int parameters = TrainingDriver.floatingParameters(clientFile(0));
        List<float[]> firsts = new ArrayList<>();
        List<float[]> seconds = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            float[] first = TrainingDriver.firstMoment(parameters, i);
            float[] second = TrainingDriver.secondMoment(first, i);
            firsts.add(first);
            seconds.add(second);
            Reply r = driver.uploadMoments(clients.get(i), s.model(), 1, first, second, sizes[i]);
            assertEquals(201, r.status(), r.toString());
        }
        TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
        float[] late = new float[parameters];
        Reply refused = driver.uploadMoments(clients.get(2), s.model(), 1, late, late, 60);
        assertEquals(409, refused.status(), refused.toString());
        assertEquals("Round 1 is closed.", refused.json().getString("detail"));
        String[] moments = TrainingDriver.stringColumns("SELECT swag_first_moment_sha256, swag_second_moment_sha256"
                + " FROM model WHERE id = ?", s.model().toString(), 2);
        TrainingDriver.assertMomentMean(TrainingDriver.dataFile(moments[0]), firsts, new int[]{10, 30});
        TrainingDriver.assertMomentMean(TrainingDriver.dataFile(moments[1]), seconds, new int[]{10, 30});
        driver.reportMetrics(clients, s.model(), "0.8");
        TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
        JsonArray swag = driver.provenance(s.actor(), s.training()).getJsonObject(1).getJsonArray("swag_updates");
        assertEquals(List.of(10, 30), swag.stream().map(u -> u.asJsonObject().getInt("sample_size")).toList());
    }
}
