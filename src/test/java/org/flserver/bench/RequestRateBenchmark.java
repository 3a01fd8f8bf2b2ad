package org.flserver.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.flserver.it.ApiClient;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.IntegrationEnvironment;

/**
 * Request-rate benchmark (not a test): starts the same PostgreSQL + Payara Micro as the integration
 * tests, then drives {@code GET /api/trainings/} and {@code GET /api/users/myself/} with Token and
 * with Basic authentication from 16 connections, and prints requests/s, p50 and p99 per case.
 *
 * <p>Run with {@code mvn -Pbench-http verify}. Settings (system properties): {@code bench.connections}
 * (16), {@code bench.seconds} (15 per case, after a 5 s warm-up of every case), {@code bench.trainings} (20 trainings
 * owned by the benchmark user, so the list is not empty). The load generator runs in this JVM on the
 * same 2 cores as the server, so the figures are a floor for what the server alone can do.
 */
public final class RequestRateBenchmark {

    private RequestRateBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int connections = Integer.getInteger("bench.connections", 16);
        int seconds = Integer.getInteger("bench.seconds", 15);
        int trainings = Integer.getInteger("bench.trainings", 20);
        System.setProperty("it.server", "true");
        IntegrationEnvironment environment = new IntegrationEnvironment();
        environment.launcherSessionOpened(null);
        try {
            ApiClient api = new ApiClient();
            Account user = api.createUser("bench");
            BenchData.createTrainings(api, user, trainings);
            String[] paths = {"/api/trainings/", "/api/users/myself/"};
            String[] auths = {"Token", "Basic"};
            // Warm the whole server (JIT, pools) on every case first, so that the case measured
            // first is not the one that pays for the warm-up.
            for (String path : paths) {
                for (String auth : auths) {
                    run(api.base() + path, header(user, auth), connections, 0, 5);
                }
            }
            System.out.printf("%nfl-server request rate, %d connections, %d s per case (after a warm-up of every case)%n",
                    connections, seconds);
            System.out.printf("%-28s %-6s %10s %9s %9s %8s%n", "endpoint", "auth", "req/s", "p50 ms", "p99 ms", "errors");
            for (String path : paths) {
                for (String auth : auths) {
                    Result r = run(api.base() + path, header(user, auth), connections, 2, seconds);
                    System.out.printf("%-28s %-6s %10.0f %9.2f %9.2f %8d%n", "GET " + path, auth,
                            r.requestsPerSecond, r.p50Millis, r.p99Millis, r.errors);
                }
            }
        } finally {
            environment.launcherSessionClosed(null);
        }
    }

    private static String header(Account user, String auth) {
        return auth.equals("Token") ? user.tokenHeader() : user.basicHeader();
    }

    record Result(double requestsPerSecond, double p50Millis, double p99Millis, long errors) {
    }

    private static Result run(String url, String authorization, int connections, int warmupSeconds, int seconds)
            throws Exception {
        return run(HttpRequest.newBuilder(URI.create(url)).header("Authorization", authorization)
                .timeout(Duration.ofSeconds(30)).GET().build(), connections, warmupSeconds, seconds);
    }

    /**
     * Sends {@code request} from {@code connections} threads in a closed loop; measures after the
     * warm-up: requests per second, p50 and p99 latency, and the answers other than 200.
     */
    static Result run(HttpRequest request, int connections, int warmupSeconds, int seconds) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        AtomicBoolean measuring = new AtomicBoolean(false);
        AtomicBoolean running = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(connections);
        List<Future<long[]>> workers = new ArrayList<>();
        long[] errors = new long[connections];
        for (int c = 0; c < connections; c++) {
            int worker = c;
            workers.add(pool.submit(() -> {
                long[] latencies = new long[1 << 16];
                int n = 0;
                while (running.get()) {
                    long start = System.nanoTime();
                    HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                    long elapsed = System.nanoTime() - start;
                    if (measuring.get()) {
                        if (response.statusCode() != 200) {
                            errors[worker]++;
                        }
                        if (n == latencies.length) {
                            latencies = Arrays.copyOf(latencies, n * 2);
                        }
                        latencies[n++] = elapsed;
                    }
                }
                return Arrays.copyOf(latencies, n);
            }));
        }
        Thread.sleep(warmupSeconds * 1000L);
        measuring.set(true);
        long start = System.nanoTime();
        Thread.sleep(seconds * 1000L);
        measuring.set(false);
        double elapsedSeconds = (System.nanoTime() - start) / 1e9;
        running.set(false);
        long[] all = new long[0];
        for (Future<long[]> w : workers) {
            long[] part = w.get();
            long[] merged = Arrays.copyOf(all, all.length + part.length);
            System.arraycopy(part, 0, merged, all.length, part.length);
            all = merged;
        }
        pool.shutdown();
        Arrays.sort(all);
        long errorCount = Arrays.stream(errors).sum();
        if (all.length == 0) {
            return new Result(0, 0, 0, errorCount);
        }
        return new Result(all.length / elapsedSeconds, all[(int) (all.length * 0.50)] / 1e6,
                all[Math.min(all.length - 1, (int) (all.length * 0.99))] / 1e6, errorCount);
    }
}
