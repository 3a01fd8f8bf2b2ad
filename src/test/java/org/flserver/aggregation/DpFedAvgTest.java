package org.flserver.aggregation;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.flserver.tensor.Fixtures;
import org.flserver.tensor.pytorch.PicklePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Central DP-FedAvg and the RDP accountant against src/test/resources/robust/dp, computed by
 * make_robust_fixtures.py independently: the noise by the documented SplitMix64/Box–Muller rule in
 * Python, the clipping and the average in float64, ε with 50-digit decimal arithmetic. Python's
 * libm and Java's StrictMath may differ in the last bit of log and cos, so noised values may differ
 * by one unit in the last place of their dtype; without noise (z = 0) they must be equal.
 */
class DpFedAvgTest {

    @TempDir
    Path tmp;

    private static final Path DP = RobustAggregationFixturesTest.root().resolve("dp");

    @Test
    void noisedGlobalsEqualTheIndependentComputation() throws IOException {
        JsonObject spec = Fixtures.json(DP.resolve("dp.json"));
        int checked = 0;
        for (JsonValue v : spec.getJsonArray("cases")) {
            JsonObject c = v.asJsonObject();
            Path folder = RobustAggregationFixturesTest.root().resolve(c.getString("set"));
            JsonObject set = Fixtures.json(folder.resolve("expected.json"));
            List<WeightedFile> clients = new ArrayList<>();
            for (JsonValue i : c.getJsonArray("clients")) {
                int k = ((JsonNumber) i).intValue();
                clients.add(new WeightedFile(folder.resolve(set.getJsonArray("files").getString(k)),
                        set.getJsonArray("sample_sizes").getInt(k)));
            }
            double z = c.getJsonNumber("noise_multiplier").doubleValue();
            DpSettings dp = new DpSettings(c.getJsonNumber("clip_norm").doubleValue(), z,
                    c.getJsonNumber("seed").longValue());
            GaussianNoise noise = new GaussianNoise(dp.seed(), c.getInt("round"));
            JsonArray first = c.getJsonArray("noise_first");
            for (int i = 0; i < first.size(); i++) {
                double want = first.getJsonNumber(i).doubleValue();
                assertEquals(want, noise.noise(i), 4 * Math.ulp(want), "noise " + i);
            }
            for (RobustAggregation agg : List.of(new RobustAggregation(), new RobustAggregation(2, 3, PicklePolicy.standard()))) {
                Path out = tmp.resolve("dp" + checked++ + clients.get(0).path().getFileName());
                AggregationReport r = agg.dpFedAvg(dp, c.getInt("round"), clients, DP.resolve(c.getString("global")), out);
                assertEquals(c.getJsonNumber("noise_stddev").doubleValue(), r.noiseStddev(), 1e-15);
                for (int i = 0; i < clients.size(); i++) {
                    double norm = c.getJsonArray("norms").getJsonNumber(i).doubleValue();
                    assertEquals(norm, r.clients().get(i).deltaNorm(), norm * 1e-12);
                    double f = c.getJsonArray("factors").getJsonNumber(i).doubleValue();
                    assertEquals(f, r.clients().get(i).clipFactor(), f * 1e-12);
                }
                for (Map.Entry<String, JsonValue> e : c.getJsonObject("values").entrySet()) {
                    double[] got = StorageValues.of(out, e.getKey());
                    JsonArray want = e.getValue().asJsonArray();
                    assertEquals(want.size(), got.length);
                    for (int j = 0; j < got.length; j++) {
                        JsonValue w = want.get(j);
                        double x = w == JsonValue.TRUE ? 1 : w == JsonValue.FALSE ? 0 : ((JsonNumber) w).doubleValue();
                        double tolerance = z == 0 ? 0 : ulpOfStored(out, e.getKey(), x);
                        if (Math.abs(x - got[j]) > tolerance) {
                            fail(c.getString("set") + " z=" + z + " " + e.getKey() + "[" + j + "]: expected " + x
                                    + ", got " + got[j]);
                        }
                    }
                }
            }
        }
        assertEquals(8, checked);
    }

    /** One unit in the last place of x in the dtype of the named tensor's storage. */
    private static double ulpOfStored(Path file, String tensor, double x) throws IOException {
        var f = org.flserver.tensor.WeightFiles.open(file);
        var t = f.tensors().stream().filter(i -> i.name().equals(tensor)).findFirst().orElseThrow();
        return switch (t.dtype()) {
            case FLOAT64 -> Math.ulp(x);
            case FLOAT32 -> Math.ulp((float) x);
            case FLOAT16 -> Math.ulp((float) x) * (1 << 13);
            case BFLOAT16 -> Math.ulp((float) x) * (1 << 16);
            default -> 0;
        };
    }

    @Test
    void epsilonEqualsTheIndependentAccountant() {
        JsonObject spec = Fixtures.json(DP.resolve("rdp.json"));
        for (JsonValue v : spec.getJsonArray("cases")) {
            JsonObject c = v.asJsonObject();
            RdpAccountant.Epsilon e = RdpAccountant.epsilon(c.getJsonNumber("q").doubleValue(),
                    c.getJsonNumber("z").doubleValue(), c.getJsonNumber("rounds").longValue(),
                    c.getJsonNumber("delta").doubleValue());
            double want = c.getJsonNumber("epsilon").doubleValue();
            assertEquals(want, e.epsilon(), want * 1e-9, c.toString());
            assertEquals(c.getInt("order"), e.order(), c.toString());
        }
        assertEquals(0, RdpAccountant.epsilon(0.5, 1, 0, 1e-5).epsilon());
        assertEquals(Double.POSITIVE_INFINITY, RdpAccountant.epsilon(1, 0, 3, 1e-5).epsilon());
        // Sampling at q = 1 through the general formula gives the closed form.
        assertEquals(RdpAccountant.rdp(1, 1.3, 7), 7 / (2 * 1.3 * 1.3), 1e-15);
    }

    @Test
    void seedAndRoundKeyTheNoiseAndSettingsAreChecked() throws IOException {
        assertNotEquals(new GaussianNoise(1, 0).noise(0), new GaussianNoise(1, 1).noise(0));
        assertNotEquals(new GaussianNoise(1, 0).noise(0), new GaussianNoise(2, 0).noise(0));
        assertThrows(IllegalArgumentException.class, () -> new DpSettings(0, 1, null));
        assertThrows(IllegalArgumentException.class, () -> new DpSettings(1, -1, null));
        assertThrows(IllegalArgumentException.class, () -> new DpSettings(1, 1, null, 1));
        Path folder = RobustAggregationFixturesTest.root().resolve("mlp");
        Path bad = RobustAggregationFixturesTest.root().resolve("nonfinite").resolve("posinf.state_dict.pt");
        Path out = tmp.resolve("x.pt");
        NonFiniteUpdateException e = assertThrows(NonFiniteUpdateException.class, () -> new RobustAggregation()
                .dpFedAvg(new DpSettings(1, 1, 5L), 0, List.of(new WeightedFile(folder.resolve("client00.state_dict.pt"), 1),
                        new WeightedFile(bad, 1)), folder.resolve("client01.state_dict.pt"), out));
        assertTrue(e.getMessage().contains("net.4.bias"), e.getMessage());
        assertTrue(Files.notExists(out));
    }
}
