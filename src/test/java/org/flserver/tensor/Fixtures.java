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
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds the project's PyTorch fixtures (src/test/resources/pytorch, written by
 * src/test/python/fixtures/make_pytorch_fixtures.py) and reads their JSON manifests with Jakarta
 * JSON-P, independently of the code under test. Only places inside the project are searched, so a
 * checkout with nothing beside it runs every test.
 */
public final class Fixtures {

    /** Where the fixtures live in the source tree, relative to the project folder. */
    public static final Path SOURCE = Path.of("src", "test", "resources", "pytorch");

    private Fixtures() {
    }

    /**
     * The fixtures' folder: {@code fl.fixtures} (the build sets it to the source folder), else the
     * source folder relative to the working directory (Maven runs tests in the project folder), else
     * the copy on the test class path (target/test-classes/pytorch).
     */
    public static Path root() {
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("fl.fixtures");
        if (prop != null && !prop.isBlank()) {
            candidates.add(Path.of(prop));
        }
        candidates.add(SOURCE);
        URL onClassPath = Fixtures.class.getResource("/pytorch/INDEX.json");
        if (onClassPath != null && "file".equals(onClassPath.getProtocol())) {
            try {
                candidates.add(Path.of(onClassPath.toURI()).getParent());
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        for (Path p : candidates) {
            if (Files.isRegularFile(p.resolve("INDEX.json"))) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("PyTorch fixtures not found; tried " + candidates
                + " (src/test/python/fixtures/make_pytorch_fixtures.py writes them)");
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
