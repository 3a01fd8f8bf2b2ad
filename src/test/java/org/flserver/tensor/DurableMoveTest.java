package org.flserver.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The rename puts the new file in place of the old one and leaves no temporary file; flushing a
 * directory that exists works here (Linux can fsync directories), and a real I/O failure is thrown,
 * not swallowed: only a platform that cannot flush directories at all is passed over.
 */
class DurableMoveTest {

    @TempDir
    Path dir;

    @Test
    void replaceSwapsInTheNewFileAndLeavesNoTemporary() throws Exception {
        Path target = Files.writeString(dir.resolve("model.pt"), "old");
        Path temp = Files.writeString(dir.resolve("model.pt.tmp"), "new");
        DurableMove.replace(temp, target);
        assertEquals("new", Files.readString(target));
        assertFalse(Files.exists(temp));
    }

    @Test
    void anIoErrorOfTheDirectoryFlushIsThrown() throws Exception {
        DurableMove.flushDirectory(dir);
        assertThrows(NoSuchFileException.class, () -> DurableMove.flushDirectory(dir.resolve("gone")));
    }
}
