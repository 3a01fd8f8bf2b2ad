package org.flserver.tensor;

import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile files (with MutationFuzzTest): every hostile and legacy file is refused with the reason
 * {@code hostile.json} asks for (the reference reader's message), as a {@link WeightFileException}.
 * Nothing can be executed: the reader has no code path that resolves or calls a GLOBAL.
 */
class HostileFilesTest {

    @TestFactory
    Stream<DynamicTest> everyHostileFileIsRefusedForTheRightReason() {
        Path dir = Fixtures.root().resolve("hostile");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonValue v : Fixtures.json(dir.resolve("hostile.json")).getJsonArray("files")) {
            JsonObject e = v.asJsonObject();
            String expected = e.getString("reference_reader_result").replaceFirst("^rejected: ", "");
            tests.add(DynamicTest.dynamicTest(e.getString("file"), () -> {
                WeightFileException ex = assertThrows(WeightFileException.class,
                        () -> WeightFiles.open(dir.resolve(e.getString("file"))));
                assertTrue(ex.getMessage().contains(expected),
                        "message '" + ex.getMessage() + "' should say '" + expected + "'");
                assertEquals(1, ex.getMessage().lines().count(), "one line");
            }));
        }
        assertEquals(7, tests.size());
        return tests.stream();
    }

    @Test
    void legacyFormatIsRecognisedAndRefused() {
        WeightFileException ex = assertThrows(WeightFileException.class,
                () -> WeightFiles.open(Fixtures.root().resolve("legacy/mlp.legacy.pt")));
        assertTrue(ex.getMessage().contains("legacy") && ex.getMessage().contains("re-save"), ex.getMessage());
    }
}
