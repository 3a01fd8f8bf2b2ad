package org.flserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.flserver.tensor.pytorch.TorchSaveSamples;
import org.flserver.tensor.pytorch.TorchSaveWriter;
import org.flserver.tensor.pytorch.TorchSaveWriter.TensorData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Archives written by {@link TorchSaveWriter} load in real PyTorch with
 * {@code torch.load(f, weights_only=True)} (api.md §15.10) and give exactly the dicts, dtypes,
 * shapes and values that were written: {@code src/test/python/inference/load_torch_save.py} loads
 * them and prints JSON, compared here with the Java data.
 *
 * <p>Needs no server, but Debian's {@code python3-torch} for {@code /usr/bin/python3} ({@code .ci/run}
 * installs it); without it the test fails and says how to install it. Property {@code fl.python}
 * names another interpreter.
 */
class TorchSaveWriterPythonIT {

    private static final String PYTHON = System.getProperty("fl.python", "/usr/bin/python3");
    private static final Path SCRIPT = Path.of(System.getProperty("fl.python.dir", "src/test/python"), "inference",
            "load_torch_save.py").toAbsolutePath();
    private static final String INSTALL_HINT = "TorchSaveWriterPythonIT needs Debian's python3-torch for " + PYTHON
            + ": apt-get install -y --no-install-recommends python3-torch (.ci/run does this),"
            + " or name another interpreter with -Dfl.python=...";

    @BeforeAll
    static void pythonHasTorch() throws Exception {
        String[] check;
        try {
            check = python("-c", "import torch; print('torch', torch.__version__)");
        } catch (IOException e) {
            throw new AssertionError(INSTALL_HINT + " (" + e.getMessage() + ")", e);
        }
        if (!check[0].equals("0")) {
            fail(INSTALL_HINT + "\n" + check[1]);
        }
        System.out.println("TorchSaveWriterPythonIT: " + PYTHON + ": " + check[1].strip());
    }

    @Test
    void torchLoadsEveryArchiveWithWeightsOnly() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it", "torchsave-" + UUID.randomUUID()));
        Map<Path, Map<String, Object>> written = new LinkedHashMap<>();
        written.put(write(dir, "result", TorchSaveSamples.inferenceResult()), TorchSaveSamples.inferenceResult());
        written.put(write(dir, "dtypes", TorchSaveSamples.allDtypes()), TorchSaveSamples.allDtypes());
        written.put(write(dir, "edges", TorchSaveSamples.edgeShapes()), TorchSaveSamples.edgeShapes());
        Path stream = dir.resolve("stream.pt");
        try (OutputStream out = Files.newOutputStream(stream)) {
            TorchSaveWriter.write(out, TorchSaveSamples.inferenceResult());  // folder "archive", as torch for streams
        }
        written.put(stream, TorchSaveSamples.inferenceResult());
        Path zip64 = dir.resolve("zip64.pt");
        TorchSaveSamples.writeZip64(zip64, "zip64", TorchSaveSamples.edgeShapes());
        written.put(zip64, TorchSaveSamples.edgeShapes());

        List<String> args = new ArrayList<>(List.of(SCRIPT.toString()));
        written.keySet().forEach(p -> args.add(p.toAbsolutePath().toString()));
        String[] run = python(args.toArray(String[]::new));
        assertEquals("0", run[0], run[1]);
        JsonObject json;
        try (JsonReader r = Json.createReader(new StringReader(run[1]))) {
            json = r.readObject();
        }
        System.out.println("TorchSaveWriterPythonIT: loaded " + written.size() + " archives with torch "
                + json.getString("torch"));
        JsonObject files = json.getJsonObject("files");
        for (Map.Entry<Path, Map<String, Object>> e : written.entrySet()) {
            JsonObject loaded = files.getJsonObject(e.getKey().toAbsolutePath().toString());
            compareDict(e.getKey().getFileName() + ":", e.getValue(), loaded);
        }
    }

    /** Python's plain dict (not OrderedDict), same keys in the same order, each value as written. */
    private static void compareDict(String where, Map<String, ?> expected, JsonObject loaded) {
        assertEquals("dict", loaded.getString("type"), where);
        JsonObject items = loaded.getJsonObject("items");
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(items.keySet()), where + " keys");
        for (Map.Entry<String, ?> e : expected.entrySet()) {
            String at = where + e.getKey();
            if (e.getValue() instanceof TensorData t) {
                compareTensor(at, t, items.getJsonObject(e.getKey()));
            } else {
                @SuppressWarnings("unchecked")
                Map<String, ?> nested = (Map<String, ?>) e.getValue();
                compareDict(at + ".", nested, items.getJsonObject(e.getKey()));
            }
        }
    }

    private static void compareTensor(String where, TensorData t, JsonObject loaded) {
        assertEquals("tensor", loaded.getString("type"), where);
        assertEquals("torch." + t.dtype().torchName(), loaded.getString("dtype"), where);
        List<Long> shape = new ArrayList<>();
        for (long d : t.shape()) {
            shape.add(d);
        }
        assertEquals(shape, longs(loaded.getJsonArray("shape")), where + " shape");
        assertEquals(0, loaded.getInt("storage_offset"), where);
        assertTrue(loaded.getBoolean("contiguous"), where + " is contiguous");
        assertEquals(JsonValue.FALSE, loaded.get("requires_grad"), where);
        List<JsonValue> values = new ArrayList<>();
        flatten(loaded.get("values"), values);
        Object[] expected = TorchSaveSamples.values(t);
        assertEquals(expected.length, values.size(), where + " element count");
        for (int i = 0; i < expected.length; i++) {
            JsonValue v = values.get(i);
            Object actual = switch (v.getValueType()) {
                case TRUE -> Boolean.TRUE;
                case FALSE -> Boolean.FALSE;
                case NUMBER -> expected[i] instanceof Long ? (Object) ((JsonNumber) v).longValueExact()
                        : (Object) ((JsonNumber) v).doubleValue();
                default -> v.toString();
            };
            assertEquals(expected[i], actual, where + "[" + i + "]");
        }
    }

    private static void flatten(JsonValue v, List<JsonValue> into) {
        if (v instanceof JsonArray a) {
            a.forEach(x -> flatten(x, into));
        } else {
            into.add(v);
        }
    }

    private static List<Long> longs(JsonArray a) {
        return a.getValuesAs(JsonNumber.class).stream().map(JsonNumber::longValueExact).toList();
    }

    private static Path write(Path dir, String name, Map<String, ?> root) throws IOException {
        Path file = dir.resolve(name + ".pt");
        try (OutputStream out = Files.newOutputStream(file)) {
            TorchSaveWriter.write(out, name, root);
        }
        return file;
    }

    /** Runs the interpreter; returns {exit code, stdout}. */
    private static String[] python(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(PYTHON));
        command.addAll(List.of(args));
        // stdout carries the JSON; warnings and tracebacks go to the test log
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(PYTHON + " did not finish in 120 s");
        }
        return new String[]{Integer.toString(p.exitValue()), new String(out, StandardCharsets.UTF_8)};
    }
}
