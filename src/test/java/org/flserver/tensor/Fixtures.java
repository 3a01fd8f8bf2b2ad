package org.flserver.tensor;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds the shared PyTorch fixtures ({@code fl.fixtures}, set by surefire, or the usual relative
 * places) and reads their JSON manifests with Jakarta JSON-P, independently of the code under test.
 */
public final class Fixtures {

    private Fixtures() {
    }

    public static Path root() {
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("fl.fixtures");
        if (prop != null && !prop.isBlank()) {
            candidates.add(Path.of(prop));
        }
        candidates.add(Path.of("/work/shared/fixtures/pytorch"));
        candidates.add(Path.of("../shared/fixtures/pytorch"));
        for (Path p : candidates) {
            if (Files.isRegularFile(p.resolve("INDEX.json"))) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("PyTorch fixtures not found; tried " + candidates);
    }

    public static JsonObject json(Path file) {
        try (Reader r = Files.newBufferedReader(file); JsonReader jr = Json.createReader(r)) {
            return jr.readObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every model file that has a manifest next to it, under the given sub-folders. */
    public static List<Path> modelFiles(String... folders) {
        List<Path> out = new ArrayList<>();
        for (String folder : folders) {
            try (Stream<Path> s = Files.walk(root().resolve(folder))) {
                s.filter(p -> Files.isRegularFile(p) && !p.toString().endsWith(".json")
                                && Files.isRegularFile(p.resolveSibling(p.getFileName() + ".json")))
                        .sorted().forEach(out::add);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    public static List<Long> longs(JsonArray a) {
        List<Long> r = new ArrayList<>();
        for (JsonValue v : a) {
            r.add(((JsonNumber) v).longValueExact());
        }
        return r;
    }

    public static List<String> strings(JsonArray a) {
        List<String> r = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            r.add(a.getString(i));
        }
        return r;
    }
}
