package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The server as the README's run command starts it: {@code mvn payara-micro:start} with the pom's
 * plugin configuration (the {@code package} half of the command has already run in this build). It
 * must accept what Python {@code requests} and curl send over HTTP/1.1, a DELETE of participants with
 * a JSON body and a GET with a body — the pre-boot command file the plugin passes is what makes
 * Payara let them through, and this test is what notices if the run command loses it.
 *
 * <p>The nested Maven runs only the plugin's goal (it builds nothing) with this build's Maven and
 * local repository ({@code it.maven.*}, set by failsafe), offline when this build is. The database
 * and the model files go to a folder under {@code target}, named by the {@code FL_*} environment
 * variables, so the checkout's {@code ./fl-data} stays untouched.
 */
@OwnServers
class RunCommandIT {

    @Test
    void theRunCommandsServerTakesBodiesOnDeleteAndGetOverHttp11() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "run-command");
        int port = PayaraMicroProcess.freePort();
        List<String> command = new ArrayList<>(List.of(maven(), "-B", "payara-micro:start", "-Dhttp.port=" + port,
                "-Dmaven.repo.local=" + System.getProperty("it.maven.repo")));
        if (offline()) {
            command.add("-o");
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("run-command.log").toFile());
        Map<String, String> env = pb.environment();
        env.put("FL_DATA_DIR", dir.resolve("fl-data").toString());
        env.put("FL_DB_URL", "jdbc:h2:" + dir.resolve("db").resolve("fl") + ";MODE=LEGACY");
        Process maven = pb.start();
        try {
            String base = "http://localhost:" + port;
            PayaraMicroProcess.waitForHealth(maven, base, dir.resolve("run-command.log"));
            ApiClient api = new ApiClient(base);
            RequestBodies.reachTheApplication(api);
            // Payara's own OpenAPI endpoint keeps serving the document /api/schema/ relays, but no
            // WADL naming the exact Jersey build (the run command's jersey.config.* properties)
            assertEquals(404, api.send("GET", "/openapi/application.wadl", null, null, (String) null).status());
            assertEquals(200, api.send("GET", "/openapi/", null, null, (String) null).status());
            Reply schema = api.send("GET", "/api/schema/", null, null, (String) null);
            assertEquals(200, schema.status(), schema.toString());
            assertTrue(schema.body().startsWith("openapi: "), schema.body());
        } finally {
            // The plugin runs Payara Micro as a child JVM: stop it first, then Maven.
            maven.descendants().forEach(ProcessHandle::destroy);
            maven.destroy();
            if (!maven.waitFor(60, TimeUnit.SECONDS)) {
                maven.descendants().forEach(ProcessHandle::destroyForcibly);
                maven.destroyForcibly();
            }
        }
    }

    /** Whether this build runs offline: the mvn script exports its arguments as MAVEN_CMD_LINE_ARGS. */
    private static boolean offline() {
        String args = System.getenv().getOrDefault("MAVEN_CMD_LINE_ARGS", "");
        return List.of(args.trim().split("\\s+")).stream().anyMatch(a -> a.equals("-o") || a.equals("--offline"));
    }

    private static String maven() {
        String home = System.getProperty("it.maven.home");
        assertTrue(home != null && !home.isBlank(), "it.maven.home is not set (failsafe sets it to ${maven.home})");
        return Path.of(home, "bin", "mvn").toString();
    }
}
