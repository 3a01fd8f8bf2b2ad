package org.flserver.tensor;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Puts a finished, flushed file in its place so that a crash leaves either the old file or the
 * whole new one: one rename, then the directory's entry flushed. Shared by every writer of weight
 * and state files, which all write a temporary file beside the target first.
 */
public final class DurableMove {

    private DurableMove() {
    }

    /**
     * Renames {@code temp} to {@code target} (replacing it), atomically where the file system can,
     * then flushes the directory so the rename survives a power loss. The caller has already
     * forced the file's own contents to disk.
     */
    public static void replace(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        flushDirectory(target.toAbsolutePath().getParent());
    }

    /**
     * Flushes a directory's entries to disk (POSIX: fsync of the directory), which makes a rename
     * or a new name in it survive a power loss. Where the platform cannot open a directory as a
     * file (Windows refuses it: access denied) or cannot force one, there is nothing to flush and
     * the call returns; any other failure is an I/O error of the disk and is thrown.
     */
    public static void flushDirectory(Path directory) throws IOException {
        FileChannel dir;
        try {
            dir = FileChannel.open(directory, StandardOpenOption.READ);
        } catch (AccessDeniedException | UnsupportedOperationException cannotOpenDirectories) {
            return; // Windows: a directory is no file to open, and its entries are durable with the file's flush
        }
        try (dir) {
            dir.force(true);
        } catch (UnsupportedOperationException cannotForceDirectories) {
            return; // a file system without directory sync: nothing more can be made durable here
        }
    }
}
