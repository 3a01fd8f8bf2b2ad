package org.flserver.aggregation;

import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import org.flserver.tensor.Fixtures;
import org.flserver.tensor.pytorch.PicklePolicy;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The robust rules against numpy: every rule on the first N = 1..12 clients of each set of
 * src/test/resources/robust (written by src/test/python/robust_aggregation/make_robust_fixtures.py,
 * which computes the expected values with numpy in float64) gives exactly the expected values,
 * Krum's scores within 1e-9 relative (numpy sums the distances in another order) and its selection
 * exactly, ties included; the trimmed counts of the report match. Each case runs with the default
 * settings and with tiny blocks on two threads (storages cut into many blocks).
 */
class RobustAggregationFixturesTest {

    private static final List<String> SETS = List.of("mlp", "cnn_bn", "tied", "dtypes", "ties");

    @TempDir
    Path tmp;

    static Path root() {
        return Fixtures.root().getParent().resolve("robust");
    }

    @TestFactory
    Stream<DynamicTest> everyRuleEveryNMatchesNumpy() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String set : SETS) {
            Path folder = root().resolve(set);
            JsonObject spec = Fixtures.json(folder.resolve("expected.json"));
            for (JsonValue r : spec.getJsonArray("runs")) {
                JsonObject run = r.asJsonObject();
                int n = run.getInt("n");
                tests.add(DynamicTest.dynamicTest(set + " N=" + n, () -> {
                    List<WeightedFile> clients = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        clients.add(new WeightedFile(folder.resolve(spec.getJsonArray("files").getString(i)),
                                spec.getJsonArray("sample_sizes").getInt(i)));
                    }
                    for (JsonValue c : run.getJsonArray("cases")) {
                        check(set, clients, c.asJsonObject());
                    }
                }));
            }
        }
        assertEquals(60, tests.size());
        return tests.stream();
    }

    private void check(String set, List<WeightedFile> clients, JsonObject c) throws IOException {
        AggregationRule rule = switch (c.getString("rule")) {
            case "median" -> AggregationRule.median();
            case "trimmed_mean" -> AggregationRule.trimmedMean(c.getJsonNumber("trim_fraction").doubleValue());
            case "krum" -> AggregationRule.krum(c.getInt("byzantine"));
            default -> AggregationRule.multiKrum(c.getInt("byzantine"), c.getInt("select"));
        };
        String what = set + " N=" + clients.size() + " " + rule;
        for (RobustAggregation agg : List.of(new RobustAggregation(),
                new RobustAggregation(2, 5, PicklePolicy.standard()))) {
            Path out = tmp.resolve("out" + clients.get(0).path().getFileName().toString().replace("client00", ""));
            AggregationReport report = agg.aggregate(rule, clients, clients.get(0).path(), out);
            for (Map.Entry<String, JsonValue> e : c.getJsonObject("values").entrySet()) {
                JsonArray expected = e.getValue().asJsonArray();
                double[] actual = StorageValues.of(out, e.getKey());
                assertEquals(expected.size(), actual.length, what + " " + e.getKey());
                for (int j = 0; j < actual.length; j++) {
                    JsonValue ev = expected.get(j);
                    double want = ev == JsonValue.TRUE ? 1 : ev == JsonValue.FALSE ? 0 : ((JsonNumber) ev).doubleValue();
                    if (want != actual[j]) {
                        fail(what + " " + e.getKey() + "[" + j + "]: expected " + want + ", got " + actual[j]);
                    }
                }
            }
            if (c.containsKey("scores")) {
                JsonArray scores = c.getJsonArray("scores");
                for (int i = 0; i < clients.size(); i++) {
                    double want = scores.getJsonNumber(i).doubleValue();
                    double got = report.clients().get(i).krumScore();
                    assertEquals(want, got, Math.abs(want) * 1e-9, what + " score of client " + i);
                }
                List<Integer> selected = new ArrayList<>();
                for (int i = 0; i < clients.size(); i++) {
                    if (report.clients().get(i).selected()) {
                        selected.add(i);
                    }
                }
                assertEquals(Fixtures.longs(c.getJsonArray("selected")).stream().map(Long::intValue).toList(),
                        selected, what + " selection");
            }
            if (c.containsKey("trimmed_low")) {
                for (int i = 0; i < clients.size(); i++) {
                    assertEquals(c.getJsonArray("trimmed_low").getInt(i), report.clients().get(i).trimmedLow(),
                            what + " trimmed low of " + i);
                    assertEquals(c.getJsonArray("trimmed_high").getInt(i), report.clients().get(i).trimmedHigh(),
                            what + " trimmed high of " + i);
                }
                assertEquals((int) Math.floor(rule.trimFraction() * clients.size()), report.trimmedPerSide());
            }
        }
    }

    /** Every rule refuses each update with a NaN or an infinity, naming file and tensor, and writes nothing. */
    @TestFactory
    Stream<DynamicTest> nonFiniteUpdatesAreRefusedByEveryRule() {
        JsonObject spec = Fixtures.json(root().resolve("nonfinite").resolve("nonfinite.json"));
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonValue v : spec.getJsonArray("cases")) {
            JsonObject c = v.asJsonObject();
            for (AggregationRule rule : List.of(AggregationRule.mean(), AggregationRule.median(),
                    AggregationRule.trimmedMean(0.2), AggregationRule.krum(1), AggregationRule.multiKrum(1, 3))) {
                tests.add(DynamicTest.dynamicTest(c.getString("file") + " " + rule.name().label(), () -> {
                    Path folder = root().resolve(c.getString("set"));
                    JsonObject set = Fixtures.json(folder.resolve("expected.json"));
                    List<WeightedFile> clients = new ArrayList<>();
                    for (int i = 0; i < 6; i++) {
                        clients.add(new WeightedFile(folder.resolve(set.getJsonArray("files").getString(i)), 1 + i));
                    }
                    Path bad = root().resolve("nonfinite").resolve(c.getString("file"));
                    clients.set(3, new WeightedFile(bad, 0)); // weight 0: refused all the same
                    Path out = tmp.resolve("refused.out");
                    NonFiniteUpdateException e = assertThrows(NonFiniteUpdateException.class,
                            () -> new RobustAggregation().aggregate(rule, clients, clients.get(0).path(), out));
                    assertEquals(bad, e.file());
                    assertEquals(c.getString("tensor"), e.tensor());
                    assertTrue(e.getMessage().contains(c.getString("file")) && e.getMessage().contains(c.getString("tensor"))
                            && e.getMessage().contains(c.getString("value")), e.getMessage());
                    assertFalse(Files.exists(out));
                    try (Stream<Path> left = Files.list(tmp)) {
                        assertEquals(List.of(), left.toList(), "temporary files left behind");
                    }
                }));
            }
        }
        return tests.stream();
    }

    @Test
    void rulesThatDoNotFitNAreRefusedBeforeReading() {
        Path f = root().resolve("mlp").resolve("client00.state_dict.pt");
        List<WeightedFile> four = List.of(new WeightedFile(f, 1), new WeightedFile(f, 1), new WeightedFile(f, 1),
                new WeightedFile(f, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RobustAggregation().aggregate(AggregationRule.krum(1), four, f, tmp.resolve("o")));
        assertTrue(e.getMessage().contains("more than 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new RobustAggregation().aggregate(AggregationRule.multiKrum(0, 5), four, f, tmp.resolve("o")));
        assertThrows(IllegalArgumentException.class, () -> AggregationRule.trimmedMean(0.5));
        assertThrows(IllegalArgumentException.class, () -> AggregationRule.trimmedMean(-0.1));
        assertThrows(IllegalArgumentException.class, () -> AggregationRule.krum(-1));
        assertThrows(IllegalArgumentException.class, () -> AggregationRule.Name.of("mode"));
        assertFalse(Files.exists(tmp.resolve("o")));
    }
}
