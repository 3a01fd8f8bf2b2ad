package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.flserver.it.ApiClient.Account;
import org.flserver.it.ApiClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The WAR on a plain Payara Micro, as an operator starts it with nothing configured
 * ({@code java -jar payara-micro.jar --deploy fl-server.war}; only a free port and no clustering are
 * added for the test): it serves the API at the root context on the embedded H2 database under
 * {@code ./fl-data}, and what it stored is still there after a restart.
 */
class PlainDeploymentIT {

    @Test
    void servesTheApiOnTheEmbeddedDatabaseAndKeepsItsDataAcrossARestart() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "plain-deploy");
        Account account;
        try (PayaraMicroProcess first = PayaraMicroProcess.start(dir, List.of(), List.of(), dir.resolve("first.log"))) {
            ApiClient api = new ApiClient(first.baseUrl());
            Reply health = api.send("GET", "/health/ready", null, null, (String) null);
            assertTrue(health.body().contains("H2"), health.body());
            account = api.createUser("plain");
            Reply me = api.send("GET", "/api/users/myself/", account.basicHeader(), null, (String) null);
            assertEquals(200, me.status(), me.toString());
            assertEquals(account.username(), me.json().getString("username"));
        }
        assertTrue(Files.isDirectory(dir.resolve("fl-data")), "the embedded database lives in ./fl-data");
        try (PayaraMicroProcess second = PayaraMicroProcess.start(dir, List.of(), List.of(), dir.resolve("second.log"))) {
            ApiClient api = new ApiClient(second.baseUrl());
            Reply me = api.send("GET", "/api/users/myself/", account.basicHeader(), null, (String) null);
            assertEquals(200, me.status(), "user survives a restart: " + me);
            assertEquals(200, api.send("GET", "/api/users/myself/", account.tokenHeader(), null, (String) null).status());
        }
    }
}
