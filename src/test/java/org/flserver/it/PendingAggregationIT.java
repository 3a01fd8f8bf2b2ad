package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.junit.jupiter.api.Test;

/**
 * What happens to a training while its round's aggregation job is pending (docs/design.md §5.2),
 * with servers of its own on a schema of its own, so that their workers are the only ones taking
 * these jobs. The first server claims the first training's job and holds it (the fault-injection
 * setting {@code fl.jobs.hold-after-claim-seconds}), so the jobs queued after it stay pending for as
 * long as the test needs:
 * <ul>
 * <li>a participant added while its training's round is aggregated cannot upload an update for that
 *     round (409 "Round r is closed.", nothing stored), and a participant cannot delete its update
 *     of that round (409) — the job reads the round's updates when it is claimed; the round then
 *     completes with exactly the three updates it closed with;</li>
 * <li>a training that fails while its job is pending (here: a round notification that could not be
 *     delivered, failing for good after the round closed) stays in E: its job is FAILED and never
 *     completes;</li>
 * <li>the first server is killed while it holds the first training's job; the second server allows
 *     one attempt per job ({@code fl.jobs.max-attempts=1}), so it does not claim that job again but
 *     fails it and its training with the reason — a job whose runs take their server down is not
 *     claimed after every restart forever.</li>
 * </ul>
 */
@OwnServers
class PendingAggregationIT {

    private static final Path SET = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"))
            .resolve("fedavg").resolve("mlp");
    private static final int[] SIZES = {10, 30, 60};

    /** The test database with this test's own schema as the current one. */
    private String jdbcUrl;

    @Test
    void aPendingJobKeepsItsInputsAFailedTrainingStaysFailedAndAJobThatKilledItsServerFails() throws Exception {
        Path work = Files.createDirectories(Path.of("target", "it", "pending").toAbsolutePath());
        jdbcUrl = IntegrationEnvironment.newSchema("pending");
        List<String> properties = new ArrayList<>(IntegrationEnvironment.serverProperties(work.resolve("data")));
        properties.add("-Dfl.db.url=" + jdbcUrl); // a later -D wins
        properties.add("-Dfl.jobs.lease-seconds=5");
        // an unreachable participant's notification fails for good after about 16 s
        properties.add("-Dfl.notification.retry-delays-seconds=4,4,4,4");
        List<String> holding = new ArrayList<>(properties);
        holding.add("-Dfl.jobs.hold-after-claim-seconds=600");
        List<String> oneAttempt = new ArrayList<>(properties);
        oneAttempt.add("-Dfl.jobs.max-attempts=1");

        PayaraMicroProcess first = IntegrationEnvironment.startOwnServer(work, holding, "first");
        PayaraMicroProcess second = null;
        try (TrainingDriver driver = new TrainingDriver(new ApiClient(first.baseUrl()))) {
            Participant actor = driver.participant("actor");

            // training A: its job is claimed and held by the first server, which is then killed
            List<Participant> a = clients(driver, "a", 3);
            UUID modelA = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
            String trainingA = startedTraining(driver, actor, modelA, a);
            uploadAll(driver, a, modelA);
            TrainingDriver.awaitCondition(() -> jobs(trainingA).equals(List.of("0 PENDING 1 held")),
                    "the first server claims training A's job");

            // training D: its job waits behind A's
            List<Participant> d = clients(driver, "d", 3);
            UUID modelD = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
            String trainingD = startedTraining(driver, actor, modelD, d);
            uploadAll(driver, d, modelD);
            assertEquals(List.of("0 PENDING 0 free"), jobs(trainingD));
            assertEquals("O", driver.trainingJson(actor, trainingD).getString("state"));

            // a participant added during the aggregation cannot send an update for the closed round
            Participant late = driver.participant("d-late");
            assertEquals(202, driver.api().send("PUT", "/api/trainings/" + trainingD + "/clients/",
                    actor.account().tokenHeader(), "application/json",
                    "{\"clients\": [\"" + late.account().id() + "\"]}").status());
            Reply refused = driver.uploadUpdate(late, modelD, 0, SET.resolve("client0.torchscript.pt"), 5);
            assertEquals(409, refused.status(), refused.toString());
            assertEquals("Round 0 is closed.", refused.detail());
            // a participant cannot delete its update of the round being aggregated (nor upload again)
            String update = localModelOf(modelD, d.get(0));
            Reply delete = driver.api().send("DELETE", "/api/models/" + update + "/",
                    d.get(0).account().tokenHeader(), null, (String) null);
            assertEquals(409, delete.status(), delete.toString());
            assertTrue(delete.detail().contains("being aggregated"), delete.toString());
            Reply again = driver.uploadUpdate(d.get(0), modelD, 0, SET.resolve("client0.torchscript.pt"), 10);
            assertEquals(409, again.status(), again.toString());
            assertEquals(updateOwnersOf(d), updateOwners(modelD), "the round's three updates, nothing else");

            // training B: fails while its job is pending — its round notification to b1 cannot be
            // delivered, and b1 uploaded anyway, so the round closed before the delivery failed for good
            List<Participant> b = clients(driver, "b", 2);
            b.get(1).endpoint().close(); // nothing listens there any more: connection refused
            UUID modelB = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
            String trainingB = startedTraining(driver, actor, modelB, List.of(b.get(0)), b);
            for (int i = 0; i < 2; i++) {
                Reply r = driver.uploadUpdate(b.get(i), modelB, 0, SET.resolve("client" + i + ".torchscript.pt"),
                        SIZES[i]);
                assertEquals(201, r.status(), "the upload is in before the delivery to b1 fails: " + r);
            }
            assertEquals(List.of("0 PENDING 0 free"), jobs(trainingB));
            TrainingDriver.awaitCondition(() -> "E".equals(driver.trainingJson(actor, trainingB).getString("state")),
                    "training B fails when the notification to b1 fails for good");
            assertEquals(List.of("0 FAILED 0 free"), jobs(trainingB), "the failed training's job will not run");
            assertTrue(column("SELECT error FROM aggregation_job WHERE training_id = ?", UUID.fromString(trainingB))
                    .get(0).contains("is unreachable"));

            first.kill();
            second = IntegrationEnvironment.startOwnServer(work, oneAttempt, "second");
            driver.useServer(second.baseUrl());

            // D's round completes with the three updates it closed with
            TrainingDriver.awaitAll(d, "MODEL_TEST_ROUND", 1);
            JsonArray history = driver.provenance(actor, trainingD);
            assertEquals(updateOwnersOf(d), history.getJsonObject(1).getJsonArray("updates").stream()
                    .map(u -> u.asJsonObject().getString("owner")).sorted().toList(), history.toString());

            // A's job took its server down in its only allowed attempt: it fails, and so does A
            TrainingDriver.awaitCondition(() -> "E".equals(driver.trainingJson(actor, trainingA).getString("state")),
                    "training A fails: its job's attempts are used up");
            assertEquals(List.of("0 FAILED 1 free"), jobs(trainingA));
            String reason = column("SELECT error FROM aggregation_job WHERE training_id = ?",
                    UUID.fromString(trainingA)).get(0);
            assertTrue(reason.contains("started 1 times"), reason);

            // every job of this schema is finished, and B's never completed: B is still in E
            TrainingDriver.awaitCondition(() -> pendingJobs() == 0, "no job is left pending");
            assertEquals("E", driver.trainingJson(actor, trainingB).getString("state"));
            assertEquals(List.of("0 FAILED 0 free"), jobs(trainingB));
            assertEquals(List.of(), b.get(0).endpoint().labels().stream().filter(l -> l.startsWith("MODEL")).toList());
        } finally {
            first.close();
            if (second != null) {
                second.close();
            }
        }
    }

    private static List<Participant> clients(TrainingDriver driver, String prefix, int n) throws Exception {
        List<Participant> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            clients.add(driver.participant(prefix + i));
        }
        return clients;
    }

    private static String startedTraining(TrainingDriver driver, Participant actor, UUID model,
                                          List<Participant> clients) {
        return startedTraining(driver, actor, model, clients, clients);
    }

    /** Creates and starts a training of {@code clients} and waits until {@code listening} were told round 0 starts. */
    private static String startedTraining(TrainingDriver driver, Participant actor, UUID model,
                                          List<Participant> listening, List<Participant> clients) {
        String training = driver.createTraining(actor.account(), model, 2, "FedAvg", null, "{}", clients);
        driver.start(actor.account(), training);
        TrainingDriver.awaitAll(listening, "UPDATE_ROUND_START", 0);
        return training;
    }

    private static void uploadAll(TrainingDriver driver, List<Participant> clients, UUID model) {
        for (int i = 0; i < clients.size(); i++) {
            Reply r = driver.uploadUpdate(clients.get(i), model, 0, SET.resolve("client" + i + ".torchscript.pt"),
                    SIZES[i]);
            assertEquals(201, r.status(), r.toString());
        }
    }

    private static List<String> updateOwnersOf(List<Participant> clients) {
        return clients.stream().map(c -> c.account().id().toString()).sorted().toList();
    }

    private String localModelOf(UUID model, Participant owner) throws SQLException {
        List<String> ids = column("SELECT id FROM model WHERE base_model_id = ? AND owner_id = '"
                + owner.account().id() + "'", model);
        assertEquals(1, ids.size(), ids.toString());
        return ids.get(0);
    }

    private List<String> updateOwners(UUID model) throws SQLException {
        return column("SELECT CAST(owner_id AS varchar) FROM model WHERE base_model_id = ? AND round = 0"
                + " ORDER BY CAST(owner_id AS varchar)", model);
    }

    /** Round, status, attempts and whether a lease is held, of every job of a training. */
    private List<String> jobs(String training) {
        try {
            return column("SELECT round || ' ' || status || ' ' || attempts || ' ' || CASE WHEN lease_owner IS NULL"
                    + " THEN 'free' ELSE 'held' END FROM aggregation_job WHERE training_id = ? ORDER BY round",
                    UUID.fromString(training));
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    private long pendingJobs() {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "fl", "fl");
             PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM aggregation_job WHERE status = 'PENDING'");
             ResultSet r = s.executeQuery()) {
            r.next();
            return r.getLong(1);
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** The first column of every row of a query with one UUID parameter, as text. */
    private List<String> column(String sql, UUID id) throws SQLException {
        return TrainingDriver.column(jdbcUrl, sql, id);
    }
}
