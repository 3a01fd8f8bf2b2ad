package org.flserver.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A Payara Micro JVM serving the built WAR, started as an operator would, and stopped again. */
public final class PayaraMicroProcess implements AutoCloseable {

    private final Process process;
    private final String baseUrl;
    private final Path log;

    private PayaraMicroProcess(Process process, String baseUrl, Path log) {
        this.process = process;
        this.baseUrl = baseUrl;
        this.log = log;
    }

    /**
     * Starts {@code java [jvmOptions] -jar payara-micro.jar --deploy fl-server.war --port N --nocluster
     * [extra]} in {@code workDir} and waits until {@code /health/ready} answers UP.
     */
    public static PayaraMicroProcess start(Path workDir, List<String> jvmOptions, List<String> extra, Path log)
            throws Exception {
        PayaraMicroProcess payara = launch(workDir, jvmOptions, extra, log);
        payara.awaitOrClose(() -> waitForHealth(payara.process, payara.baseUrl, payara.log));
        return payara;
    }

    /**
     * Starts the same command without asking the server anything, as someone watching the console
     * does, and waits until a line of its console output (the log) satisfies {@code ready}. For
     * tests of the console itself: requests during start-up can leave traces there.
     */
    public static PayaraMicroProcess startWatchingConsole(Path workDir, List<String> jvmOptions, List<String> extra,
            Path log, Predicate<String> ready) throws Exception {
        PayaraMicroProcess payara = launch(workDir, jvmOptions, extra, log);
        payara.awaitOrClose(() -> payara.waitForLine(ready));
        return payara;
    }

    private static PayaraMicroProcess launch(Path workDir, List<String> jvmOptions, List<String> extra, Path log)
            throws IOException {
        Path war = Path.of(System.getProperty("it.war", "target/fl-server.war")).toAbsolutePath();
        Path jar = Path.of(System.getProperty("payara.microJar", "target/payara-micro.jar")).toAbsolutePath();
        int port = freePort();
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString(), "--deploy", war.toString(),
                "--port", Integer.toString(port), "--nocluster"));
        command.addAll(extra);
        Process process = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new PayaraMicroProcess(process, "http://localhost:" + port, log);
    }

    private interface Wait {
        void run() throws Exception;
    }

    private void awaitOrClose(Wait wait) throws Exception {
        try {
            wait.run();
        } catch (Exception e) {
            close();
            printTail(log);
            throw e;
        }
    }

    public String baseUrl() {
        return baseUrl;
    }

    /** The server's process id (for reading its memory figures from /proc). */
    public long pid() {
        return process.pid();
    }

    /**
     * Waits until the server that {@code process} runs (Payara Micro, or Maven running it) answers
     * {@code /health/ready} with fl-server's checks.
     */
    static void waitForHealth(Process process, String baseUrl, Path log) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the server process exited; see " + log.toAbsolutePath());
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(baseUrl + "/health/ready"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                // Payara answers /health before the application is deployed (no checks = UP); ours
                // is there only once the WAR is up and its database migrated.
                if (r.statusCode() == 200 && r.body().contains("\"database\"")) {
                    return;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException notYet) {
                // still booting
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("Payara Micro did not become healthy in 5 minutes (last /health/ready: "
                + last + "); see " + log.toAbsolutePath());
    }

    private void waitForLine(Predicate<String> ready) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Payara Micro exited; see " + log.toAbsolutePath());
            }
            if (java.nio.file.Files.readAllLines(log, StandardCharsets.ISO_8859_1).stream().anyMatch(ready)) {
                return;
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("Payara Micro printed no ready line in 5 minutes; see " + log.toAbsolutePath());
    }

    /** Whether the server's process still runs. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Kills the server the way a crash does: SIGKILL, no shutdown hooks, no undeploy, nothing flushed. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    /** The end of the server log on the console, so that a failed start can be understood from CI output. */
    private static void printTail(Path log) {
        try {
            List<String> lines = java.nio.file.Files.readAllLines(log);
            System.err.println("---- last lines of " + log + " ----");
            lines.subList(Math.max(0, lines.size() - 60), lines.size()).forEach(System.err::println);
        } catch (IOException | RuntimeException e) {
            System.err.println("(could not read " + log + ": " + e + ")");
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
