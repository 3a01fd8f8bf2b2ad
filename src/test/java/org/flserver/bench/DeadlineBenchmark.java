package org.flserver.bench;

import jakarta.json.JsonObject;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.flserver.it.ApiClient;
import org.flserver.it.ApiClient.Reply;
import org.flserver.it.IntegrationEnvironment;
import org.flserver.it.SimulatedClient.Received;
import org.flserver.it.TrainingDriver;
import org.flserver.it.TrainingDriver.Participant;

/**
 * Deadline benchmark (not a test; README, "Benchmarks"): how long after a phase's deadline the
 * participants have the next round's notifications. N simulated participants (default 50, each with
 * its own loopback notification endpoint) are in a training with {@code round_timeout_seconds} and a
 * quorum of N − 1; in every round N − 1 of them upload a local model of S float32 parameters (default
 * 1M = 4 MB, torch state_dict layout) and report metrics, one never does, so every phase closes at its
 * deadline. It prints, per round:
 * <ul>
 *   <li>update phase: from the deadline (the {@code round_deadline} the training's JSON showed) to the
 *       moment the first and the last of the N endpoints received {@code MODEL_TEST_ROUND}, and the
 *       part of it the aggregation of the N − 1 updates took (the job's queued → done, from the
 *       database), and the deadline → job queued part;</li>
 *   <li>test phase: from its deadline to the last of the N {@code UPDATE_ROUND_START} (or
 *       {@code TRAINING_FINISHED} after the last round) — no aggregation in between.</li>
 * </ul>
 * The server and this JVM read the same machine clock. Run with {@code mvn -B -Pbench-deadline verify}
 * ({@code -Dbench.clients=50 -Dbench.params=1000000 -Dbench.rounds=3 -Dbench.timeout=10}); it starts the
 * same PostgreSQL and Payara Micro as the integration tests (whose {@code fl.jobs.poll-seconds} is 1).
 */
public final class DeadlineBenchmark {

    private DeadlineBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int clients = Integer.getInteger("bench.clients", 50);
        long params = Long.getLong("bench.params", 1_000_000L);
        int rounds = Integer.getInteger("bench.rounds", 3);
        int timeout = Integer.getInteger("bench.timeout", 10);
        int delivering = clients - 1;
        System.setProperty("it.server", "true");
        System.setProperty("it.server.options", ("-Dfl.upload.max-bytes=" + (params * 8 + (64 << 20)) + " "
                + System.getProperty("bench.server.options", "")).trim());
        Path dir = Files.createDirectories(Path.of("target", "bench-deadline").toAbsolutePath());
        IntegrationEnvironment environment = new IntegrationEnvironment();
        environment.launcherSessionOpened(null);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<String> lines = new ArrayList<>();
        List<Double> updateFigures = new ArrayList<>();
        List<Double> testFigures = new ArrayList<>();
        try (TrainingDriver driver = new TrainingDriver(new ApiClient())) {
            List<Path> files = BenchData.clientFiles(dir, delivering, params);
            Participant actor = driver.participant("actor");
            List<Participant> participants = BenchData.participants(driver, clients);
            UUID model = driver.uploadGlobal(actor.account(), files.get(delivering));
            String training = driver.createTraining(actor.account(), model, rounds, "FedAvg", null,
                    "{\"round_timeout_seconds\": " + timeout + ", \"min_participants\": " + delivering + "}",
                    participants);
            driver.start(actor.account(), training);
            Duration wait = Duration.ofSeconds(timeout + 600L);
            for (int r = 0; r < rounds; r++) {
                awaitAll(participants, "UPDATE_ROUND_START", r, wait);
                List<Future<?>> uploads = new ArrayList<>();
                for (int i = 0; i < delivering; i++) {
                    int c = i;
                    int round = r;
                    uploads.add(pool.submit(() -> {
                        HttpResponse<String> response = RoundBenchmark.uploadStreaming(http, driver.api().base(),
                                participants.get(c), model, round, files.get(c), 1 + c % 7);
                        if (response.statusCode() != 201) {
                            throw new IllegalStateException("upload " + c + ": " + response.statusCode() + " "
                                    + response.body());
                        }
                        return null;
                    }));
                }
                for (Future<?> f : uploads) {
                    f.get();
                }
                Instant updatesDue = openDeadline(driver, actor, training, r);
                Instant[] notified = awaitAll(participants, "MODEL_TEST_ROUND", r + 1, wait);
                Instant[] job = jobTimes(training, r);
                double total = seconds(updatesDue, notified[1]);
                updateFigures.add(total);
                lines.add(String.format(Locale.ROOT, "round %d updates  deadline -> first %6.3f s, last %6.3f s"
                        + " (deadline -> job queued %6.3f s, aggregation of %d updates %6.3f s)", r,
                        seconds(updatesDue, notified[0]), total, seconds(updatesDue, job[0]), delivering,
                        seconds(job[0], job[1])));

                for (int i = 0; i < delivering; i++) {
                    Reply m = driver.api().send("POST", "/api/models/" + model + "/metrics/",
                            participants.get(i).account().basicHeader(), "application/x-www-form-urlencoded",
                            "metric_names=accuracy&metric_values=0.5");
                    if (m.status() != 201) {
                        throw new IllegalStateException("metrics of c" + i + ": " + m);
                    }
                }
                Instant testsDue = openDeadline(driver, actor, training, r + 1);
                boolean last = r + 1 == rounds;
                Instant[] next = last ? awaitAll(participants, "TRAINING_FINISHED", -1, wait)
                        : awaitAll(participants, "UPDATE_ROUND_START", r + 1, wait);
                testFigures.add(seconds(testsDue, next[1]));
                lines.add(String.format(Locale.ROOT, "round %d metrics  deadline -> first %6.3f s, last %6.3f s (%s)",
                        r + 1, seconds(testsDue, next[0]), seconds(testsDue, next[1]),
                        last ? "TRAINING_FINISHED" : "UPDATE_ROUND_START, no aggregation"));
            }
            System.out.printf(Locale.ROOT, "%nfl-server deadline benchmark: %d participants (%d deliver, 1 never does),"
                    + " round_timeout_seconds %d, min_participants %d, updates of %.0f MB (%d float32 parameters),"
                    + " %d CPUs, server options: %s%n", clients, delivering, timeout, delivering, params * 4 / 1e6,
                    params, Runtime.getRuntime().availableProcessors(), System.getProperty("it.server.options"));
            lines.forEach(System.out::println);
            System.out.printf(Locale.ROOT, "median deadline -> all %d notified: %.3f s after an update phase"
                    + " (aggregation included), %.3f s after a test round%n", clients, median(updateFigures),
                    median(testFigures));
        } finally {
            pool.shutdownNow();
            environment.launcherSessionClosed(null);
            BenchData.delete(dir);
        }
    }

    /** The deadline of the open phase, checked to be the phase of {@code round} that is still open. */
    private static Instant openDeadline(TrainingDriver driver, Participant actor, String training, int round) {
        Reply r = driver.api().get("/api/trainings/" + training + "/", actor.account());
        JsonObject t = r.json();
        if (r.status() != 200 || t.isNull("round_deadline")) {
            throw new IllegalStateException("no open phase with a deadline: " + r);
        }
        Instant due = DateTimeFormatter.ISO_DATE_TIME.parse(t.getString("round_deadline"), Instant::from);
        if (!Instant.now().isBefore(due)) {
            throw new IllegalStateException("the phase of round " + round + " reached its deadline (" + due + ")"
                    + " before every delivery was in: raise -Dbench.timeout");
        }
        return due;
    }

    /** When the first and the last participant received a notification of {@code type} and {@code round}. */
    private static Instant[] awaitAll(List<Participant> participants, String type, int round, Duration wait) {
        Instant first = Instant.MAX;
        Instant last = Instant.MIN;
        for (Participant p : participants) {
            Received r = p.endpoint().await(type, round, wait);
            first = r.at().isBefore(first) ? r.at() : first;
            last = r.at().isAfter(last) ? r.at() : last;
        }
        return new Instant[] {first, last};
    }

    /** When the round's aggregation job was queued and completed (the server's clock, from the database). */
    private static Instant[] jobTimes(String training, int round) throws Exception {
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement("SELECT created_at, finished_at FROM aggregation_job"
                     + " WHERE training_id = ? AND round = ? AND kind = 'MODEL'")) {
            s.setObject(1, UUID.fromString(training));
            s.setInt(2, round);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    throw new IllegalStateException("no aggregation job for round " + round);
                }
                return new Instant[] {r.getObject(1, OffsetDateTime.class).toInstant(),
                        r.getObject(2, OffsetDateTime.class).toInstant()};
            }
        }
    }

    private static double seconds(Instant from, Instant to) {
        return Duration.between(from, to).toNanos() / 1e9;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
