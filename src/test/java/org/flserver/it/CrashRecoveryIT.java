package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.json.JsonArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.flserver.it.TrainingDriver.Participant;
import org.junit.jupiter.api.Test;

/**
 * Crash consistency of aggregation jobs (a killed server loses no round), with servers of its own: a server
 * claims the aggregation job of a round and is killed with SIGKILL while it holds the claim (the
 * fault-injection setting {@code fl.jobs.hold-after-claim-seconds} keeps the claim open long enough
 * to kill it deterministically). A new server on the same database and data directory must claim
 * the job again once the dead server's lease has expired, and the training must finish with
 * exactly one global model version per round, every update aggregated, and the expected weights.
 * The servers run on a schema of their own, so no other test server can take the job.
 */
@OwnServers
class CrashRecoveryIT {

    private static final Path SET = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"))
            .resolve("fedavg").resolve("mlp");
    private static final int[] SIZES = {10, 30, 60};

    /** The test database with this test's own schema as the current one. */
    private String jdbcUrl;

    @Test
    void aJobClaimedByAKilledServerIsClaimedAgainAfterARestartAndTheTrainingFinishes() throws Exception {
        Path work = Files.createDirectories(Path.of("target", "it", "crash").toAbsolutePath());
        // A schema of its own in the test database, and a data directory of its own: the other test
        // servers keep running on the shared schema, and their workers must not take this job.
        jdbcUrl = IntegrationEnvironment.newSchema("crash");
        List<String> properties = new ArrayList<>(IntegrationEnvironment.serverProperties(work.resolve("data")));
        properties.add("-Dfl.db.url=" + jdbcUrl); // a later -D wins
        properties.add("-Dfl.jobs.lease-seconds=5");
        List<String> holding = new ArrayList<>(properties);
        holding.add("-Dfl.jobs.hold-after-claim-seconds=600");

        PayaraMicroProcess first = IntegrationEnvironment.startOwnServer(work, holding, "first");
        PayaraMicroProcess second = null;
        try (TrainingDriver driver = new TrainingDriver(new ApiClient(first.baseUrl()))) {
            Participant actor = driver.participant("actor");
            List<Participant> clients = List.of(driver.participant("c0"), driver.participant("c1"),
                    driver.participant("c2"));
            UUID model = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
            String training = driver.createTraining(actor.account(), model, 2, "FedAvg", null, "{}", clients);
            driver.start(actor.account(), training);
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
            for (int i = 0; i < 3; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), model, 0,
                        SET.resolve("client" + i + ".torchscript.pt"), SIZES[i]).status());
            }
            TrainingDriver.awaitCondition(() -> claimedJobs(training) == 1, "the round's job is claimed");
            String claimedBy = leaseOwner(training);
            // while its server lives, the claim is kept: the lease (5 s) is renewed, and the other
            // server's worker, polling the same table, does not take the job over
            Thread.sleep(12_000);
            assertEquals(claimedBy, leaseOwner(training), "the lease was renewed by its holder");
            assertEquals(List.of("0 PENDING 1"), jobs(training));
            first.kill();

            second = IntegrationEnvironment.startOwnServer(work, properties, "second");
            driver.useServer(second.baseUrl());
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 1);
            assertArrayEquals(Files.readAllBytes(SET.resolve("expected.torchscript.pt")),
                    driver.download(actor, model), "the re-run job wrote the expected weighted mean");
            driver.reportMetrics(clients, model, "0.5");
            TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 1);
            for (int i = 0; i < 3; i++) {
                assertEquals(201, driver.uploadUpdate(clients.get(i), model, 1,
                        SET.resolve("client" + i + ".torchscript.pt"), SIZES[i]).status());
            }
            TrainingDriver.awaitAll(clients, "MODEL_TEST_ROUND", 2);
            driver.reportMetrics(clients, model, "0.6");
            TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
            assertEquals("C", driver.trainingJson(actor, training).getString("state"));

            // exactly one global model per round, and the crashed job ran twice but completed once
            assertEquals(List.of(0, 1, 2), versionRounds(model));
            assertEquals(List.of("0 DONE 2", "1 DONE 1"), jobs(training));
            JsonArray history = driver.provenance(actor, training);
            assertEquals(3, history.getJsonObject(1).getJsonArray("updates").size(), "no update was lost");
            assertEquals(3, history.getJsonObject(2).getJsonArray("updates").size());
            for (Participant c : clients) {
                assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1",
                        "UPDATE_ROUND_START:1", "MODEL_TEST_ROUND:2", "TRAINING_FINISHED"), c.endpoint().labels());
            }
            System.out.println("crash test: job of round 0 claimed by " + claimedBy + " (killed), completed after"
                    + " the restart");
        } finally {
            first.close();
            if (second != null) {
                second.close();
            }
        }
    }

    private long claimedJobs(String training) {
        try {
            return Long.parseLong(column("SELECT COUNT(*) FROM aggregation_job WHERE training_id = ?"
                    + " AND status = 'PENDING' AND lease_owner IS NOT NULL", UUID.fromString(training)).get(0));
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    private String leaseOwner(String training) throws SQLException {
        return column("SELECT lease_owner FROM aggregation_job WHERE training_id = ?", UUID.fromString(training))
                .get(0);
    }

    private List<Integer> versionRounds(UUID model) throws SQLException {
        return column("SELECT round FROM model_version WHERE model_id = ? ORDER BY round", model).stream()
                .map(Integer::valueOf).toList();
    }

    private List<String> jobs(String training) throws SQLException {
        return column("SELECT round || ' ' || status || ' ' || attempts FROM aggregation_job WHERE training_id = ?"
                + " ORDER BY round", UUID.fromString(training));
    }

    /** The first column of every row of a query with one UUID parameter, as text. */
    private List<String> column(String sql, UUID id) throws SQLException {
        return TrainingDriver.column(jdbcUrl, sql, id);
    }
}
