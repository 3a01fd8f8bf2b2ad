package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.flserver.model.ModelFiles.ReceivedFile;
import org.flserver.platform.ApiException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The content-addressed store on its own: naming, dedupe, the size limit, and nothing left behind on refusal. */
class ModelFilesTest {

    @TempDir
    Path data;

    private ModelFiles files;

    @BeforeEach
    void setUp() {
        files = new ModelFiles();
        files.dataDirectory = data.toString();
        files.maxUploadBytes = 1 << 20;
        files.init();
    }

    @Test
    void storesUnderTheSha256AndDedupes() throws Exception {
        byte[] content = random(300_000, 1);
        String sha = sha256(content);

        StoredFile first = files.store(new ByteArrayInputStream(content), 1 << 20);
        assertEquals(new StoredFile(sha, content.length), first);
        Path expected = data.resolve("files").resolve(sha.substring(0, 2)).resolve(sha);
        assertEquals(expected, files.path(sha));
        assertArrayEquals(content, Files.readAllBytes(expected));
        try (InputStream in = files.open(sha)) {
            assertArrayEquals(content, in.readAllBytes());
        }

        assertEquals(first, files.store(new ByteArrayInputStream(content), 1 << 20));
        assertEquals(List.of(expected), regularFiles(data.resolve("files")));
        assertEquals(List.of(), regularFiles(data.resolve("tmp")));
    }

    /**
     * Storing content that is already stored touches the file, so that the collection of
     * unreferenced files (which only takes files idle for a day) leaves it to the row about to name
     * it; and where that collection took the file just before, the new copy is moved in.
     */
    @Test
    void storingStoredContentAgainTouchesTheFileOrPutsItBack() throws Exception {
        byte[] content = random(5000, 3);
        String sha = sha256(content);
        files.store(new ByteArrayInputStream(content), 1 << 20);
        Path stored = files.path(sha);
        Instant old = Instant.now().minus(Duration.ofDays(3));
        Files.setLastModifiedTime(stored, FileTime.from(old));

        files.store(new ByteArrayInputStream(content), 1 << 20);
        assertTrue(Files.getLastModifiedTime(stored).toInstant().isAfter(old.plus(Duration.ofDays(2))),
                Files.getLastModifiedTime(stored).toString());

        Files.delete(stored); // collected between the existence check and the touch: stored anew
        files.store(new ByteArrayInputStream(content), 1 << 20);
        assertArrayEquals(content, Files.readAllBytes(stored));
        assertEquals(List.of(), regularFiles(data.resolve("tmp")));
    }

    @Test
    void moreThanTheLimitIs413AndLeavesNoFile() {
        byte[] content = random(1001, 2);
        ApiException e = assertThrows(ApiException.class, () -> files.store(new ByteArrayInputStream(content), 1000));
        assertEquals(413, e.status());
        assertEquals("{\"detail\":\"The uploaded file is too large: at most 1000 bytes.\"}", e.body().toString());
        assertEquals(List.of(), regularFiles(data));
        // exactly at the limit is fine
        assertEquals(1000, files.store(new ByteArrayInputStream(content, 0, 1000), 1000).size());
    }

    @Test
    void aFileTheServerWroteIsStoredReadableByTheSandboxUserLikeAnUpload() throws Exception {
        // the aggregation's output starts as an owner-only temp file (Files.createTempFile)
        Path temp = files.newTempFile("aggregate");
        Files.write(temp, random(4000, 5));
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
        StoredFile stored = files.commitFile(temp);
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(files.path(stored.sha256()));
        assertTrue(permissions.containsAll(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.GROUP_READ,
                PosixFilePermission.OTHERS_READ)), permissions.toString());
        assertFalse(permissions.contains(PosixFilePermission.OTHERS_WRITE), permissions.toString());
    }

    @Test
    void aReceivedFileThatIsNotCommittedIsDropped() {
        byte[] content = random(5000, 3);
        try (ReceivedFile received = files.receive(new ByteArrayInputStream(content), 10_000)) {
            assertEquals(sha256(content), received.sha256());
            assertEquals(1, regularFiles(data.resolve("tmp")).size());
        }
        assertEquals(List.of(), regularFiles(data));
        assertFalse(files.exists(sha256(content)));
    }

    @Test
    void aBrokenUploadStreamIs400AndLeavesNoFile() {
        InputStream broken = new InputStream() {
            private int left = 100_000;

            @Override
            public int read() throws IOException {
                if (left == 0) {
                    throw new IOException("connection reset");
                }
                left--;
                return 7;
            }
        };
        ApiException e = assertThrows(ApiException.class, () -> files.store(broken, 1 << 20));
        assertEquals(400, e.status());
        assertEquals(List.of(), regularFiles(data));
    }

    @Test
    void tempFilesACrashLeftAreSweptOnceIdleLongEnoughAndNothingElse() throws Exception {
        Path tmp = data.resolve("tmp");
        Path stale = Files.write(tmp.resolve("aggregate-crashed.part"), random(1000, 2));
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofHours(25))));
        Path busy = Files.write(tmp.resolve("upload-running.part"), random(1000, 3)); // another instance's, being written
        Path staleFolder = Files.createDirectory(tmp.resolve("not-ours"));
        Files.setLastModifiedTime(staleFolder, FileTime.from(Instant.now().minus(Duration.ofDays(3))));

        ModelFiles restarted = new ModelFiles();
        restarted.dataDirectory = data.toString();
        restarted.maxUploadBytes = 1 << 20;
        restarted.tmpMaxIdleHours = 24;
        restarted.init();

        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(busy));
        assertTrue(Files.isDirectory(staleFolder));
        // a shorter idle time takes the younger file too
        assertEquals(1, restarted.sweepTemp(Instant.now().plusSeconds(1)));
        assertFalse(Files.exists(busy));
    }

    @Test
    void onlyWellFormedHashesNameFiles() {
        assertThrows(IllegalArgumentException.class, () -> files.path("../../etc/passwd"));
        assertThrows(IllegalArgumentException.class, () -> files.path("A".repeat(64)));
        assertThrows(IllegalArgumentException.class, () -> files.path(null));
        assertTrue(files.path("a".repeat(64)).startsWith(data.resolve("files")));
    }

    private static List<Path> regularFiles(Path root) {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
