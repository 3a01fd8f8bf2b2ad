package org.flserver.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The collection of unreferenced stored files on real files, with the database lookup as a set of
 * named hashes: what goes, what stays, and the races with a commit of the same content that the
 * protocol must survive.
 */
class UnreferencedFilesTest {

    private static final Instant NOW = Instant.now();
    private static final Instant IDLE_SINCE = NOW.minus(Duration.ofHours(24));
    private static final Instant OLD = NOW.minus(Duration.ofHours(48));

    @TempDir
    Path files;

    @Test
    void deletesOldFilesThatNoRowNamesAndKeepsTheRest() throws Exception {
        Path unnamed = store("local model of an aggregated round", OLD);
        Path named = store("global model", OLD);
        Path recent = store("an upload whose row is not committed yet", NOW);
        Path foreign = Files.writeString(files.resolve("README"), "not a stored file");
        Files.setLastModifiedTime(foreign, FileTime.from(OLD));
        Set<String> rows = Set.of(hash(named));

        UnreferencedFiles.Collected c = new UnreferencedFiles(files, rows(rows), 500).collect(IDLE_SINCE);

        assertEquals(1, c.files());
        assertEquals("local model of an aggregated round".length(), c.bytes());
        assertFalse(Files.exists(unnamed));
        assertTrue(Files.exists(named));
        assertTrue(Files.exists(recent));
        assertTrue(Files.exists(foreign));
        assertEquals(List.of(), leftovers());
    }

    @Test
    void looksUpInBatchesAndDeletesAcrossThem() throws Exception {
        List<Path> stored = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            stored.add(store("file " + i, OLD));
        }
        List<Integer> batchSizes = new ArrayList<>();
        UnreferencedFiles.References counting = hashes -> {
            batchSizes.add(hashes.size());
            return Set.of(hash(stored.get(3)));
        };

        assertEquals(6, new UnreferencedFiles(files, counting, 3).collect(IDLE_SINCE).files());

        assertTrue(batchSizes.stream().allMatch(n -> n <= 3), batchSizes.toString());
        assertTrue(Files.exists(stored.get(3)));
        assertEquals(List.of(stored.get(3)), storedFiles());
    }

    /** A commit of the same content touches the file after the listing, before the rename: it stays. */
    @Test
    void aFileTouchedAfterTheListingIsPutBack() throws Exception {
        Path f = store("content uploaded again", OLD);
        UnreferencedFiles.References touchingOnFirstLookup = new UnreferencedFiles.References() {
            private boolean first = true;

            @Override
            public Set<String> named(List<String> hashes) {
                if (first) {
                    first = false;
                    touch(f); // ModelFiles.commit finds the content stored and touches it
                }
                return Set.of(); // its row is not committed yet
            }
        };

        assertEquals(0, new UnreferencedFiles(files, touchingOnFirstLookup, 500).collect(IDLE_SINCE).files());

        assertTrue(Files.exists(f));
        assertEquals(List.of(), leftovers());
    }

    /** A row that names the file by the second lookup (after the rename) keeps it. */
    @Test
    void aFileNamedByTheSecondLookupIsPutBack() throws Exception {
        Path f = store("named meanwhile", OLD);
        List<Integer> lookups = new ArrayList<>();
        UnreferencedFiles.References namedOnSecond = hashes -> {
            lookups.add(hashes.size());
            return lookups.size() == 2 ? Set.copyOf(hashes) : Set.of();
        };

        assertEquals(0, new UnreferencedFiles(files, namedOnSecond, 500).collect(IDLE_SINCE).files());

        assertEquals(List.of(1, 1), lookups);
        assertTrue(Files.exists(f));
        assertEquals(List.of(), leftovers());
    }

    /** A commit after the rename finds no file and moves its own copy in: the one set aside is dropped. */
    @Test
    void aCopyStoredAgainAfterTheRenameWins() throws Exception {
        Path f = store("stored again", OLD);
        UnreferencedFiles.References storeAgainThenName = new UnreferencedFiles.References() {
            private int lookups;

            @Override
            public Set<String> named(List<String> hashes) {
                if (++lookups == 2) {
                    write(f, "stored again", NOW); // the commit's rename into place
                    return Set.copyOf(hashes); // and its row
                }
                return Set.of();
            }
        };

        assertEquals(0, new UnreferencedFiles(files, storeAgainThenName, 500).collect(IDLE_SINCE).files());

        assertTrue(Files.exists(f));
        assertEquals(List.of(), leftovers());
    }

    /** What a crash between rename and delete leaves is put back, or dropped where a copy exists. */
    @Test
    void recoversFilesSetAsideByAnInterruptedCollection() throws Exception {
        Path alone = store("set aside, then the server died", OLD);
        Path aside = alone.resolveSibling(alone.getFileName() + UnreferencedFiles.DELETING);
        Files.move(alone, aside);
        Path twice = store("set aside, and stored again since", OLD);
        Path asideTwice = twice.resolveSibling(twice.getFileName() + UnreferencedFiles.DELETING);
        Files.copy(twice, asideTwice);

        assertEquals(1, UnreferencedFiles.recover(files));

        assertTrue(Files.exists(alone));
        assertTrue(Files.exists(twice));
        assertEquals(List.of(), leftovers());
    }

    private Path store(String content, Instant modified) throws IOException {
        String h = sha256(content);
        Path f = files.resolve(h.substring(0, 2)).resolve(h);
        write(f, content, modified);
        return f;
    }

    private static void write(Path f, String content, Instant modified) {
        try {
            Files.createDirectories(f.getParent());
            Files.writeString(f, content);
            Files.setLastModifiedTime(f, FileTime.from(modified));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void touch(Path f) {
        try {
            Files.setLastModifiedTime(f, FileTime.from(Instant.now()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private List<Path> leftovers() throws IOException {
        try (var all = Files.walk(files)) {
            return all.filter(p -> p.getFileName().toString().endsWith(UnreferencedFiles.DELETING)).toList();
        }
    }

    private List<Path> storedFiles() throws IOException {
        try (var all = Files.walk(files)) {
            return all.filter(Files::isRegularFile).toList();
        }
    }

    private static UnreferencedFiles.References rows(Set<String> named) {
        return hashes -> {
            Set<String> found = new HashSet<>(hashes);
            found.retainAll(named);
            return found;
        };
    }

    private static String hash(Path f) {
        return f.getFileName().toString();
    }

    private static String sha256(String content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content.getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
