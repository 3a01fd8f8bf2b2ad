package org.flserver.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.flserver.it.ApiClient;
import org.flserver.it.IntegrationEnvironment;
import org.flserver.it.TrainingDriver;
import org.flserver.it.TrainingDriver.Participant;

/**
 * Round benchmark (not a test): N simulated clients (default 50) upload local models of
 * S float32 parameters (default 10M = 40 MB, torch state_dict layout) concurrently into one round of
 * a running server — the same PostgreSQL + Payara Micro as the integration tests, with a larger
 * upload limit — and it prints:
 * <ul>
 *   <li>upload throughput: client bytes sent per second of wall time, from the first upload's start
 *       to the last 201;</li>
 *   <li>the server's resident memory before the round and its peak during the uploads and the
 *       aggregation (VmHWM, reset through {@code /proc/<pid>/clear_refs} first), and the growth per
 *       client;</li>
 *   <li>the time from the last upload's 201 to the moment every client has the next round's
 *       notification (MODEL_TEST_ROUND), which includes the aggregation of all N updates.</li>
 * </ul>
 * Run with {@code mvn -B -Pbench-round verify} ({@code -Dbench.clients=50 -Dbench.params=10000000
 * -Dbench.parallel=50 -Dbench.server.options=-Xmx256m}). Client and server share the machine's 2 cores; the files are written to
 * {@code target/bench-round} and deleted afterwards.
 */
public final class RoundBenchmark {

    private RoundBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int clients = Integer.getInteger("bench.clients", 50);
        long params = Long.getLong("bench.params", 10_000_000L);
        int parallel = Integer.getInteger("bench.parallel", clients);
        long modelBytes = params * 4;
        System.setProperty("it.server", "true");
        // bench.server.options: further JVM options of the server, e.g. -Xmx256m to show that the
        // uploads of many clients do not need the heap to hold their models
        System.setProperty("it.server.options", ("-Dfl.upload.max-bytes=" + (modelBytes * 2 + (64 << 20)) + " "
                + System.getProperty("bench.server.options", "")).trim());
        Path dir = Files.createDirectories(Path.of("target", "bench-round").toAbsolutePath());
        IntegrationEnvironment environment = new IntegrationEnvironment();
        environment.launcherSessionOpened(null);
        ExecutorService pool = Executors.newFixedThreadPool(parallel);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (TrainingDriver driver = new TrainingDriver(new ApiClient())) {
            List<Path> files = BenchData.clientFiles(dir, clients, params);
            Participant actor = driver.participant("actor");
            List<Participant> participants = BenchData.participants(driver, clients);
            UUID model = driver.uploadGlobal(actor.account(), files.get(clients));
            String training = driver.createTraining(actor.account(), model, 1, "FedAvg", null, "{}", participants);
            driver.start(actor.account(), training);
            TrainingDriver.awaitAll(participants, "UPDATE_ROUND_START", 0);

            long pid = IntegrationEnvironment.serverPid();
            long rssBefore = procStatus(pid, "VmRSS");
            Files.writeString(Path.of("/proc", Long.toString(pid), "clear_refs"), "5");
            long started = System.nanoTime();
            List<Future<Long>> uploads = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int c = i;
                uploads.add(pool.submit(() -> {
                    HttpResponse<String> r = uploadStreaming(http, driver.api().base(), participants.get(c), model,
                            0, files.get(c), 1 + c % 7);
                    if (r.statusCode() != 201) {
                        throw new IllegalStateException("upload " + c + " failed: " + r.statusCode() + " " + r.body());
                    }
                    return System.nanoTime();
                }));
            }
            long lastCreated = 0;
            for (Future<Long> f : uploads) {
                lastCreated = Math.max(lastCreated, f.get());
            }
            long lastNotified = 0;
            for (Participant p : participants) {
                p.endpoint().await("MODEL_TEST_ROUND", 1, Duration.ofMinutes(10));
            }
            lastNotified = System.nanoTime();
            long peak = procStatus(pid, "VmHWM");
            double uploadSeconds = (lastCreated - started) / 1e9;
            double clientMb = (double) modelBytes * clients / 1e6;
            System.out.printf(Locale.ROOT, "%nfl-server round benchmark: %d clients x %.0f MB (%d float32 parameters),"
                    + " %d uploads in parallel, %d CPUs, server options: %s%n", clients, modelBytes / 1e6, params,
                    parallel, Runtime.getRuntime().availableProcessors(), System.getProperty("it.server.options"));
            System.out.printf(Locale.ROOT, "upload throughput          %10.1f MB/s (%.0f MB in %.1f s)%n",
                    clientMb / uploadSeconds, clientMb, uploadSeconds);
            System.out.printf(Locale.ROOT, "server RSS before round    %10d MB%n", rssBefore >> 20);
            System.out.printf(Locale.ROOT, "server peak RSS in round   %10d MB (+%d MB, %.1f MB per client)%n",
                    peak >> 20, (peak - rssBefore) >> 20, (peak - rssBefore) / 1048576.0 / clients);
            System.out.printf(Locale.ROOT, "last 201 -> all notified   %10.2f s (aggregation of %d updates included)%n",
                    (lastNotified - lastCreated) / 1e9, clients);
        } finally {
            pool.shutdownNow();
            environment.launcherSessionClosed(null);
            BenchData.delete(dir);
        }
    }

    /**
     * A local update as the DLR client sends it (multipart: round, sample_size, model_file), with the
     * file streamed from disk: 50 clients in one JVM cannot each hold their model in memory.
     */
    static HttpResponse<String> uploadStreaming(HttpClient http, String base, Participant client, UUID model,
                                                int round, Path file, int sampleSize) throws Exception {
        String boundary = "bench" + UUID.randomUUID();
        String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"round\"\r\n\r\n" + round + "\r\n"
                + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"sample_size\"\r\n\r\n" + sampleSize
                + "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"model_file\"; filename=\"model.pt\""
                + "\r\nContent-Type: application/octet-stream\r\n\r\n";
        String tail = "\r\n--" + boundary + "--\r\n";
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/api/models/" + model + "/"))
                .timeout(Duration.ofMinutes(10))
                .header("Authorization", client.account().basicHeader())
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.concat(
                        HttpRequest.BodyPublishers.ofByteArray(head.getBytes(StandardCharsets.UTF_8)),
                        HttpRequest.BodyPublishers.ofFile(file),
                        HttpRequest.BodyPublishers.ofByteArray(tail.getBytes(StandardCharsets.UTF_8))))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** A size field of /proc/<pid>/status in bytes (VmRSS, VmHWM). */
    private static long procStatus(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException(field + " not found for process " + pid);
    }
}
