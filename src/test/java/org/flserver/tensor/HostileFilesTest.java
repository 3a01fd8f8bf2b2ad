package org.flserver.tensor;

import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile files (with MutationFuzzTest): every hostile and legacy file is refused with the reason
 * {@code hostile.json} asks for (the reference reader's message), as a {@link WeightFileException};
 * so is every file that breaks a resource bound (pickle-bombs).
 * Nothing can be executed: the reader has no code path that resolves or calls a GLOBAL.
 */
class HostileFilesTest {

    @TestFactory
    Stream<DynamicTest> everyHostileFileIsRefusedForTheRightReason() {
        List<DynamicTest> tests = refusals(Fixtures.root().resolve("hostile"), "hostile.json",
                e -> e.getString("reference_reader_result").replaceFirst("^rejected: ", ""));
        assertEquals(7, tests.size());
        return tests.stream();
    }

    /**
     * The small files of src/test/resources/pickle-bombs (src/test/python/hostile/make_pickle_bombs.py)
     * each break one resource bound of docs/pytorch-formats.md §d; the large cases are built at run
     * time by {@code SymbolicPickleBudgetsTest}.
     */
    @TestFactory
    Stream<DynamicTest> everyPickleBombIsRefusedForTheRightReason() {
        List<DynamicTest> tests = refusals(Fixtures.root().getParent().resolve("pickle-bombs"), "pickle-bombs.json",
                e -> e.getString("refused_because"));
        assertEquals(4, tests.size());
        return tests.stream();
    }

    private static List<DynamicTest> refusals(Path dir, String manifest, Function<JsonObject, String> reason) {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonValue v : Fixtures.json(dir.resolve(manifest)).getJsonArray("files")) {
            JsonObject e = v.asJsonObject();
            String expected = reason.apply(e);
            tests.add(DynamicTest.dynamicTest(e.getString("file"), () -> {
                WeightFileException ex = assertThrows(WeightFileException.class,
                        () -> WeightFiles.open(dir.resolve(e.getString("file"))));
                assertTrue(ex.getMessage().contains(expected),
                        "message '" + ex.getMessage() + "' should say '" + expected + "'");
                assertEquals(1, ex.getMessage().lines().count(), "one line");
            }));
        }
        return tests;
    }

    @Test
    void legacyFormatIsRecognisedAndRefused() {
        WeightFileException ex = assertThrows(WeightFileException.class,
                () -> WeightFiles.open(Fixtures.root().resolve("legacy/mlp.legacy.pt")));
        assertTrue(ex.getMessage().contains("legacy") && ex.getMessage().contains("re-save"), ex.getMessage());
    }
}
