package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.TrainingDriver.Participant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Round deadlines survive the server (design.md §5.4): they are rows in the database, so a
 * server killed with SIGKILL while a phase is open loses nothing, and a server started after the
 * deadline passed closes that phase — once, with exactly the updates that arrived. A server started
 * before a deadline closes the phase at the deadline, not earlier. Two instances on one database,
 * both running when a deadline passes, close the phase once between them (design.md §5, §7).
 *
 * <p>Like {@link CrashRecoveryIT}, it starts Payara Micro processes of its own on a schema of its own
 * in the test database, so that the shared test server cannot take these deadlines. What it checks
 * comes from three independent places: the participants' notification endpoints (each closing sends
 * one MODEL_TEST_ROUND per participant), the global model (compared with a weighted mean computed
 * here in double precision from the fixture files that were uploaded), and the database rows that
 * record a closing (aggregation jobs, model versions, notifications).
 */
@OwnServers
class DeadlineRestartIT {

    private static final Path SET = Path.of(System.getProperty("fl.fixtures", "src/test/resources/pytorch"))
            .resolve("fedavg").resolve("mlp");
    private static final int[] SIZES = {10, 30, 60};
    /** The fixture files of the two participants that deliver; the third never does. */
    private static final List<Path> DELIVERED = List.of(SET.resolve("client0.torchscript.pt"),
            SET.resolve("client1.torchscript.pt"));

    private Path work;
    private String jdbcUrl;
    private List<String> properties;
    private final List<PayaraMicroProcess> servers = new ArrayList<>();

    @BeforeEach
    void ownSchemaAndDataDirectory(org.junit.jupiter.api.TestInfo test) throws Exception {
        String name = test.getTestMethod().orElseThrow().getName();
        work = Files.createDirectories(Path.of("target", "it", "deadline-" + name).toAbsolutePath());
        jdbcUrl = IntegrationEnvironment.newSchema("deadline");
        properties = new ArrayList<>(IntegrationEnvironment.serverProperties(
                IntegrationEnvironment.freshDirectory(work.resolve("data"))));
        properties.add("-Dfl.db.url=" + jdbcUrl); // a later -D wins
        properties.add("-Dfl.jobs.lease-seconds=5");
    }

    @AfterEach
    void stopServers() {
        servers.forEach(PayaraMicroProcess::close);
        servers.clear();
    }

    /**
     * Two trainings with a phase open when the server is killed: A's deadline passes while no server
     * runs, B's lies beyond the restart. The new server closes A at once and B at its deadline.
     */
    @Test
    void phasesOpenAtAKillCloseOnceAfterTheRestart() throws Exception {
        long bootStarted = System.nanoTime();
        PayaraMicroProcess first = start("first");
        long bootSeconds = (System.nanoTime() - bootStarted) / 1_000_000_000L;
        // B's deadline must lie beyond the restart (A's deadline, then a boot): from this machine's own
        // boot time, twice over, so that a slow or busy machine does not turn "before" into "after".
        long timeoutB = Math.max(60, 2 * bootSeconds + 30);
        try (TrainingDriver driver = new TrainingDriver(new ApiClient(first.baseUrl()))) {
            Participant actor = driver.participant("actor");
            Run a = open(driver, actor, "a", 15);
            Run b = open(driver, actor, "b", timeoutB);
            a.deliverTwo(driver);
            b.deliverTwo(driver);
            Instant deadlineA = a.deadline(driver);
            Instant deadlineB = b.deadline(driver);

            first.kill();
            Instant killed = Instant.now();
            assertTrue(killed.isBefore(deadlineA), "the server was killed while A's phase was open (deadline "
                    + deadlineA + ", killed " + killed + ")");
            assertEquals(List.of(), jobs(a.training), "nothing closed A before the kill");
            assertEquals(0, count("SELECT COUNT(*) FROM notification WHERE training_id = ? AND type = 'MODEL_TEST_ROUND'",
                    a.training));

            sleepUntil(deadlineA.plusSeconds(1));
            PayaraMicroProcess second = start("second");
            Instant up = Instant.now();
            driver.useServer(second.baseUrl());
            assertTrue(up.isBefore(deadlineB), "the second server was up before B's deadline (" + deadlineB
                    + ", up " + up + "; boot of the first took " + bootSeconds + " s)");

            // B: still open, with the deadline it had before the kill (a stored one, not recomputed)
            JsonObject openB = driver.trainingJson(actor, b.training);
            assertEquals(deadlineB, instant(openB.getString("round_deadline")), "B's deadline survived the restart");
            assertEquals(b.ids(), ids(openB.getJsonArray("expected_participants")));

            // A: its deadline passed while no server ran; the restarted one closes it once
            TrainingDriver.awaitAll(a.clients, "MODEL_TEST_ROUND", 1);
            a.checkClosedWithTheTwoUpdates(driver, actor);
            // A goes on (its test round has a deadline too): every participant, the one that missed the
            // round too, reports, and the training finishes
            driver.reportMetrics(a.clients, a.model, "0.5");
            a.checkFinished(driver, actor);
            assertEquals(List.of(), jobs(b.training), "B's phase is still open");

            // B: closes at its deadline, not before
            for (Participant c : b.clients) {
                c.endpoint().await("MODEL_TEST_ROUND", 1, Duration.ofSeconds(timeoutB + 60));
            }
            Instant closedB = instant(column("SELECT to_char(MIN(created_at) AT TIME ZONE 'UTC',"
                    + " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM notification WHERE training_id = ?"
                    + " AND type = 'MODEL_TEST_ROUND'", b.training).get(0));
            assertFalse(closedB.isBefore(deadlineB), "B closed at " + closedB + ", before its deadline " + deadlineB);
            b.checkClosedWithTheTwoUpdates(driver, actor);

            driver.reportMetrics(b.clients, b.model, "0.5");
            b.checkFinished(driver, actor);
            for (Run r : List.of(a, b)) {
                assertEquals(List.of("second"), r.closedBy(List.of("first", "second")), "who closed " + r.training);
            }
            System.out.println("deadline restart test: A (deadline " + deadlineA + ") closed after the restart at "
                    + up + ", B closed at " + closedB + " (deadline " + deadlineB + ")");
        }
    }

    /**
     * Two instances on one database, both running when the deadlines of three trainings pass: each
     * phase closes once (one job, one model version, one MODEL_TEST_ROUND per participant).
     */
    @Test
    void twoInstancesCloseAPhaseOnce() throws Exception {
        PayaraMicroProcess first = start("first");
        PayaraMicroProcess second = start("second");
        try (TrainingDriver driver = new TrainingDriver(new ApiClient(first.baseUrl()))) {
            Participant actor = driver.participant("actor");
            List<Run> runs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                // started through either instance: the one that opens a phase also wakes at its
                // deadline, the other finds it by polling, so both race for some of the phases
                driver.useServer((i % 2 == 0 ? first : second).baseUrl());
                runs.add(open(driver, actor, "t" + i, 20));
            }
            Instant latest = Instant.MIN;
            for (int i = 0; i < runs.size(); i++) {
                // half of the updates through either instance
                driver.useServer((i % 2 == 0 ? first : second).baseUrl());
                runs.get(i).deliverTwo(driver);
                Instant d = runs.get(i).deadline(driver);
                latest = d.isAfter(latest) ? d : latest;
            }
            for (Run r : runs) {
                TrainingDriver.awaitAll(r.clients, "MODEL_TEST_ROUND", 1);
            }
            assertTrue(first.isAlive() && second.isAlive(), "both instances ran when the deadlines passed");
            // time for a second closing to show, had one happened: several polls of both instances
            Thread.sleep(5_000);
            for (Run r : runs) {
                r.checkClosedWithTheTwoUpdates(driver, actor);
            }
            driver.useServer(second.baseUrl());
            for (Run r : runs) {
                driver.reportMetrics(r.clients, r.model, "0.5");
            }
            for (Run r : runs) {
                r.checkFinished(driver, actor);
            }
            List<String> closers = new ArrayList<>();
            for (Run r : runs) {
                List<String> closed = r.closedBy(List.of("first", "second"));
                assertEquals(1, closed.size(), "one instance logs the closing of " + r.training + ": " + closed);
                closers.addAll(closed);
            }
            System.out.println("deadline test with two instances: 3 phases closed once each, last deadline " + latest
                    + ", closed by " + closers);
        }
    }

    /** Creates and starts a training of three new participants with this deadline and a quorum of 2. */
    private Run open(TrainingDriver driver, Participant actor, String name, long timeoutSeconds) throws Exception {
        List<Participant> clients = List.of(driver.participant(name + "0"), driver.participant(name + "1"),
                driver.participant(name + "2"));
        UUID model = driver.uploadGlobal(actor.account(), SET.resolve("client0.torchscript.pt"));
        String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null,
                "{\"round_timeout_seconds\": " + timeoutSeconds + ", \"min_participants\": 2}", clients);
        driver.start(actor.account(), training);
        TrainingDriver.awaitAll(clients, "UPDATE_ROUND_START", 0);
        return new Run(training, model, clients);
    }

    /** One training of three participants of which the third never delivers an update. */
    private final class Run {
        final String training;
        final UUID model;
        final List<Participant> clients;

        private Run(String training, UUID model, List<Participant> clients) {
            this.training = training;
            this.model = model;
            this.clients = clients;
        }

        Set<String> ids() {
            Set<String> ids = new HashSet<>();
            clients.forEach(c -> ids.add(c.account().id().toString()));
            return ids;
        }

        void deliverTwo(TrainingDriver driver) {
            for (int i = 0; i < 2; i++) {
                Reply r = driver.uploadUpdate(clients.get(i), model, 0, DELIVERED.get(i), SIZES[i]);
                assertEquals(201, r.status(), r.toString());
            }
        }

        Instant deadline(TrainingDriver driver) {
            JsonObject t = driver.api().get("/api/trainings/" + training + "/", clients.get(0).account()).json();
            assertTrue(t.containsKey("round_deadline") && !t.isNull("round_deadline"), "an open phase has a deadline: " + t);
            return instant(t.getString("round_deadline"));
        }

        /** One closing with the two updates that arrived, whatever instance closed it. */
        void checkClosedWithTheTwoUpdates(TrainingDriver driver, Participant actor) throws Exception {
            Path result = Files.createTempFile(work, "global", ".pt");
            Files.write(result, driver.download(actor, model));
            TrainingDriver.assertWeightedMean(result, DELIVERED, new int[] {SIZES[0], SIZES[1]});
            JsonArray history = driver.provenance(actor, training);
            assertEquals(2, history.size(), "one version per round: " + history);
            List<String> owners = new ArrayList<>();
            for (JsonValue u : history.getJsonObject(1).getJsonArray("updates")) {
                owners.add(u.asJsonObject().getString("owner_username"));
            }
            assertEquals(List.of(clients.get(0).account().username(), clients.get(1).account().username()), owners,
                    "provenance lists the updates used, and only them");
            assertEquals(List.of("0 DONE 1"), jobs(training), "one aggregation job, run once");
            // the deadline row: one, closed by its deadline, with who delivered and who did not
            assertEquals(List.of("UPDATES 0 DEADLINE"), column("SELECT phase || ' ' || round || ' ' || status"
                    + " FROM collection_phase WHERE training_id = ? AND phase = 'UPDATES' ORDER BY round", training));
            assertEquals(List.of(clients.get(0).account().id() + "," + clients.get(1).account().id() + " "
                    + clients.get(2).account().id()), column("SELECT delivered || ' ' || missing FROM collection_phase"
                    + " WHERE training_id = ? AND phase = 'UPDATES'", training));
            assertEquals(List.of("TESTING 1 OPEN"), column("SELECT phase || ' ' || round || ' ' || status"
                    + " FROM collection_phase WHERE training_id = ? AND phase <> 'UPDATES'", training),
                    "the test round opened once");
            assertEquals(List.of(0, 1), versionRounds(model));
            assertEquals(3, count("SELECT COUNT(*) FROM notification WHERE training_id = ? AND type = 'MODEL_TEST_ROUND'",
                    training), "one MODEL_TEST_ROUND per participant");
            for (Participant c : clients) {
                assertEquals(1, c.endpoint().labels().stream().filter("MODEL_TEST_ROUND:1"::equals).count(),
                        () -> c.account().username() + " got " + c.endpoint().received() + "; "
                                + TrainingDriver.notificationRows(jdbcUrl, training));
            }
            // the straggler's update for the closed round is refused, and changes nothing
            Reply late = driver.uploadUpdate(clients.get(2), model, 0, SET.resolve("client2.torchscript.pt"), SIZES[2]);
            assertEquals(409, late.status(), late.toString());
            assertEquals("Round 0 is closed.", late.detail());
            Files.write(result, driver.download(actor, model));
            TrainingDriver.assertWeightedMean(result, DELIVERED, new int[] {SIZES[0], SIZES[1]});
            Files.delete(result);
        }

        void checkFinished(TrainingDriver driver, Participant actor) throws Exception {
            TrainingDriver.awaitAll(clients, "TRAINING_FINISHED", -1);
            assertEquals("C", driver.trainingJson(actor, training).getString("state"));
            for (Participant c : clients) {
                assertEquals(List.of("TRAINING_START", "UPDATE_ROUND_START:0", "MODEL_TEST_ROUND:1", "TRAINING_FINISHED"),
                        c.endpoint().labels(), () -> "the straggler too stays in the training, every notification once"
                                + " (" + c.account().username() + " got " + c.endpoint().received() + "); "
                                + TrainingDriver.notificationRows(jdbcUrl, training));
            }
            assertEquals(List.of("0 DONE 1"), jobs(training));
            assertEquals(List.of(0, 1), versionRounds(model));
            assertEquals(List.of("UPDATES 0 DEADLINE", "TESTING 1 COMPLETE"), column("SELECT phase || ' ' || round"
                    + " || ' ' || status FROM collection_phase WHERE training_id = ? ORDER BY opened_at", training));
        }

        /**
         * The servers whose log says that they closed the update phase at its deadline (the round
         * engine logs each closing once, at INFO; the database keeps no trace of who closed it).
         */
        List<String> closedBy(List<String> servers) throws Exception {
            String line = "the updates of round 0 of training " + training + " closed at its deadline";
            List<String> closers = new ArrayList<>();
            for (String server : servers) {
                try (Stream<String> log = Files.lines(work.resolve(server + "-server.log"), StandardCharsets.ISO_8859_1)) {
                    log.filter(l -> l.contains(line)).forEach(l -> closers.add(server));
                }
            }
            return closers;
        }
    }

    private PayaraMicroProcess start(String name) throws Exception {
        PayaraMicroProcess server = IntegrationEnvironment.startOwnServer(work, properties, name);
        servers.add(server);
        return server;
    }

    private static Instant instant(String iso) {
        return DateTimeFormatter.ISO_DATE_TIME.parse(iso, Instant::from);
    }

    private static Set<String> ids(JsonArray a) {
        Set<String> ids = new HashSet<>();
        for (JsonValue v : a) {
            ids.add(((JsonString) v).getString());
        }
        return ids;
    }

    private static void sleepUntil(Instant t) throws InterruptedException {
        long ms = Duration.between(Instant.now(), t).toMillis();
        if (ms > 0) {
            Thread.sleep(ms);
        }
    }

    private List<Integer> versionRounds(UUID model) throws SQLException {
        return column("SELECT round FROM model_version WHERE model_id = ? ORDER BY round", model.toString()).stream()
                .map(Integer::valueOf).toList();
    }

    private List<String> jobs(String training) throws SQLException {
        return column("SELECT round || ' ' || status || ' ' || attempts FROM aggregation_job WHERE training_id = ?"
                + " ORDER BY round", training);
    }

    private long count(String sql, String id) throws SQLException {
        return Long.parseLong(column(sql, id).get(0));
    }

    /** The first column of every row of a query with one UUID parameter, as text. */
    private List<String> column(String sql, String id) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(jdbcUrl, "fl", "fl");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setObject(1, UUID.fromString(id));
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    assertNotNull(r.getString(1), sql);
                    values.add(r.getString(1));
                }
            }
        }
        return values;
    }
}
