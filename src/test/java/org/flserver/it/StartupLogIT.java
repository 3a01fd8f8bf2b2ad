package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The run command's start-up console: a Payara Micro started with the run command's options (the
 * Vector API module, the inference runtime, {@code --nocluster}, {@code --contextroot /} and the
 * logging properties the pom passes with {@code --logproperties}) on the embedded H2 database prints
 * fewer than 100 lines before Payara's "ready" line, among them the application's start-up summary,
 * and still the warnings that matter: the server is started with {@code fl.inference.sandbox=none},
 * whose warning must show, and once on a database that cannot be reached, whose error must show.
 * Nothing asks the server anything before "ready" (a health probe that
 * gives up during the start leaves a stack trace on the console), just as nobody does who watches
 * the run command start.
 */
@OwnServers
class StartupLogIT {

    private static final int LINE_BUDGET = 100;

    @Test
    void startUpIsShortAndSaysWhereEverythingIs() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "startup-log");
        Path libs = Path.of(System.getProperty("it.inference.libs", "target/inference-libs")).toAbsolutePath();
        List<String> lines = consoleUpToReady(dir, List.of("-Dfl.inference.sandbox=none"), (server, console) -> {
            // the server works as configured: on the embedded database, answering the API
            Reply health = new ApiClient(server.baseUrl()).send("GET", "/health/ready", null, null, (String) null);
            assertEquals(200, health.status(), health.toString());
            assertTrue(health.body().contains("H2"), health.body());
            aClientThatHangsUpLeavesNothingOnTheConsole(server, console);
        });
        String shown = String.join("\n", lines);

        assertTrue(lines.size() < LINE_BUDGET, lines.size() + " lines before \"ready\":\n" + shown);
        assertTrue(shown.contains("fl-server started"), shown);
        assertTrue(shown.contains("API /api/ | admin page /admin/ | OpenAPI /api/schema/"), shown);
        assertTrue(shown.contains("database: H2 "), shown);
        assertTrue(shown.contains("embedded, for trying fl-server out; production runs on PostgreSQL"), shown);
        assertTrue(shown.contains("jdbc:h2:./fl-data/db/fl"), shown);
        assertTrue(shown.contains("data directory: " + dir.resolve("fl-data")), shown);
        assertTrue(shown.contains("inference: fl.inference.sandbox=none, TorchScript runtime from " + libs), shown);
        assertTrue(shown.contains("WARNING [org.flserver.inference.sandbox.InferenceSandbox]"
                + " fl.inference.sandbox=none: uploaded TorchScript models run in worker processes WITHOUT a sandbox"),
                shown);
        // Payara's own summary stays: the URL to reach the server at
        assertTrue(shown.contains("Payara Micro URLs:"), shown);
        assertFalse(shown.contains("has expired"), "no certificate dumps:\n" + shown);
        assertFalse(shown.contains("Portable JNDI names"), "no EJB name listing:\n" + shown);
    }

    /** A database that cannot be reached shows on the quiet console too, and no summary claims a start. */
    @Test
    void aDatabaseThatCannotBeReachedShows() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "startup-log-nodb");
        List<String> lines = consoleUpToReady(dir, List.of("-Dfl.db.class=org.flserver.platform.PostgresDataSource",
                "-Dfl.db.url=jdbc:postgresql://127.0.0.1:1/fl", "-Dfl.db.user=fl", "-Dfl.db.password=fl"), (server, console) -> { });
        String shown = String.join("\n", lines);
        // EclipseLink meets the database first, while the application deploys, and fails it
        assertTrue(shown.contains("SEVERE [javax.enterprise.system.core]"), shown);
        assertTrue(shown.contains("Connection to 127.0.0.1:1 refused"), shown);
        assertFalse(shown.contains("fl-server started"), shown);
    }

    /**
     * A client that ends its connection before the answer (half a JSON body, then the end of its
     * stream; the server reads the end and has nobody to answer): no line on the console. Jersey
     * logged an error with a stack trace of over a hundred lines for it, and the container two
     * warnings with theirs, as it wrote its error page to the closed connection too. The wait after
     * is only for a line that would come: one came within milliseconds.
     */
    private static void aClientThatHangsUpLeavesNothingOnTheConsole(PayaraMicroProcess server, Path console)
            throws Exception {
        int before = Files.readAllLines(console, StandardCharsets.ISO_8859_1).size();
        java.net.URI base = java.net.URI.create(server.baseUrl());
        try (java.net.Socket socket = new java.net.Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(60_000);
            socket.getOutputStream().write(("POST /api/users/ HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\"")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            socket.getInputStream().readAllBytes(); // until the server has closed the connection
        }
        long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(3);
        do {
            Thread.sleep(200);
            List<String> all = Files.readAllLines(console, StandardCharsets.ISO_8859_1);
            assertEquals(List.of(), all.subList(before, all.size()), "console lines after a client hung up");
        } while (System.nanoTime() < end);
    }

    private interface WhileRunning {
        void check(PayaraMicroProcess server, Path console) throws Exception;
    }

    /**
     * Starts Payara Micro in dir as the run command does (its JVM options plus {@code extraJvm}, its
     * Payara Micro options), waits for the "ready" line without asking the server anything, runs
     * {@code whileRunning} and returns the console lines before "ready".
     */
    private static List<String> consoleUpToReady(Path dir, List<String> extraJvm, WhileRunning whileRunning)
            throws Exception {
        Path logging = Path.of(System.getProperty("it.run.logging", "src/main/payara/logging.properties"))
                .toAbsolutePath();
        Path console = dir.resolve("console.log");
        List<String> jvm = new ArrayList<>(List.of(IntegrationEnvironment.VECTOR_API_OPTION));
        Path libs = Path.of(System.getProperty("it.inference.libs", "target/inference-libs")).toAbsolutePath();
        jvm.add("-Dfl.inference.runtime-dir=" + libs);
        jvm.add("-Dfl.inference.djl-cache-dir="
                + Path.of(System.getProperty("it.djl.cache.dir", "target/djl-cache")).toAbsolutePath());
        jvm.addAll(extraJvm);
        List<String> micro = List.of("--logproperties", logging.toString(), "--contextroot", "/");
        try (PayaraMicroProcess server = PayaraMicroProcess.startWatchingConsole(dir, jvm, micro, console,
                StartupLogIT::isReadyLine)) {
            List<String> lines = Files.readAllLines(console, StandardCharsets.ISO_8859_1);
            whileRunning.check(server, console);
            return lines.subList(0, lines.stream().filter(StartupLogIT::isReadyLine).findFirst()
                    .map(lines::indexOf).orElseThrow());
        }
    }

    /** Payara Micro's last line at start-up: "Payara Micro 6.2025.10 (build 42) ready in 46,181 (ms)". */
    private static boolean isReadyLine(String line) {
        return line.contains("[PayaraMicro]") && line.contains(" ready in ");
    }
}
