package org.flserver.model;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Deletes the stored files that no database row names any more. Above all these are the local
 * models of every aggregated round: the round engine deletes their rows (the provenance keeps
 * their hashes, not the files), and without this the store would grow by N models a round for
 * good. Also an aggregation's output whose job failed, and the files of deleted models.
 *
 * <p>A file may be named by no row only for a moment before a row names it: an upload or an
 * aggregation stores its file first and inserts the row after, and a new upload of content the
 * store already has only finds the file there ({@link ModelFiles#commit}). The protocol keeps such
 * files:
 * <ol>
 * <li>Only files not modified for a while ({@code idleSince}) are candidates; a commit that finds
 *     its content already stored sets the file's modification time to now first.</li>
 * <li>A candidate that no row names is renamed to {@code <hash>.deleting} (atomic). If its
 *     modification time is now recent, a commit touched it between the listing and the rename: it
 *     is put back. A commit that comes after the rename finds no file and moves its own copy in.</li>
 * <li>The renamed files are looked up once more; one that a row names by now is put back; the
 *     others are deleted.</li>
 * </ol>
 * Every step tolerates another instance (they share the store, design.md §7) doing the same at the
 * same time: whoever loses a rename skips the file. A crash between rename and delete leaves a
 * {@code .deleting} file; {@link #recover} puts it back where the original is missing (harmless:
 * an unneeded file is collected again later), at every start and before every collection.
 *
 * <p>Plain Java: the database lookup comes in as {@link References}.
 */
final class UnreferencedFiles {

    /** The suffix of a file set aside for deletion. */
    static final String DELETING = ".deleting";

    private static final Pattern SHARD = Pattern.compile("[0-9a-f]{2}");

    /** Which of some stored files' hashes a database row names. */
    @FunctionalInterface
    interface References {
        Set<String> named(List<String> hashes);
    }

    /** What a collection deleted. */
    record Collected(int files, long bytes) {
    }

    private final Path files;
    private final References references;
    private final int batch;

    /** {@code files} is the store's {@code files/} folder; hashes are looked up {@code batch} at a time. */
    UnreferencedFiles(Path files, References references, int batch) {
        this.files = files;
        this.references = references;
        this.batch = batch;
    }

    /** Deletes the files not modified since {@code idleSince} that no row names (see the class comment). */
    Collected collect(Instant idleSince) throws IOException {
        recover(files);
        int deleted = 0;
        long bytes = 0;
        List<Path> candidates = new ArrayList<>();
        for (Path shard : shards(files)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(shard)) {
                for (Path f : entries) {
                    if (isStored(f) && modifiedBefore(f, idleSince)) {
                        candidates.add(f);
                    }
                    if (candidates.size() == batch) {
                        Collected c = collectBatch(candidates, idleSince);
                        deleted += c.files();
                        bytes += c.bytes();
                        candidates.clear();
                    }
                }
            }
        }
        Collected c = collectBatch(candidates, idleSince);
        return new Collected(deleted + c.files(), bytes + c.bytes());
    }

    /**
     * Puts back every {@code .deleting} file in the store's {@code files} folder whose original is
     * missing and removes those whose original exists again; returns how many were put back. Needs
     * no database: putting back a file no row names only delays its collection.
     */
    static int recover(Path files) throws IOException {
        int restored = 0;
        for (Path shard : shards(files)) {
            List<Path> aside = new ArrayList<>();
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(shard, "*" + DELETING)) {
                entries.forEach(aside::add);
            }
            for (Path a : aside) {
                Path original = original(a);
                if (ModelFiles.SHA256.matcher(original.getFileName().toString()).matches() && putBack(a, original)) {
                    restored++;
                }
            }
        }
        return restored;
    }

    private Collected collectBatch(List<Path> candidates, Instant idleSince) throws IOException {
        if (candidates.isEmpty()) {
            return new Collected(0, 0);
        }
        Set<String> named = references.named(hashes(candidates));
        List<Path> setAside = new ArrayList<>();
        for (Path f : candidates) {
            if (named.contains(f.getFileName().toString())) {
                continue;
            }
            Path aside = f.resolveSibling(f.getFileName() + DELETING);
            try {
                Files.move(f, aside, StandardCopyOption.ATOMIC_MOVE);
            } catch (NoSuchFileException goneMeanwhile) {
                continue; // another instance took it
            }
            if (modifiedBefore(aside, idleSince)) {
                setAside.add(aside);
            } else {
                putBack(aside, f); // a commit touched it after the listing: it is about to be named
            }
        }
        if (setAside.isEmpty()) {
            return new Collected(0, 0);
        }
        List<Path> originals = setAside.stream().map(UnreferencedFiles::original).toList();
        Set<String> namedNow = references.named(hashes(originals));
        int deleted = 0;
        long bytes = 0;
        for (Path aside : setAside) {
            Path f = original(aside);
            if (namedNow.contains(f.getFileName().toString())) {
                putBack(aside, f);
                continue;
            }
            try {
                long size = Files.size(aside);
                Files.delete(aside);
                deleted++;
                bytes += size;
            } catch (NoSuchFileException putBackByAnother) {
                // another instance's recover() put it back: it stays for a later collection
            }
        }
        return new Collected(deleted, bytes);
    }

    /** Moves {@code aside} back to {@code original}, or drops it where a copy is there again; true if moved. */
    private static boolean putBack(Path aside, Path original) throws IOException {
        try {
            if (Files.exists(original, LinkOption.NOFOLLOW_LINKS)) {
                Files.deleteIfExists(aside); // the same content was stored again meanwhile
                return false;
            }
            Files.move(aside, original, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (NoSuchFileException alreadyHandled) {
            return false; // another instance put it back or dropped it
        }
    }

    private static List<Path> shards(Path files) throws IOException {
        List<Path> shards = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(files)) {
            for (Path p : entries) {
                if (SHARD.matcher(p.getFileName().toString()).matches()
                        && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    shards.add(p);
                }
            }
        }
        return shards;
    }

    /** A stored file: named by a hash that starts with its folder's name. */
    private static boolean isStored(Path f) {
        String name = f.getFileName().toString();
        return ModelFiles.SHA256.matcher(name).matches() && name.startsWith(f.getParent().getFileName().toString());
    }

    private static boolean modifiedBefore(Path f, Instant idleSince) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isRegularFile() && a.lastModifiedTime().toInstant().isBefore(idleSince);
        } catch (NoSuchFileException gone) {
            return false;
        }
    }

    private static Path original(Path aside) {
        String name = aside.getFileName().toString();
        return aside.resolveSibling(name.substring(0, name.length() - DELETING.length()));
    }

    private static List<String> hashes(List<Path> stored) {
        return stored.stream().map(p -> p.getFileName().toString()).toList();
    }
}
