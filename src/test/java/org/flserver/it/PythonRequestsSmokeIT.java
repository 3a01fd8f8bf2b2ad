package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * Runs {@code src/test/python/smoke/smoke_requests.py} against the shared server: every route that
 * takes a request body, called with Python {@code requests} (HTTP/1.1 only) as the DLR client and
 * users' scripts call it — sign-up, groups, a model upload written by torch, a training whose
 * participants are added with PUT and removed with DELETE and a JSON body, a local update, metrics,
 * inference, and GETs that carry a body. The script checks every status and JSON answer itself and
 * prints one line per step; this test fails with that output if it does not end with
 * {@code SMOKE OK}.
 *
 * <p>Group membership cannot be given through the API, so the test makes one user a member of one
 * group in the database and hands both to the script. It needs Debian's {@code python3-torch} and
 * {@code python3-requests} for {@code /usr/bin/python3} (or {@code -Dfl.python=...}).
 */
class PythonRequestsSmokeIT {

    private static final String PYTHON = System.getProperty("fl.python", "/usr/bin/python3");
    private static final Path SCRIPT = Path.of(System.getProperty("fl.python.dir", "src/test/python"), "smoke",
            "smoke_requests.py").toAbsolutePath();
    private static final long LIMIT_SECONDS = 600;

    private final ApiClient api = new ApiClient();

    @Test
    void everyRouteWithABodyWorksFromPythonRequests() throws Exception {
        Account member = api.createUser("smoke-member");
        Reply group = api.postJson("/api/groups/", member, "{\"name\":\"" + ApiClient.uniqueName("smoke") + "\"}");
        assertEquals(201, group.status(), group.toString());
        long groupId = group.json().getJsonNumber("id").longValue();
        try (Connection c = DriverManager.getConnection(IntegrationEnvironment.jdbcUrl(), "fl", "fl");
             PreparedStatement s = c.prepareStatement("INSERT INTO fl_user_group (user_id, group_id) VALUES (?, ?)")) {
            s.setObject(1, member.id());
            s.setLong(2, groupId);
            assertEquals(1, s.executeUpdate());
        }

        Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "python-smoke");
        Path output = dir.resolve("output.log");
        ProcessBuilder pb = new ProcessBuilder(List.of(PYTHON, SCRIPT.toString(), "--server", api.base(),
                "--member-token", member.token(), "--group-id", Long.toString(groupId), "--dir", dir.toString()))
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(output.toFile());
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        pb.environment().put("PYTHONUNBUFFERED", "1");
        Process python = pb.start();
        python.getOutputStream().close();
        if (!python.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS)) {
            python.destroyForcibly();
            fail("the smoke test did not finish in " + LIMIT_SECONDS + " s:\n" + read(output));
        }
        String out = read(output);
        if (out.contains("No module named")) {
            fail("the smoke test needs Debian's python3-requests and python3-torch for " + PYTHON
                    + " (apt-get install -y --no-install-recommends python3-requests python3-torch)"
                    + " or another interpreter with -Dfl.python=...:\n" + out);
        }
        assertEquals(0, python.exitValue(), out);
        assertTrue(out.strip().endsWith("SMOKE OK"), out);
        // the steps that were broken over HTTP/1.1: a DELETE with a JSON body and a GET with a body
        assertTrue(out.contains("-> 200 (participants removed, DELETE with JSON)"), out);
        assertTrue(out.contains("-> 200 (training, GET with a JSON body)"), out);
    }

    private static String read(Path file) throws java.io.IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }
}
