package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.flserver.it.ApiClient.Account;
import org.junit.jupiter.api.Test;

/**
 * The collection of unreferenced stored files on the shared server (PostgreSQL, the real store):
 * a file that no row names — what an aggregated round's local models, a failed job's output and
 * a deleted model's weights leave — is deleted once it has been idle for the configured time, and
 * a file a model names stays, however idle. The test servers collect every 2 seconds
 * ({@code fl.files.collect-interval-seconds}); idleness is the default 24 hours, so the test ages
 * its files itself.
 */
class StoredFileCollectionIT {

    private static final Duration WAIT = Duration.ofSeconds(60);

    private final ApiClient api = new ApiClient();

    @Test
    void idleFilesThatNoRowNamesAreDeletedAndNamedOnesStay() throws Exception {
        Account owner = api.createUser("collect");
        byte[] weights = ModelTesting.fixture("models/mlp.torchscript.pt");
        String id = ModelTesting.upload(api, owner, new Multipart().field("name", "collected").field("description", "-")
                .file("model_file", "mlp.pt", weights));
        Path named = ModelTesting.storedPath(ModelTesting.sha256(weights));
        Path orphan = write(("an update of a round aggregated long ago " + UUID.randomUUID()).getBytes(StandardCharsets.UTF_8));
        Path recentOrphan = write(("an upload whose row is not committed yet " + UUID.randomUUID())
                .getBytes(StandardCharsets.UTF_8));
        Instant twoDaysAgo = Instant.now().minus(Duration.ofDays(2));
        Files.setLastModifiedTime(orphan, FileTime.from(twoDaysAgo));
        Files.setLastModifiedTime(named, FileTime.from(twoDaysAgo));
        try {
            Instant until = Instant.now().plus(WAIT);
            while (Files.exists(orphan) && Instant.now().isBefore(until)) {
                Thread.sleep(200);
            }

            assertTrue(!Files.exists(orphan), "the idle file no row names is deleted within " + WAIT);
            assertTrue(Files.exists(named), "the idle file a model names stays");
            assertTrue(Files.exists(recentOrphan), "a file written recently stays");
        } finally {
            // the fixture's file is shared with other tests' models: idle, it would go with the last of them
            Files.setLastModifiedTime(named, FileTime.from(Instant.now()));
        }
        HttpResponse<byte[]> download = api.download("/api/models/" + id + "/", owner);
        assertEquals(200, download.statusCode());
        assertArrayEquals(weights, download.body());
        Files.delete(recentOrphan);
    }

    private static Path write(byte[] content) throws Exception {
        Path f = ModelTesting.storedPath(ModelTesting.sha256(content));
        Files.createDirectories(f.getParent());
        return Files.write(f, content);
    }
}
