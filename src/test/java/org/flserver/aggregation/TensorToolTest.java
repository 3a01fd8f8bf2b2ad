package org.flserver.aggregation;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import org.flserver.tensor.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line: inspect JSON against the manifests, fedavg output, exit codes and messages. */
class TensorToolTest {

    @TempDir
    Path tmp;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = TensorTool.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void inspectPrintsTheManifestTables() {
        for (String name : List.of("tied.module.pt", "strided.torchscript.pt", "dtypes.state_dict.pt")) {
            Path file = Fixtures.root().resolve("models").resolve(name);
            Run r = run("inspect", file.toString());
            assertEquals(0, r.code(), r.err());
            JsonObject got = Json.createReader(new StringReader(r.out())).readObject();
            JsonObject manifest = Fixtures.json(file.resolveSibling(name + ".json"));
            assertEquals(manifest.getString("format"), got.getString("format"));
            JsonArray expectedTensors = manifest.getJsonObject("data_pkl").getJsonArray("tensors");
            JsonArray tensors = got.getJsonArray("tensors");
            assertEquals(expectedTensors.size(), tensors.size());
            for (int i = 0; i < tensors.size(); i++) {
                JsonObject e = expectedTensors.getJsonObject(i);
                JsonObject t = tensors.getJsonObject(i);
                for (String key : List.of("name", "aliases", "dtype", "shape", "stride", "storage_offset",
                        "storage_key")) {
                    assertEquals(e.get(key), t.get(key), name + " " + e.getString("name") + " " + key);
                }
            }
            JsonArray expectedStorages = manifest.getJsonObject("data_pkl").getJsonArray("storages");
            JsonArray storages = got.getJsonArray("storages");
            assertEquals(expectedStorages.size(), storages.size());
            for (int i = 0; i < storages.size(); i++) {
                JsonObject e = expectedStorages.getJsonObject(i);
                JsonObject s = storages.getJsonObject(i);
                assertEquals(e.getString("key"), s.getString("key"));
                assertEquals(e.getString("dtype"), s.getString("dtype"));
                assertEquals(e.getJsonNumber("numel"), s.getJsonNumber("numel"));
                assertEquals(e.getJsonNumber("nbytes"), s.getJsonNumber("length"));
            }
        }
    }

    @Test
    void fedavgWritesTheExpectedFileWithTheFirstFileAsDefaultTemplate() throws Exception {
        Path set = Fixtures.root().resolve("fedavg/cnn_bn");
        Path out = tmp.resolve("avg.pt");
        Run r = run("fedavg", "--out", out.toString(), set.resolve("client0.module.pt") + ":10",
                set.resolve("client1.module.pt") + ":30", set.resolve("client2.module.pt") + ":60");
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(set.resolve("expected.module.pt")), Files.readAllBytes(out));
    }

    @Test
    void refusedFilesExitWithTwoAndOneLine() {
        Path hostile = Fixtures.root().resolve("hostile/os_system.pt");
        Run r = run("inspect", hostile.toString());
        assertEquals(2, r.code());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("GLOBAL 'os system' not allowed"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertTrue(r.out().isEmpty());

        Path fed = Fixtures.root().resolve("fedavg");
        Run mixed = run("fedavg", "--out", tmp.resolve("x.pt").toString(),
                fed.resolve("mlp/client0.state_dict.pt") + ":1", fed.resolve("tied/client0.state_dict.pt") + ":1");
        assertEquals(2, mixed.code());
        assertEquals(1, mixed.err().lines().count(), mixed.err());
        assertFalse(Files.exists(tmp.resolve("x.pt")));

        Run zero = run("fedavg", "--out", tmp.resolve("z.pt").toString(),
                fed.resolve("mlp/client0.state_dict.pt") + ":0");
        assertEquals(2, zero.code());
    }

    @Test
    void theMainClassRunsFromTheClasspath() throws Exception {
        String cp = Path.of(TensorTool.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                cp + File.pathSeparator, TensorTool.class.getName(), "inspect",
                Fixtures.root().resolve("legacy/mlp.legacy.pt").toString()).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), err);
        assertTrue(err.startsWith("refused: legacy"), err);
    }
}
