package org.flserver.aggregation;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.flserver.tensor.Fixtures;
import org.flserver.tensor.WeightFileException;
import org.flserver.tensor.pytorch.PicklePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Two steps of every server optimizer against src/test/resources/robust/optimizer/optimizer.json
 * (computed by make_robust_fixtures.py in float64 with the global model rounded to its dtype
 * between the steps): the globals and the state vectors equal, bit for bit. Each step runs on a
 * new {@link ServerOptimizer} that knows only the files, as after a restart of the server.
 */
class ServerOptimizerTest {

    @TempDir
    Path tmp;

    private static final Path ROOT = RobustAggregationFixturesTest.root();

    @Test
    void twoStepsOfEveryOptimizerEqualTheIndependentComputation() throws IOException {
        JsonObject spec = Fixtures.json(ROOT.resolve("optimizer").resolve("optimizer.json"));
        int cases = 0;
        for (JsonValue v : spec.getJsonArray("cases")) {
            JsonObject c = v.asJsonObject();
            String name = c.getString("optimizer");
            OptimizerSettings settings = OptimizerSettings.of(name, num(c, "lr"), num(c, "beta1"), num(c, "beta2"),
                    num(c, "tau"));
            Path folder = ROOT.resolve(c.getString("set"));
            JsonArray files = Fixtures.json(folder.resolve("expected.json")).getJsonArray("files");
            Path global = ROOT.resolve("dp").resolve(c.getString("global"));
            Path state = null;
            int step = 0;
            for (JsonValue s : c.getJsonArray("steps")) {
                JsonObject st = s.asJsonObject();
                Path aggregate = folder.resolve(files.getString(st.getInt("aggregate")));
                Path out = tmp.resolve(cases + "-" + name + "-global" + step + suffix(global));
                Path stateOut = tmp.resolve(cases + "-" + name + "-state" + step);
                ServerOptimizer.Step r = new ServerOptimizer(settings, 2, 5, PicklePolicy.standard())
                        .step(global, aggregate, state, out, stateOut);
                assertEquals(name.equals("sgd") ? 1 : step + 1, r.steps()); // sgd keeps no state to count in
                String what = c.getString("set") + " " + name + " step " + step;
                for (Map.Entry<String, JsonValue> e : st.getJsonObject("values").entrySet()) {
                    double[] got = StorageValues.of(out, e.getKey());
                    JsonArray want = e.getValue().asJsonArray();
                    for (int j = 0; j < got.length; j++) {
                        JsonValue w = want.get(j);
                        double x = w == JsonValue.TRUE ? 1 : w == JsonValue.FALSE ? 0 : ((JsonNumber) w).doubleValue();
                        if (x != got[j]) {
                            fail(what + " " + e.getKey() + "[" + j + "]: expected " + x + ", got " + got[j]);
                        }
                    }
                }
                if (name.equals("sgd")) {
                    assertNull(r.state());
                    assertTrue(Files.notExists(stateOut));
                } else {
                    checkState(stateOut, st, name.equals("momentum") ? 1 : 2, step + 1, what);
                }
                global = out;
                state = r.state();
                step++;
            }
            cases++;
        }
        assertEquals(6, cases);
    }

    private static void checkState(Path file, JsonObject st, int vectors, long steps, String what) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("FLOPTST1", new String(b.array(), 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt(8));
        assertEquals(vectors, b.getInt(12));
        assertEquals(steps, b.getLong(16));
        JsonArray m = st.getJsonArray("m");
        assertEquals(m.size(), b.getLong(24));
        assertEquals(64 + 8L * vectors * m.size(), b.capacity());
        for (int j = 0; j < m.size(); j++) {
            assertEquals(m.getJsonNumber(j).doubleValue(), b.getDouble(64 + j * vectors * 8), 0, what + " m[" + j + "]");
            if (vectors == 2) {
                assertEquals(st.getJsonArray("v").getJsonNumber(j).doubleValue(), b.getDouble(64 + j * 16 + 8), 0,
                        what + " v[" + j + "]");
            }
        }
    }

    @Test
    void stateOfAnotherModelOrOptimizerIsRefused() throws IOException {
        Path mlpGlobal = ROOT.resolve("dp").resolve("global.mlp.state_dict.pt");
        Path mlpAgg = ROOT.resolve("mlp").resolve("client01.state_dict.pt");
        Path adamState = tmp.resolve("adam.state");
        new ServerOptimizer(OptimizerSettings.of("adam", null, null, null, null))
                .step(mlpGlobal, mlpAgg, null, tmp.resolve("g1.pt"), adamState);
        WeightFileException e = assertThrows(WeightFileException.class,
                () -> new ServerOptimizer(OptimizerSettings.of("momentum", null, null, null, null))
                        .step(mlpGlobal, mlpAgg, adamState, tmp.resolve("g2.pt"), tmp.resolve("m.state")));
        assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
        Path dtGlobal = ROOT.resolve("dp").resolve("global.dtypes.safetensors");
        Path dtAgg = ROOT.resolve("dtypes").resolve("client01.safetensors");
        assertThrows(WeightFileException.class, () -> new ServerOptimizer(OptimizerSettings.of("adam", null, null, null, null))
                .step(dtGlobal, dtAgg, adamState, tmp.resolve("g3.safetensors"), tmp.resolve("a2.state")));
        assertThrows(WeightFileException.class, () -> new ServerOptimizer(OptimizerSettings.of("adam", null, null, null, null))
                .step(dtGlobal, dtAgg, mlpGlobal, tmp.resolve("g4.safetensors"), tmp.resolve("a3.state")));
        assertTrue(Files.notExists(tmp.resolve("m.state")) && Files.notExists(tmp.resolve("a2.state")));
        try (var left = Files.list(tmp)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "temporary files left");
        }
        assertThrows(IllegalArgumentException.class, () -> OptimizerSettings.of("rmsprop", null, null, null, null));
        assertThrows(IllegalArgumentException.class, () -> OptimizerSettings.of("adam", -1.0, null, null, null));
        assertThrows(IllegalArgumentException.class, () -> OptimizerSettings.of("adam", null, 1.0, null, null));
        assertThrows(IllegalArgumentException.class, () -> OptimizerSettings.of("adam", null, null, null, 0.0));
    }

    private static Double num(JsonObject o, String key) {
        return o.getJsonNumber(key).doubleValue();
    }

    private static String suffix(Path p) {
        return p.getFileName().toString().endsWith(".safetensors") ? ".safetensors" : ".pt";
    }
}
