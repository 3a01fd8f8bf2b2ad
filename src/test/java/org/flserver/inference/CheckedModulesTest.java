package org.flserver.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The archive check's verdicts are kept per hash, passes and refusals alike, within the bound. */
class CheckedModulesTest {

    private static final Path HOSTILE = Path.of("src", "test", "resources", "hostile");

    @Test
    void aVerdictIsReachedOnceAndKept(@TempDir Path dir) throws Exception {
        CheckedModules checked = new CheckedModules(2);
        Path echo = Files.copy(HOSTILE.resolve("echo.pt"), dir.resolve("echo.pt"));
        checked.require("echo", echo);
        Files.delete(echo);
        checked.require("echo", echo); // not read again: the stored file cannot have changed

        Path hidden = Files.copy(HOSTILE.resolve("code_upper_ext.pt"), dir.resolve("hidden.pt"));
        InferenceException first = assertThrows(InferenceException.class, () -> checked.require("hidden", hidden));
        Files.delete(hidden);
        InferenceException again = assertThrows(InferenceException.class, () -> checked.require("hidden", hidden));
        assertEquals(400, again.status());
        assertEquals(first.getMessage(), again.getMessage());
    }

    @Test
    void theOldestVerdictMakesRoomAndAnUnreadableFileGetsNone(@TempDir Path dir) throws Exception {
        CheckedModules checked = new CheckedModules(1);
        Path a = Files.copy(HOSTILE.resolve("echo.pt"), dir.resolve("a.pt"));
        Path b = Files.copy(HOSTILE.resolve("spin.pt"), dir.resolve("b.pt"));
        checked.require("a", a);
        checked.require("b", b);
        Files.delete(a);
        // "a" was evicted: it is read again, and a file that cannot be read is a server error, not a verdict
        assertEquals(500, assertThrows(InferenceException.class, () -> checked.require("a", a)).status());
        Files.copy(HOSTILE.resolve("echo.pt"), a);
        checked.require("a", a);
    }
}
